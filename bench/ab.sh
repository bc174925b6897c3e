#!/usr/bin/env bash
# Two tessera binaries side by side (or one against itself): the list, the expanded list
# and the expanded list with only the zoo's name (name indexed), as in bench/run.sh, in
# alternating rounds on ONE seeded store, with each process's CPU per request.
#
#   bench/ab.sh sqlite|postgres path/to/tessera-A path/to/tessera-B [ROUNDS [SECONDS]]
#
# Seeds the zoo (through binary A, as bench/run.sh does, then the index on name) into a
# fresh SQLite data dir or a new Postgres schema, then per round starts A, runs wrk (-t2
# -c32, 3 s warm-up, SECONDS [8] per request) on the three requests, stops it, and does the
# same with B; every other round B goes first and the requests run in reverse order, so a
# host that speeds up or slows down during a round favours neither binary nor request. For each run it prints
# requests/s and the CPU time per request of the tessera process, of the Postgres backends
# (none on SQLite) and of wrk (user + system, from /proc and time(1)); at the end, per
# binary, the medians and the median over the rounds of each round's expand / list ratio.
# CPU per request moves much less with the machine's noise than requests/s do. The data
# dir or schema is removed at the end.
#
# Environment: BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/test], BENCH_ANIMALS
# [100000], BENCH_ZOOS [100].
set -euo pipefail

usage() { echo "usage: bench/ab.sh sqlite|postgres tessera-A tessera-B [ROUNDS [SECONDS]]" >&2; exit 2; }
[ $# -ge 3 ] || usage
STORE="$1"
case "$STORE" in sqlite | postgres) ;; *) usage ;; esac
BIN_A="$(realpath "$2")"
BIN_B="$(realpath "$3")"
ROUNDS="${4:-3}"
SECONDS_EACH="${5:-8}"
BENCH="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/server.sh
source "$BENCH/lib/server.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-ab.XXXXXX")"
SCHEMA="tessera_ab_$$"
SERVER_PID=""
command -v wrk >/dev/null || { echo "ab: needs wrk (apt-get install -y wrk)" >&2; exit 1; }

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  [ "$STORE" = postgres ] && psql "$PG_URL" -qAt -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

STORE_ARGS=(--data-dir "$WORK/data")
[ "$STORE" = postgres ] && STORE_ARGS=(--database-url "$(schema_url "$PG_URL" "$SCHEMA")")

start_server() {
  "$1" serve --addr "127.0.0.1:$PORT" "${STORE_ARGS[@]}" >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_healthy "ab: $1" "$WORK/server.log"
}
stop_server() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

SEED_PG_URL=""
if [ "$STORE" = postgres ]; then
  psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $SCHEMA" >/dev/null
  SEED_PG_URL="$PG_URL"
fi
start_server "$BIN_A"
echo "ab: seeding $ZOOS zoos and $ANIMALS animals ($STORE)" >&2
# shellcheck source=lib/seed_zoo.sh
source "$BENCH/lib/seed_zoo.sh"
seed_zoo "$BASE" "$TESSERA_ADMIN_EMAIL" "$TESSERA_ADMIN_PASSWORD" "$WORK" "$ANIMALS" "$ZOOS" "$SEED_PG_URL" "$SCHEMA"
stop_server

# user + system clock ticks of the given processes.
ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
# The Postgres backends serving this schema's server (it connects with its own options).
backends() {
  [ "$STORE" = postgres ] || return 0
  psql "$PG_URL" -qAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name = '' AND datname = current_database()" 2>/dev/null || true
}

LIST='/api/tables/animals/rows?filter=age%20%3E%2050&sort=name&limit=20'
HZ="$(getconf CLK_TCK)"
echo "ab: $ROUNDS rounds, wrk -t2 -c32 -d${SECONDS_EACH}s; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
  labels="A B"
  [ $((round % 2)) = 0 ] && labels="B A"
  for label in $labels; do
    bin="$BIN_A"
    [ "$label" = B ] && bin="$BIN_B"
    start_server "$bin"
    wrk -t2 -c32 -d3s "$BASE$LIST" >/dev/null
    ops="list expand expand-name"
    [ $((round % 2)) = 0 ] && ops="expand-name expand list"
    for op in $ops; do
      path="$LIST"
      [ "$op" = expand ] && path="$LIST&expand=zoo"
      [ "$op" = expand-name ] && path="$LIST&expand=zoo&fields=zoo.name"
      pids="$(backends)"
      # shellcheck disable=SC2086
      t0="$(ticks "$SERVER_PID")" p0="$(ticks $pids)"
      out="$( { /usr/bin/time -f 'CPU %U %S' wrk -t2 -c32 -d"${SECONDS_EACH}s" "$BASE$path"; } 2>&1)"
      # shellcheck disable=SC2086
      t1="$(ticks "$SERVER_PID")" p1="$(ticks $pids)"
      requests="$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')"
      wrk_cpu="$(echo "$out" | sed -n 's/^CPU \(.*\) \(.*\)/\1 \2/p')"
      echo "$round $label $op $requests $((t1 - t0)) $((p1 - p0)) $wrk_cpu" >>"$WORK/runs.txt"
    done
    stop_server
  done
done

python3 - "$WORK/runs.txt" "$SECONDS_EACH" "$HZ" "$BIN_A" "$BIN_B" <<'PY'
import statistics, sys
path, seconds, hz, bin_a, bin_b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
runs = {}
print("| round | binary | request | req/s | tessera µs/req | Postgres µs/req | wrk µs/req | all µs/req |")
print("|---:|---|---|---:|---:|---:|---:|---:|")
for line in open(path):
    round_, label, op, requests, server, backends, wrk_user, wrk_sys = line.split()
    n = int(requests)
    cpu = [int(server) / hz * 1e6 / n, int(backends) / hz * 1e6 / n, (float(wrk_user) + float(wrk_sys)) * 1e6 / n]
    runs.setdefault((label, op), []).append((n / seconds, cpu))
    print(f"| {round_} | {label} | {op} | {n / seconds:,.0f} | {cpu[0]:.0f} | {cpu[1]:.0f} | {cpu[2]:.0f} | {sum(cpu):.0f} |")
print()
print(f"A = {bin_a}, B = {bin_b}; medians over the rounds:")
print()
print("| binary | request | req/s | all CPU µs/req | req/s vs list | per round: req/s vs list (median) | CPU of list / CPU of request |")
print("|---|---|---:|---:|---:|---:|---:|")
for label in ("A", "B"):
    med = {op: (statistics.median(r for r, _ in runs[(label, op)]), statistics.median(sum(c) for _, c in runs[(label, op)]))
           for op in ("list", "expand", "expand-name")}
    for op, (rps, cpu) in med.items():
        # Each round's ratio against the list of the same round, then their median.
        ratios = [r / l for (r, _), (l, _) in zip(runs[(label, op)], runs[(label, "list")])]
        print(f"| {label} | {op} | {rps:,.0f} | {cpu:.0f} | {rps / med['list'][0]:.1%} | {statistics.median(ratios):.1%} | {med['list'][1] / cpu:.1%} |")
PY
echo "ab: load average after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
