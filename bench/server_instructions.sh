#!/usr/bin/env bash
# Instructions a SQLite tessera server executes per request, counted by valgrind's
# callgrind: a figure that does not move with the host's load, where requests/s on a
# shared 2-core machine moved by 30% between runs (BENCHMARKS.md, issue 4).
#
#   bench/server_instructions.sh path/to/tessera [REQUESTS]
#
# Seeds the zoo schema into a fresh SQLite data dir through the given binary (as
# bench/run.sh does, then the index on name), restarts the server under callgrind, warms
# each request up, and for each one below zeroes the counters, sends REQUESTS (default 300)
# identical requests on one keep-alive connection and dumps the counters. Prints each
# request's instructions per request and the plain list's share of it (the list's
# instructions / the request's: a requests/s ratio if the server's CPU were all the cost).
# The whole server process is counted — HTTP, SQL writing, SQLite's own work and JSON —
# and nothing of the client. SQLite only: on Postgres most of the work is in another process.
#
#   list         GET animals?filter=age > 50&sort=name&limit=20 (the zoo benchmark's list)
#   expand       the same with expand=zoo (each animal's whole zoo)
#   expand-name  the same with expand=zoo&fields=zoo.name (only each zoo's name, as
#                WORKLOAD.md words the operation)
#
# Environment: BENCH_ANIMALS [100000], BENCH_ZOOS [100], BENCH_CALLGRIND_DIR [unset]: a
# directory to copy the callgrind dumps into (one per request; read them with
# callgrind_annotate to see where the instructions go).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: bench/server_instructions.sh path/to/tessera [REQUESTS]" >&2; exit 2; }
TESSERA="$(realpath "$1")"
REQUESTS="${2:-300}"
BENCH="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/server.sh
source "$BENCH/lib/server.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-instructions.XXXXXX")"
SERVER_PID=""
command -v valgrind >/dev/null || { echo "server_instructions: needs valgrind (apt-get install valgrind)" >&2; exit 2; }

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  if [ -n "${BENCH_CALLGRIND_DIR:-}" ]; then
    mkdir -p "$BENCH_CALLGRIND_DIR" && cp "$WORK"/callgrind.out.* "$BENCH_CALLGRIND_DIR"/ 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$TESSERA" serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/seed-server.log" 2>&1 &
SERVER_PID=$!
wait_healthy server_instructions "$WORK/seed-server.log"
echo "server_instructions: seeding $ZOOS zoos and $ANIMALS animals" >&2
# shellcheck source=lib/seed_zoo.sh
source "$BENCH/lib/seed_zoo.sh"
seed_zoo "$BASE" "$TESSERA_ADMIN_EMAIL" "$TESSERA_ADMIN_PASSWORD" "$WORK" "$ANIMALS" "$ZOOS" "" ""
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true

echo "server_instructions: restarting the server under callgrind" >&2
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
  "$TESSERA" serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_healthy server_instructions "$WORK/server.log"

python3 - "$BASE" "$REQUESTS" "$SERVER_PID" "$WORK" <<'PY'
import glob, http.client, subprocess, sys, urllib.parse
base, requests, pid, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host = urllib.parse.urlparse(base).netloc
LIST = "/api/tables/animals/rows?filter=age%20%3E%2050&sort=name&limit=20"
PATHS = [("list", LIST), ("expand", LIST + "&expand=zoo"), ("expand-name", LIST + "&expand=zoo&fields=zoo.name")]

def send(path, n):
    conn = http.client.HTTPConnection(host)
    size = 0
    for _ in range(n):
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"server_instructions: {path} answered {response.status}: {body[:200]!r}")
        size = len(body)
    conn.close()
    return size

def callgrind(*args):
    subprocess.run(["callgrind_control", *args, pid], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def dumped_total(name):
    for path in glob.glob(f"{work}/callgrind.out*"):
        text = open(path, errors="replace").read()
        if f"Trigger: Client Request: {name}\n" in text or f"dump {name}\n" in text:
            for line in text.splitlines():
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1])
    sys.exit(f"server_instructions: no callgrind dump named {name}")

results = {}
for name, path in PATHS:
    send(path, 20)  # warm: statements prepared, pages cached
for name, path in PATHS:
    callgrind("-z")
    size = send(path, requests)
    callgrind("-d", name)
    results[name] = (dumped_total(name) / requests, size)

print(f"| request | instructions per request | response bytes | list's instructions / this |")
print("|---|---:|---:|---:|")
base_instr = results["list"][0]
for name, (instr, size) in results.items():
    print(f"| {name} | {instr:,.0f} | {size:,} | {100 * base_instr / instr:.1f}% |")
PY
