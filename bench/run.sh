#!/usr/bin/env bash
# The zoo benchmark (see /BENCHMARKS.md and shared/WORKLOAD.md).
#
#   bench/run.sh sqlite [--quick]
#   bench/run.sh postgres [--quick]
#
# Builds tessera and the raw driver ceiling (release), measures cold start, starts tessera
# on a free loopback port with a fresh store (SQLite: a new data dir; Postgres: a new
# schema, dropped at the end) with a first admin from the environment, logs the admin in,
# creates the zoo schema and seeds it through the NDJSON bulk path with the admin's token,
# registers an ordinary user (access token + `tsk_` API token), then for each operation
# runs the raw driver ceiling and wrk (reads anonymous and with tokens, creates with the
# user's token; GraphQL queries as `POST /graphql`, checked against REST's answers and
# against the ceiling of their own statement), and last measures logins/s. Prints a
# markdown report and writes it to bench/results/<store>-<date>.md (<store>-<date>-quick.md
# with --quick).
#
# Environment (defaults in brackets; --quick shortens the durations):
#   BENCH_DURATION [20]  BENCH_WARMUP [5]  BENCH_CEILING_SECONDS [10]  BENCH_COLD_STARTS [5]
#   BENCH_THREADS [2]  BENCH_CONNECTIONS [32]  BENCH_LOGIN_DURATION [10]  BENCH_LOGIN_WARMUP [2]
#   BENCH_ANIMALS [100000]  BENCH_ZOOS [100]  BENCH_CHUNK [10000]
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/test]
#   BENCH_KEEP_WORK [0]: 1 keeps the work directory (server log, wrk outputs) after a good run
set -euo pipefail

usage() {
  echo "usage: bench/run.sh <sqlite|postgres> [--quick]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
STORE="$1"
shift
case "$STORE" in sqlite | postgres) ;; *) usage ;; esac
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    *) usage ;;
  esac
done

if [ "$QUICK" = 1 ]; then
  DURATION="${BENCH_DURATION:-3}"
  WARMUP="${BENCH_WARMUP:-1}"
  CEILING_SECONDS="${BENCH_CEILING_SECONDS:-2}"
  COLD_STARTS="${BENCH_COLD_STARTS:-3}"
  LOGIN_DURATION="${BENCH_LOGIN_DURATION:-3}"
  LOGIN_WARMUP="${BENCH_LOGIN_WARMUP:-1}"
else
  DURATION="${BENCH_DURATION:-20}"
  WARMUP="${BENCH_WARMUP:-5}"
  CEILING_SECONDS="${BENCH_CEILING_SECONDS:-10}"
  COLD_STARTS="${BENCH_COLD_STARTS:-5}"
  LOGIN_DURATION="${BENCH_LOGIN_DURATION:-10}"
  LOGIN_WARMUP="${BENCH_LOGIN_WARMUP:-2}"
fi
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
ANIMALS="${BENCH_ANIMALS:-100000}"
ZOOS="${BENCH_ZOOS:-100}"
CHUNK="${BENCH_CHUNK:-10000}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/bench"
LIB="$BENCH/lib"
LUA="$BENCH/lua/zoo.lua"

# The server must run with its defaults (4 SQLite readers, 16 Postgres connections, ...).
unset DATABASE_URL PORT TESSERA_ADDR TESSERA_DATA_DIR TESSERA_SQLITE_READERS TESSERA_PG_POOL_SIZE \
  TESSERA_MAX_BODY_BYTES TESSERA_LOG TESSERA_CORS_ORIGINS TESSERA_JWT_SECRET TESSERA_ACCESS_TOKEN_TTL \
  TESSERA_REFRESH_TOKEN_TTL TESSERA_LOGIN_ATTEMPTS_PER_ACCOUNT TESSERA_LOGIN_ATTEMPTS_PER_ADDRESS \
  TESSERA_ADMIN_EMAIL TESSERA_ADMIN_PASSWORD

# Auth settings of every server the run starts, except the admin: access tokens that
# outlive the run (default 900 s) and login limits no benchmark reaches (defaults 10 per
# account and 100 per address a minute), so that logins/s measures the login itself.
export TESSERA_ACCESS_TOKEN_TTL=86400
export TESSERA_LOGIN_ATTEMPTS_PER_ACCOUNT=100000000
export TESSERA_LOGIN_ATTEMPTS_PER_ADDRESS=100000000
# The first admin (created by the server it is given to) and the ordinary user the writes
# and token reads run as. Throwaway stores, so throwaway passwords.
ADMIN_EMAIL="bench-admin@example.com"
ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
USER_EMAIL="bench-user@example.com"
USER_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"

log() { echo "bench: $*" >&2; }
die() {
  echo "bench: FAILED: $*" >&2
  exit 1
}

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  log "installing wrk (apt)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
  fi
