# Sourced by the bench scripts that start a tessera of their own (bench/ab.sh,
# bench/expand_sql.sh, bench/server_instructions.sh): the zoo workload's settings from the
# environment, a first admin for the server, a free port and a wait for the server.
#
# Sets PG_URL, ANIMALS, ZOOS, PORT and BASE, and exports TESSERA_ADMIN_EMAIL and
# TESSERA_ADMIN_PASSWORD (the server creates that admin on its first start).

PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
ANIMALS="${BENCH_ANIMALS:-100000}"
ZOOS="${BENCH_ZOOS:-100}"
export TESSERA_ADMIN_EMAIL=bench-admin@example.com
TESSERA_ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
export TESSERA_ADMIN_PASSWORD
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

# schema_url URL SCHEMA: URL with the connection option that puts SCHEMA on the search path.
schema_url() {
  local sep="?"
  case "$1" in *\?*) sep="&" ;; esac
  echo "$1${sep}options=-csearch_path%3D$2"
}

# wait_healthy WHO LOG: until $BASE/health answers (60 s at most), else exits naming LOG.
wait_healthy() {
  for _ in $(seq 1 600); do curl -sf "$BASE/health" >/dev/null && return 0; sleep 0.1; done
  echo "$1: the server did not start (log: $2)" >&2
  exit 1
}
