#!/usr/bin/env bash
# Upload and download throughput of 1 MiB files through the real server (SQLite, local
# file storage): N uploads and N downloads with curl, sequential and with C in parallel.
#   bench/files.sh [path/to/tessera] [N=200] [C=4]
# Prints requests/s and MiB/s for each phase. Needs curl and python3.
set -euo pipefail
BIN="${1:-target/release/tessera}"
N="${2:-200}"
C="${3:-4}"
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

TESSERA_LOG=warn "$BIN" serve --data-dir "$WORK/data" --addr "127.0.0.1:$PORT" \
  --admin-email bench@files.test --admin-password bench-password-1 >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
TOKEN="$(curl -sf -X POST "$BASE/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@files.test","password":"bench-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
curl -sf -X POST "$BASE/api/tables" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"name":"blobs","fields":{"f":{"type":"file","max_size":2097152}}}' >/dev/null
head -c 1048576 /dev/urandom >"$WORK/one.bin"
export BASE TOKEN WORK

upload() { curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -F "f=@$WORK/one.bin" "$BASE/api/tables/blobs/rows"; }
export -f upload
report() { # phase seconds count
  python3 -c "import sys; p,s,n=sys.argv[1],float(sys.argv[2]),int(sys.argv[3]); print(f'{p:<28} {n} x 1 MiB in {s:.2f} s: {n/s:.1f} req/s, {n/s:.1f} MiB/s')" "$@"
}
now() { python3 -c 'import time; print(time.time())'; }

start=$(now); for _ in $(seq 1 "$N"); do upload; done; end=$(now)
report "upload, sequential" "$(python3 -c "print($end-$start)")" "$N"
start=$(now); seq 1 "$N" | xargs -P "$C" -I{} bash -c upload; end=$(now)
report "upload, $C in parallel" "$(python3 -c "print($end-$start)")" "$N"

ROW="$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/tables/blobs/rows/1")"
NAME="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["f"])' "$ROW")"
URL="$BASE/api/files/blobs/1/f/$NAME"
export URL
download() { curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL"; }
export -f download
start=$(now); for _ in $(seq 1 "$N"); do download; done; end=$(now)
report "download, sequential" "$(python3 -c "print($end-$start)")" "$N"
start=$(now); seq 1 "$N" | xargs -P "$C" -I{} bash -c download; end=$(now)
report "download, $C in parallel" "$(python3 -c "print($end-$start)")" "$N"