fi
for tool in wrk curl python3 cargo; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if [ "$STORE" = postgres ]; then
  command -v psql >/dev/null || die "psql is required for the Postgres run"
  pg_isready -q -d "$PG_URL" || die "Postgres is not reachable at $PG_URL"
  psql "$PG_URL" -qAt -c 'SELECT 1' >/dev/null || die "cannot connect to $PG_URL"
fi

# ---------------------------------------------------------------- state and cleanup
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")"
KV="$WORK/results.kv"
PG_SCHEMAS=()
LIVE_PID="" # the one server running, stopped on exit
SUCCESS=0

stop_server() {
  local pid="$1" _
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "server $pid did not stop on SIGTERM within 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

stop_live_server() {
  if [ -n "$LIVE_PID" ]; then
    stop_server "$LIVE_PID"
    LIVE_PID=""
  fi
}

cleanup() {
  local schema
  stop_live_server
  for schema in "${PG_SCHEMAS[@]}"; do
    psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 ||
      log "could not drop schema $schema"
  done
  if [ "$SUCCESS" = 1 ] && [ "${BENCH_KEEP_WORK:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    log "work files kept in $WORK (server logs: $WORK/*.log)"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

put() { echo "$1=$2" >>"$KV"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fresh_store: points STORE_ARGS (tessera's arguments) at a fresh store, a new data dir
# (SQLite, DB_FILE) or a new schema (Postgres, SERVER_URL).
SCHEMA_SEQ=0
STORE_ARGS=()
fresh_store() {
  if [ "$STORE" = sqlite ]; then
    local dir
    dir="$(mktemp -d "$WORK/data.XXXXXX")"
    DB_FILE="$dir/tessera.db"
    STORE_ARGS=(--data-dir "$dir")
  else
    SCHEMA_SEQ=$((SCHEMA_SEQ + 1))
    local schema="tessera_bench_$$_$SCHEMA_SEQ" sep="?"
    psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $schema" >/dev/null || die "cannot create schema $schema"
    PG_SCHEMAS+=("$schema")
    case "$PG_URL" in *\?*) sep="&" ;; esac
    SERVER_URL="${PG_URL}${sep}options=-csearch_path%3D${schema}"
    STORE_ARGS=(--database-url "$SERVER_URL")
  fi
}

# start_server LOG [VAR=VALUE...]: starts tessera on a new port with STORE_ARGS and the
# given extra environment; sets PORT, LIVE_PID (the one server running) and START_MS
# (cold start to the first good /health).
start_server() {
  local server_log="$1" out
  shift
  PORT="$(free_port)"
  out="$(env "$@" python3 "$LIB/spawn_wait.py" --port "$PORT" --log "$server_log" --timeout 30 -- \
    "$TESSERA" serve --addr "127.0.0.1:$PORT" "${STORE_ARGS[@]}")" ||
    die "tessera did not start; log: $(tail -n 20 "$server_log")"
  LIVE_PID="${out%% *}"
  START_MS="${out##* }"
}

# api METHOD PATH [curl args...]: the response body on stdout; any non-2xx fails the run.
api() {
  local method="$1" path="$2" code
  shift 2
  code="$(curl -sS --max-time 300 -o "$WORK/api-body" -w '%{http_code}' -X "$method" "$@" \
    "http://127.0.0.1:$PORT$path")" || die "$method $path: curl failed"
  case "$code" in
    2??) cat "$WORK/api-body" ;;
    *) die "$method $path answered $code: $(head -c 2000 "$WORK/api-body")" ;;
  esac
}

# status METHOD PATH [curl args...]: only the HTTP status (the body goes to $WORK/status-body).
status() {
  local method="$1" path="$2"
  shift 2
  curl -sS --max-time 60 -o "$WORK/status-body" -w '%{http_code}' -X "$method" "$@" \
    "http://127.0.0.1:$PORT$path" || die "$method $path: curl failed"
}

# json_field FIELD: that top-level field of the JSON document on stdin.
json_field() {
  python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# wait_idle PID: waits (at most 60 s) until the process stops using CPU — until the
# requests a finished wrk left in flight are done (a closed connection does not stop a
# password hash already running, for one) — so they do not eat into the next measurement.
wait_idle() {
  local pid="$1" before after _
  before="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
  for _ in $(seq 1 120); do
    sleep 0.5
    after="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
    # Under 10 ticks (100 ms of CPU) in half a second: idle.
    [ $((after - before)) -lt 10 ] && return 0
    before="$after"
  done
  log "server $pid still busy 60 s after a load ended"
}

kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# cpu_ticks PID: user + system CPU time of the process so far, in clock ticks.
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# ---------------------------------------------------------------- build
log "building (release): tessera and the raw driver ceiling"
(cd "$ROOT" && cargo build --release --bin tessera --bin ceiling)
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
TESSERA="$TARGET_DIR/release/tessera"
CEILING="$TARGET_DIR/release/ceiling"
if [ ! -x "$TESSERA" ] || [ ! -x "$CEILING" ]; then
  die "binaries not found in $TARGET_DIR/release"
fi

put store "$STORE"
put quick "$QUICK"
put date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# What the binaries are built from: crates (not their tests), the ceiling, the manifests.
# Uncommitted changes (new untracked files included) are named, with a sha256 of the diff
# and of the untracked files' contents, so two runs can be told to be on the same tree.
BUILD_PATHS=(crates ':(exclude)crates/*/tests/*' bench/ceiling Cargo.toml Cargo.lock)
tree_state() {
  local changed untracked
  changed="$(git status --porcelain --untracked-files=all -- "${BUILD_PATHS[@]}" 2>/dev/null | cut -c4- | paste -sd ' ' -)"
  [ -n "$changed" ] || return 0
  untracked="$(git ls-files --others --exclude-standard -- "${BUILD_PATHS[@]}")"
  echo " with uncommitted changes to $changed (sha256 $({
    git diff HEAD -- "${BUILD_PATHS[@]}"
    for file in $untracked; do
      echo "$file"
      cat "$file"
    done
  } | sha256sum | cut -c1-12))"
}
put commit "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && tree_state)"
put bench_tree "$(cd "$ROOT" && if git diff --quiet HEAD -- bench 2>/dev/null; then echo "bench/ as committed"; else
  echo "uncommitted changes to $(git diff --name-only HEAD -- bench | paste -sd ' ' -)"; fi)"
put cpus "$(nproc)"
put cpu_model "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
put load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
put threads "$THREADS"
put connections "$CONNECTIONS"
put duration "$DURATION"
put warmup "$WARMUP"
put ceiling_seconds "$CEILING_SECONDS"
put animals "$ANIMALS"
put zoos "$ZOOS"
put chunk "$CHUNK"
put login_duration "$LOGIN_DURATION"
put login_warmup "$LOGIN_WARMUP"
put access_token_ttl "$TESSERA_ACCESS_TOKEN_TTL"
put binary_bytes "$(stat -c %s "$TESSERA")"

# ---------------------------------------------------------------- cold start
# Without a first admin to create: that costs one argon2 hash, once in a store's life; the
# start of the run's own server below, which does create it, is reported on its own.
log "cold start: $COLD_STARTS throwaway starts on fresh stores"
COLD_RUNS=()
for i in $(seq 1 "$COLD_STARTS"); do
  fresh_store
  start_server "$WORK/cold-$i.log"
  COLD_RUNS+=("$START_MS")
  stop_live_server
done

# ---------------------------------------------------------------- the server
fresh_store
start_server "$WORK/server.log" TESSERA_ADMIN_EMAIL="$ADMIN_EMAIL" TESSERA_ADMIN_PASSWORD="$ADMIN_PASSWORD"
put cold_start_admin_ms "$START_MS"
SERVER_PID="$LIVE_PID"
log "tessera pid $SERVER_PID on port $PORT (${STORE_ARGS[*]}); cold start creating the first admin ${START_MS} ms"
put cold_start_runs "$(
  IFS=,
  echo "${COLD_RUNS[*]}"
)"
put cold_start_ms "$(printf '%s\n' "${COLD_RUNS[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
put rss_start_kib "$(kib "$SERVER_PID" VmRSS)"

if [ "$STORE" = sqlite ]; then
  CEILING_STORE=(--store sqlite --db "$DB_FILE")
else
  CEILING_STORE=(--store postgres --url "$SERVER_URL")
fi

# ---------------------------------------------------------------- auth
log "logging the admin in"
ADMIN_TOKEN="$(api POST /api/auth/login --json "{\"identity\": \"$ADMIN_EMAIL\", \"password\": \"$ADMIN_PASSWORD\"}" |
  json_field access_token)"
ADMIN_AUTH=(-H "Authorization: Bearer $ADMIN_TOKEN")
code="$(status POST /api/tables --json '{"name": "probe", "fields": {"name": "string"}}')"
put create_table_anonymous_status "$code"
case "$code" in 401 | 403) ;; *) die "creating a table without a token answered $code, expected 401: $(head -c 500 "$WORK/status-body")" ;; esac

# ---------------------------------------------------------------- schema and seed
log "creating the zoo schema (admin token)"
api POST /api/tables "${ADMIN_AUTH[@]}" --json '{"name": "zoos", "fields": {"name": {"type": "string", "required": true}}}' >/dev/null
api POST /api/tables "${ADMIN_AUTH[@]}" --json '{"name": "animals", "fields": {
  "name": {"type": "string", "required": true},
  "species": "string",
  "age": {"type": "integer", "indexed": true},
  "weight": "float",
  "zoo": {"type": "relation", "target": "zoos"},
  "created": "datetime"}}' >/dev/null

log "generating the seed ($ZOOS zoos, $ANIMALS animals)"
python3 "$LIB/gen_seed.py" "$WORK/seed" --animals "$ANIMALS" --zoos "$ZOOS" --chunk "$CHUNK"
api POST /api/tables/zoos/rows "${ADMIN_AUTH[@]}" -H 'Content-Type: application/x-ndjson' \
  --data-binary "@$WORK/seed/zoos.ndjson" >/dev/null

log "bulk load: $ANIMALS animals as NDJSON, $CHUNK rows per request"
SEED_FILES=("$WORK"/seed/animals-*.ndjson)
t0="$(date +%s%N)"
for file in "${SEED_FILES[@]}"; do
  api POST /api/tables/animals/rows "${ADMIN_AUTH[@]}" -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$file" >"$file.response"
done
t1="$(date +%s%N)"
for file in "${SEED_FILES[@]}"; do
  expected="$(grep -c . "$file")"
  created="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["created"])' "$file.response")"
  [ "$created" = "$expected" ] || die "bulk load of $file created $created rows, expected $expected"
done
total="$(api GET '/api/tables/animals/rows?limit=1&total=true' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])')"
[ "$total" = "$ANIMALS" ] || die "animals holds $total rows after seeding, expected $ANIMALS"
put bulk_requests "${#SEED_FILES[@]}"
api GET /api/tables/animals "${ADMIN_AUTH[@]}" >"$WORK/animals-schema.json"
put table_fields "$(python3 -c 'import json, sys; print(", ".join(json.load(open(sys.argv[1]))["fields"]))' "$WORK/animals-schema.json")"
put table_rules "$(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])).get("rules"), separators=(",", ":")))' "$WORK/animals-schema.json")"
put bulk_seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
put bulk_rps "$(awk -v a="$t0" -v b="$t1" -v n="$ANIMALS" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }')"
log "bulk load: $ANIMALS rows in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') s"

if [ "$STORE" = postgres ]; then
  # What autovacuum does within a minute of a 100k-row load; done now so the query plans
  # do not change in the middle of the run.
  psql "$SERVER_URL" -qAt -v ON_ERROR_STOP=1 -c "ANALYZE animals; ANALYZE zoos" >/dev/null || die "ANALYZE failed"
fi

sleep 2
put rss_idle_kib "$(kib "$SERVER_PID" VmRSS)"
put hwm_seed_kib "$(kib "$SERVER_PID" VmHWM)"
# Reset the high-water mark so the peak below is the peak under request load.
if echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null; then
  put hwm_reset 1
else
  put hwm_reset 0
fi

# ---------------------------------------------------------------- operations
LIST_PATH='/api/tables/animals/rows?filter=age%20%3E%2050&sort=name&limit=20'
LIST_INDEXED_PATH='/api/tables/animals/rows?filter=age%20%3E%2050&sort=-age&limit=20'
# WORKLOAD.md "expand": the same list with each animal's zoo, in one request: the whole
# zoo row (EXPAND_PATH), and as the workload words it, only the zoo's name
# (EXPAND_NAME_PATH: `fields=zoo.name` keeps every field of the animal).
EXPAND_PATH="$LIST_PATH&expand=zoo"
EXPAND_NAME_PATH="$LIST_PATH&expand=zoo&fields=zoo.name"
# WORKLOAD.md "graphql" (issue 5): the same 20 animals (age > 50, by name) with their
# zoo's name through POST /graphql, compared with EXPAND_PATH, the same page through REST;
# and a query three levels deep (zoos -> their animals -> each animal's zoo), no target.
GQL_QUERY='{ animals(where: {age: {_gt: 50}}, order_by: {name: asc}, limit: 20) { id name age zoo { name } } }'
GQL_NESTED_QUERY='{ zoos(limit: 5, order_by: {name: asc}) { name animals(limit: 10, order_by: {name: asc}) { name zoo { name } } } }'
gql_body() { python3 -c 'import json, sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
GQL_BODY="$(gql_body "$GQL_QUERY")"
GQL_NESTED_BODY="$(gql_body "$GQL_NESTED_QUERY")"

# verify_expand: the expanded list holds the list's rows, each with its zoo embedded.
verify_expand() {
  api GET "$EXPAND_PATH" >"$WORK/http-expand.json"
  python3 - "$WORK/http-expand.json" "$WORK/http-list.json" <<'PY' || die "the expanded list is wrong"
import json, sys
expanded, plain = (json.load(open(p))["items"] for p in sys.argv[1:3])
assert len(expanded) == 20, len(expanded)
assert [r["id"] for r in expanded] == [r["id"] for r in plain], "expand changed the rows"
assert all(r["expand"]["zoo"]["id"] == r["zoo"] and r["expand"]["zoo"]["name"] for r in expanded), expanded[0]
PY
}

# verify_expand_name: the same rows as the expanded list, each zoo as just its name.
verify_expand_name() {
  api GET "$EXPAND_NAME_PATH" >"$WORK/http-expand-name.json"
  python3 - "$WORK/http-expand-name.json" "$WORK/http-expand.json" <<'PY' || die "the list with zoo names is wrong"
import json, sys
named, whole = (json.load(open(p))["items"] for p in sys.argv[1:3])
assert len(named) == 20, len(named)
for n, w in zip(named, whole):
    assert {k: v for k, v in n.items() if k != "expand"} == {k: v for k, v in w.items() if k != "expand"}, n
    assert n["expand"] == {"zoo": {"name": w["expand"]["zoo"]["name"]}}, n
PY
}

# verify_graphql KEY: the GraphQL query answers without errors the expanded list's 20
# animals, in its order, each with exactly the selected keys and its zoo's name.
verify_graphql() {
  local key="$1"
  api POST /graphql --json "$GQL_BODY" >"$WORK/http-$key.json"
  put "bytes.$key" "$(stat -c %s "$WORK/http-$key.json")"
  python3 - "$WORK/http-$key.json" "$WORK/http-expand.json" <<'PY' || die "the GraphQL answer ($key) is wrong"
import json, sys
answer, expanded = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["items"]
assert "errors" not in answer, answer["errors"]
rows = answer["data"]["animals"]
assert len(rows) == 20, len(rows)
assert [r["id"] for r in rows] == [r["id"] for r in expanded], "not the REST page's rows"
for row, rest in zip(rows, expanded):
    assert list(row) == ["id", "name", "age", "zoo"], list(row)
    assert row["age"] > 50 and row["name"] == rest["name"] and row["age"] == rest["age"], (row, rest)
    assert row["zoo"] == {"name": rest["expand"]["zoo"]["name"]}, (row, rest)
PY
}

# verify_graphql_nested KEY: 5 zoos by name, each with its first 10 animals by name (the
# same as REST's lists), each animal with its zoo's name.
verify_graphql_nested() {
  local key="$1" zoo_id
  api POST /graphql --json "$GQL_NESTED_BODY" >"$WORK/http-$key.json"
  put "bytes.$key" "$(stat -c %s "$WORK/http-$key.json")"
  api GET '/api/tables/zoos/rows?sort=name&limit=5&fields=id,name' >"$WORK/http-$key-zoos.json"
  for zoo_id in $(python3 -c 'import json, sys; print(" ".join(str(z["id"]) for z in json.load(open(sys.argv[1]))["items"]))' \
    "$WORK/http-$key-zoos.json"); do
    api GET "/api/tables/animals/rows?filter=zoo%20%3D%20$zoo_id&sort=name&limit=10&fields=name" \
      >"$WORK/http-$key-zoo-$zoo_id.json"
  done
  python3 - "$WORK/http-$key.json" "$WORK/http-$key-zoos.json" "$WORK" "$key" <<'PY' || die "the nested GraphQL answer ($key) is wrong"
import json, sys
answer, zoos = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["items"]
assert "errors" not in answer, answer["errors"]
got = answer["data"]["zoos"]
assert [z["name"] for z in got] == [z["name"] for z in zoos] and len(got) == 5, (got, zoos)
for zoo, rest in zip(got, zoos):
    animals = json.load(open(f"{sys.argv[3]}/http-{sys.argv[4]}-zoo-{rest['id']}.json"))["items"]
    assert len(zoo["animals"]) == 10, len(zoo["animals"])
    assert [a["name"] for a in zoo["animals"]] == [a["name"] for a in animals], (zoo, animals)
    assert all(a["zoo"] == {"name": zoo["name"]} for a in zoo["animals"]), zoo
PY
}

# verify_list KEY PATH SORT: the list answers 20 rows, and the ceiling's statement returns
# exactly those rows.
verify_list() {
  local key="$1" path="$2" sort="$3"
  api GET "$path" >"$WORK/http-$key.json"
  python3 -c 'import json, sys; n = len(json.load(open(sys.argv[1]))["items"]); sys.exit(0 if n == 20 else f"{n} items")' \
    "$WORK/http-$key.json" || die "$path did not answer 20 items"
  "$CEILING" "${CEILING_STORE[@]}" --op list --filter 'age > 50' --sort="$sort" --limit 20 --sample \
    >"$WORK/sample-$key.txt"
  python3 "$LIB/check_sample.py" list "$WORK/sample-$key.txt" "$WORK/http-$key.json" >&2 ||
    die "the ceiling's $key statement does not return what the server returns"
}

# verify_sample KEY KIND HTTP_BODY CEILING_ARGS...: the ceiling's statement for KEY returns
# what the server answered (check_sample.py KIND).
verify_sample() {
  local key="$1" kind="$2" body="$3"
  shift 3
  "$CEILING" "${CEILING_STORE[@]}" "$@" --sample >"$WORK/sample-$key.txt"
  python3 "$LIB/check_sample.py" "$kind" "$WORK/sample-$key.txt" "$body" >&2 ||
    die "the ceiling's $key statement does not return what the server returns"
}

# ceiling KEY ARGS...: the raw driver ceiling of one operation.
ceiling() {
  local key="$1" line
  shift
  log "$key: raw driver ceiling (${CEILING_SECONDS} s)"
  "$CEILING" "${CEILING_STORE[@]}" --seconds "$CEILING_SECONDS" --warmup 1 "$@" >"$WORK/ceiling-$key.txt" ||
    die "ceiling $key failed: $(tail -n 5 "$WORK/ceiling-$key.txt")"
  line="$(grep '^CEILING ' "$WORK/ceiling-$key.txt")" || die "no CEILING line from the ceiling for $key"
  for field in qps p50_us p99_us workers group; do
    put "ceiling.$key.$field" "$(sed -E "s/.* $field=([^ ]+).*/\1/" <<<"$line")"
  done
  put "sql.$key" "$(sed -n 's/^SQL //p' "$WORK/ceiling-$key.txt")"
  put "params.$key" "$(sed -n 's/^PARAMS //p' "$WORK/ceiling-$key.txt")"
}

# measure KEY WRK_SCRIPT_ARGS...: warm-up, then the measured wrk run (M_WARMUP and
# M_DURATION, when set, replace WARMUP and DURATION).
measure() {
  local key="$1" line warmup="${M_WARMUP:-$WARMUP}" duration="${M_DURATION:-$DURATION}"
  shift
  if [ "$warmup" != 0 ]; then
    log "$key: wrk warm-up (${warmup} s)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${warmup}s" -s "$LUA" "http://127.0.0.1:$PORT" -- "$@" \
      >"$WORK/wrk-$key-warmup.txt" 2>&1 || die "wrk warm-up for $key failed: $(cat "$WORK/wrk-$key-warmup.txt")"
    wait_idle "$SERVER_PID"
  fi
  log "$key: wrk -t$THREADS -c$CONNECTIONS -d${duration}s"
  local ticks_before ticks_after
  ticks_before="$(cpu_ticks "$SERVER_PID")"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${duration}s" --timeout 10s --latency -s "$LUA" \
    "http://127.0.0.1:$PORT" -- "$@" >"$WORK/wrk-$key.txt" 2>&1 ||
    die "wrk for $key failed: $(cat "$WORK/wrk-$key.txt")"
  ticks_after="$(cpu_ticks "$SERVER_PID")"
  line="$(grep '^WRKRESULT ' "$WORK/wrk-$key.txt")" || die "no WRKRESULT line from wrk for $key: $(cat "$WORK/wrk-$key.txt")"
  for field in requests rps p50_us p99_us non2xx; do
    put "$key.$field" "$(sed -E "s/.* $field=([^ ]+).*/\1/" <<<"$line")"
  done
  put "$key.errors" "$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(connect|read|write|timeout)=/) { split($i, kv, "="); s += kv[2] } } END { print s + 0 }' <<<"$line")"
  # The server's own CPU time (user + system, all threads; on Postgres without the
  # database's) per request of the measured run: less sensitive to other load on the
  # machine than requests/s.
  put "$key.server_cpu_us" "$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line" |
    awk -v a="$ticks_before" -v b="$ticks_after" -v hz="$CLK_TCK" '{ if ($1 > 0) printf "%.1f", (b - a) * 1e6 / hz / $1 }')"
  put "$key.rss_kib" "$(kib "$SERVER_PID" VmRSS)"
  put "$key.hwm_kib" "$(kib "$SERVER_PID" VmHWM)"
  log "$key: $(sed -E 's/^WRKRESULT //' <<<"$line")"
}

# ---------------------------------------------------------------- the ordinary user
# WORKLOAD.md: writes by an authenticated ordinary user. Registered through the API (role
# "user"), signed in for an access token, which then makes an API token (`tsk_...`).
log "registering and logging in an ordinary user; creating an API token"
USER_ID="$(api POST /api/auth/register --json "{\"email\": \"$USER_EMAIL\", \"password\": \"$USER_PASSWORD\"}" |
  json_field id)"
api POST /api/auth/login --json "{\"identity\": \"$USER_EMAIL\", \"password\": \"$USER_PASSWORD\"}" >"$WORK/login.json"
USER_TOKEN="$(json_field access_token <"$WORK/login.json")"
[ "$(json_field expires_in <"$WORK/login.json")" = "$TESSERA_ACCESS_TOKEN_TTL" ] ||
  die "the access token lasts $(json_field expires_in <"$WORK/login.json") s, expected $TESSERA_ACCESS_TOKEN_TTL"
USER_ROLE="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["user"]["role"])' "$WORK/login.json")"
[ "$USER_ROLE" = user ] || die "the registered user has role '$USER_ROLE', expected 'user'"
USER_AUTH=(-H "Authorization: Bearer $USER_TOKEN")
API_TOKEN="$(api POST /api/auth/tokens "${USER_AUTH[@]}" --json '{"name": "bench", "scopes": ["write"]}' | json_field token)"
case "$API_TOKEN" in tsk_*) ;; *) die "the API token does not start with tsk_: ${API_TOKEN:0:12}..." ;; esac
APITOKEN_AUTH=(-H "Authorization: Bearer $API_TOKEN")
put user_id "$USER_ID"
put api_token_scopes write

log "checking every request once, and that the ceiling runs the server's statements"
api GET /api/tables/animals/rows/1 >"$WORK/http-get.json"
"$CEILING" "${CEILING_STORE[@]}" --op get --sample >"$WORK/sample-get.txt"
python3 "$LIB/check_sample.py" get "$WORK/sample-get.txt" "$WORK/http-get.json" >&2 ||
  die "the ceiling's get statement does not return what the server returns"
api GET "/api/tables/animals/rows/$ANIMALS" >/dev/null
verify_list list "$LIST_PATH" name
verify_list list_indexed "$LIST_INDEXED_PATH" -age
# With a token the reads must answer exactly what they answer anonymously (rule: public).
api GET /api/tables/animals/rows/1 "${USER_AUTH[@]}" >"$WORK/http-get-token.json"
api GET /api/tables/animals/rows/1 "${APITOKEN_AUTH[@]}" >"$WORK/http-get-apitoken.json"
api GET "$LIST_INDEXED_PATH" "${USER_AUTH[@]}" >"$WORK/http-list_indexed-token.json"
cmp -s "$WORK/http-get.json" "$WORK/http-get-token.json" || die "get with the access token answers differently"
cmp -s "$WORK/http-get.json" "$WORK/http-get-apitoken.json" || die "get with the API token answers differently"
cmp -s "$WORK/http-list_indexed.json" "$WORK/http-list_indexed-token.json" ||
  die "list-indexed with the access token answers differently"
# The operations below measure with wrk; run it once each way (with and without a token),
# then again after the token runs, so the token runs are bracketed by anonymous runs: the
# ratio token / anonymous is taken against the mean of both, which cancels a drift of the
# machine over the three runs, and the two anonymous runs show the noise.

ceiling get --op get --max-id "$ANIMALS"
measure get get "$ANIMALS"
measure get_token get "$ANIMALS" "$USER_TOKEN"
measure get_apitoken get "$ANIMALS" "$API_TOKEN"
measure get_repeat get "$ANIMALS"

ceiling list --op list --filter 'age > 50' --sort=name --limit 20
measure list path "$LIST_PATH"
verify_expand
put bytes.expand "$(stat -c %s "$WORK/http-expand.json")"
# The ceilings of expand and graphql run each one's own statement (REST's list with the
# zoo embedded; the GraphQL root field's, tessera_store::graph), checked as the lists are.
EXPAND_CEILING=(--op expand --expand zoo --filter 'age > 50' --sort=name --limit 20)
GQL_CEILING=(--op graphql --expand zoo --fields id,name,age --related-fields name --filter 'age > 50' --sort=name --limit 20)
verify_sample expand list "$WORK/http-expand.json" "${EXPAND_CEILING[@]}"
ceiling expand "${EXPAND_CEILING[@]}"
measure expand path "$EXPAND_PATH"
verify_graphql graphql
verify_sample graphql graphql "$WORK/http-graphql.json" "${GQL_CEILING[@]}"
ceiling graphql "${GQL_CEILING[@]}"
measure graphql post /graphql "$GQL_BODY"
verify_graphql graphql_after
verify_graphql_nested graphql_nested
measure graphql_nested post /graphql "$GQL_NESTED_BODY"

ceiling list_indexed --op list --filter 'age > 50' --sort=-age --limit 20
measure list_indexed path "$LIST_INDEXED_PATH"
measure list_indexed_token path "$LIST_INDEXED_PATH" "$USER_TOKEN"
measure list_indexed_repeat path "$LIST_INDEXED_PATH"

log "adding an index on name"
api PATCH /api/tables/animals "${ADMIN_AUTH[@]}" --json '{"alter_fields": {"name": {"indexed": true}}}' >/dev/null
if [ "$STORE" = postgres ]; then
  psql "$SERVER_URL" -qAt -v ON_ERROR_STOP=1 -c "ANALYZE animals" >/dev/null || die "ANALYZE failed"
fi
verify_list list_name_index "$LIST_PATH" name
ceiling list_name_index --op list --filter 'age > 50' --sort=name --limit 20
measure list_name_index path "$LIST_PATH"
# GraphQL against REST expand with the name index, where the server rather than the plan
# is measured: the GraphQL run is bracketed by two REST runs (ratio against their mean).
verify_sample expand_name_index list "$WORK/http-expand.json" "${EXPAND_CEILING[@]}"
ceiling expand_name_index "${EXPAND_CEILING[@]}"
verify_graphql graphql_name_index
verify_sample graphql_name_index graphql "$WORK/http-graphql_name_index.json" "${GQL_CEILING[@]}"
ceiling graphql_name_index "${GQL_CEILING[@]}"
measure expand_name_index path "$EXPAND_PATH"
measure graphql_name_index post /graphql "$GQL_BODY"
measure expand_name_index_repeat path "$EXPAND_PATH"
# The zoo's name only (`fields=zoo.name`), then the plain list again: the expanded runs
# are bracketed by two list runs, and their ratios taken against the lists' mean.
verify_expand_name
EXPAND_NAME_CEILING=("${EXPAND_CEILING[@]}" --expand-fields name)
verify_sample expand_zoo_name_name_index list "$WORK/http-expand-name.json" "${EXPAND_NAME_CEILING[@]}"
ceiling expand_zoo_name_name_index "${EXPAND_NAME_CEILING[@]}"
measure expand_zoo_name_name_index path "$EXPAND_NAME_PATH"
measure list_name_index_repeat path "$LIST_PATH"
verify_graphql graphql_name_index_after
verify_graphql_nested graphql_nested_name_index
measure graphql_nested_name_index post /graphql "$GQL_NESTED_BODY"

# Writes last: they grow the table the reads above measured. Without a token a create is
# refused now (default create rule: authenticated); with the user's token the server sets
# the row's owner to the user.
CHECK_ROW='{"name": "Check", "species": "lion", "age": 7, "weight": 190.5, "zoo": 1, "created": "2024-01-01T00:00:00Z"}'
code="$(status POST /api/tables/animals/rows --json "$CHECK_ROW")"
put create_anonymous_status "$code"
put create_anonymous_body "$(head -c 300 "$WORK/status-body" | tr '\n' ' ')"
case "$code" in 401) ;; *) die "an anonymous create answered $code, expected 401: $(head -c 500 "$WORK/status-body")" ;; esac
owner="$(api POST /api/tables/animals/rows "${USER_AUTH[@]}" --json "$CHECK_ROW" | json_field owner)"
[ "$owner" = "$USER_ID" ] || die "a row created with the user's token has owner $owner, expected $USER_ID"
# The server's SQLite writer commits the writes waiting in its queue together (at most one
# per wrk connection); the ceiling commits groups of that size the same way.
ceiling create --op create --zoos "$ZOOS" --group "$CONNECTIONS" --owner "$USER_ID"
measure create create "$ZOOS" "$USER_TOKEN"

put hwm_load_kib "$(kib "$SERVER_PID" VmHWM)"

# ---------------------------------------------------------------- logins
# Last, and with VmHWM reset first: every login in flight holds an argon2 block of 19 MiB,
# so its peak memory is reported on its own rather than as the request load's.
log "login: POST /api/auth/login as the ordinary user"
if echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null; then
  put login_hwm_reset 1
else
  put login_hwm_reset 0
fi
put login_rss_before_kib "$(kib "$SERVER_PID" VmRSS)"
M_WARMUP="$LOGIN_WARMUP" M_DURATION="$LOGIN_DURATION" measure login login "$USER_EMAIL" "$USER_PASSWORD"
sleep 2
put login_rss_after_kib "$(kib "$SERVER_PID" VmRSS)"

put load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
grep -E '(ERROR|WARN)' "$WORK/server.log" | head -n 20 >"$WORK/server-errors.txt" || true
put server_log_problems "$(grep -cE '(ERROR|WARN)' "$WORK/server.log" || true)"
put server_log_excerpt "$(head -n 3 "$WORK/server-errors.txt" | sed -E 's/\x1b\[[0-9;]*m//g' | cut -c1-300 | paste -sd '|' -)"
stop_live_server

# ---------------------------------------------------------------- report
mkdir -p "$BENCH/results"
REPORT_BASE="$BENCH/results/$STORE-$(date -u +%Y-%m-%d)"
REPORT_SUFFIX="$(if [ "$QUICK" = 1 ]; then echo -quick; fi).md"
REPORT="$REPORT_BASE$REPORT_SUFFIX"
# Never overwrite an earlier report of the same day: <store>-<date>-2.md, -3, ...
n=1
while [ -e "$REPORT" ]; do
  n=$((n + 1))
  REPORT="$REPORT_BASE-$n$REPORT_SUFFIX"
done
python3 "$LIB/report.py" "$KV" >"$REPORT"
cat "$REPORT"
log "report written to ${REPORT#"$ROOT"/}"
SUCCESS=1
