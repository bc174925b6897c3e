#!/usr/bin/env bash
# Where the time of a Postgres `expand` goes, at the database alone (BENCHMARKS.md,
# "Relations and files (issue 4)").
#
#   bench/expand_sql.sh path/to/tessera [ROUNDS [SECONDS]]
#
# Seeds the zoo schema through the given tessera binary into a new Postgres schema (as
# bench/run.sh does, then with the index on name), checks that the expanded statement below
# returns byte for byte the items tessera answers for `expand=zoo`, then runs pgbench
# (-M prepared -c 4 -j 2 -T SECONDS, default 5) on thirteen statements in ROUNDS (default 5)
# interleaved rounds and prints each one's median transactions/s and median ratio to the
# plain list of the same round. The schema is dropped at the end.
#
#   list-typed    the plain list page as tessera reads it now: typed columns, JSON
#                 written by tessera (pgbench reads them as text: datetimes cost more here),
#                 the page size a literal (so Postgres keeps a generic plan)
#   expand-typed  the same page with each animal's zoo's columns, as tessera reads it now
#   expand-name-typed  the same with only each zoo's id and name (`fields=zoo.name`)
#   list-typed-param, expand-typed-param  the same with LIMIT and OFFSET as parameters
#                 (tessera before bb8dd71: every execution planned anew)
#   list-text     the plain list page as JSON text by concatenation (tessera before typed reads)
#   expand-text   the same page with each animal's zoo (tessera before typed reads)
#   expand-name-text  the same with only each zoo's name
#   list          the plain list page with `json_build_object` (tessera before 1bfcad4)
#   expand        the expanded page with `json_build_object` (tessera before 1bfcad4)
#   expand-eq     the same with the join on `=` (what tessera wrote before: a hash join)
#   join-only     the plain page joined as `expand` joins, one zoo column in the JSON
#   json-only     no join; the nested zoo object built from the animal's own columns
# Ratios are to `list` (so list-text / expand-text read against the older form too).
#
# Environment: BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/test], BENCH_ANIMALS
# [100000], BENCH_ZOOS [100].
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: bench/expand_sql.sh path/to/tessera [ROUNDS [SECONDS]]" >&2; exit 2; }
TESSERA="$(realpath "$1")"
ROUNDS="${2:-5}"
SECONDS_EACH="${3:-5}"
BENCH="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/server.sh
source "$BENCH/lib/server.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-expand-sql.XXXXXX")"
SCHEMA="tessera_expand_sql_$$"
SERVER_PID=""

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  psql "$PG_URL" -qAt -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $SCHEMA" >/dev/null
"$TESSERA" serve --addr "127.0.0.1:$PORT" --database-url "$(schema_url "$PG_URL" "$SCHEMA")" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_healthy expand_sql "$WORK/server.log"

echo "expand_sql: seeding $ZOOS zoos and $ANIMALS animals into schema $SCHEMA" >&2
# shellcheck source=lib/seed_zoo.sh
source "$BENCH/lib/seed_zoo.sh"
seed_zoo "$BASE" "$TESSERA_ADMIN_EMAIL" "$TESSERA_ADMIN_PASSWORD" "$WORK" "$ANIMALS" "$ZOOS" "$PG_URL" "$SCHEMA"
export PGOPTIONS="-csearch_path=$SCHEMA"
curl -sf "$BASE/api/tables/animals/rows?filter=age%20%3E%2050&sort=name&limit=20&expand=zoo" >"$WORK/http-expand.json"

# The statements, as SQL for psql (with literals) and as pgbench scripts (with parameters;
# the to_char format's colons written as \x3a, since pgbench reads `:MI` as a variable).
python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
FMT = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
def obj(q, cols):
    pairs = []
    for name in cols:
        col = f'"{q}"."{name}"'
        if name in ("created", "created_at", "updated_at"):
            col = f"to_char({col} AT TIME ZONE 'UTC', {FMT})"
        pairs.append(f"'{name}', {col}")
    return "json_build_object(" + ", ".join(pairs) + ")"
ANIMAL = ["id", "name", "species", "age", "weight", "zoo", "created", "owner", "created_at", "updated_at"]
ZOO = ["id", "name", "owner", "created_at", "updated_at"]
PAGE = ('FROM (SELECT * FROM "animals" WHERE ("animals"."age" > $1::int8) ORDER BY "name" ASC, "id" ASC '
        'LIMIT $2::int8 OFFSET $3::int8) AS "page"')
ORDER = ' ORDER BY "page"."name" ASC, "page"."id" ASC'
def row(expand):
    return "SELECT (" + obj("page", ANIMAL)[:-1] + f", 'expand', json_build_object('zoo', {expand})))::text "
ZOO_CASE = 'CASE WHEN "x1"."id" IS NULL THEN NULL ELSE ' + obj("x1", ZOO) + " END"
JOIN_ANY = ' LEFT JOIN "zoos" AS "x1" ON "x1"."id" = ANY(ARRAY["page"."zoo"])'
JOIN_EQ = ' LEFT JOIN "zoos" AS "x1" ON "x1"."id" = "page"."zoo"'
INTS = {"id", "age", "zoo", "owner"}
# tessera's datetime form: the quotes in the format, an E'' string (`\\"` is a literal `"`).
FMTQ = "E'\\\\\"YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\\\\\"'"
def text_val(q, name):
    col = f'"{q}"."{name}"'
    if name in ("created", "created_at", "updated_at"):
        value = f"to_char({col} AT TIME ZONE 'UTC', {FMTQ})"
    elif name in INTS:
        value = f"{col}::text"
    else:
        value = f"to_json({col})::text"
    # id, created_at and updated_at are never null: tessera writes no coalesce for them.
    return value if name in ("id", "created_at", "updated_at") else f"coalesce({value}, 'null')"
def text_obj(q, cols, extra=None):
    parts = []
    for i, name in enumerate(cols):
        parts.append(("'{" if i == 0 else "',") + f'"{name}":\' || ' + text_val(q, name))
    if extra:
        parts.append("',\"expand\":' || '{\"zoo\":' || coalesce(" + extra + ", 'null') || '}'")
    return "(" + " || ".join(parts) + " || '}')"
ZOO_TEXT = 'CASE WHEN "x1"."id" IS NULL THEN NULL ELSE ' + text_obj("x1", ZOO) + " END"
ZOO_NAME_TEXT = 'CASE WHEN "x1"."id" IS NULL THEN NULL ELSE ' + text_obj("x1", ["name"]) + " END"
CASTS = {"id": "int8", "age": "int8", "zoo": "int8", "owner": "int8", "name": "text", "species": "text",
         "created": "timestamptz", "created_at": "timestamptz", "updated_at": "timestamptz"}
def typed(q, name):
    return f'to_json("{q}"."{name}")::text' if name == "weight" else f'"{q}"."{name}"::{CASTS[name]}'
TYPED_ANIMAL = ", ".join(typed("page", c) for c in ANIMAL)
TYPED_ZOO = '"x1"."id", ' + ", ".join(typed("x1", c) for c in ZOO)
# tessera since bb8dd71: the page size a literal, no OFFSET on the first page.
PAGE_LIT = PAGE.replace("LIMIT $2::int8 OFFSET $3::int8", "LIMIT 20")
statements = {
    "list-typed": "SELECT " + TYPED_ANIMAL + " " + PAGE_LIT + ' ORDER BY "name" ASC, "id" ASC',
    "expand-typed": "SELECT " + TYPED_ANIMAL + ", " + TYPED_ZOO + " " + PAGE_LIT + JOIN_ANY + ORDER,
    "expand-name-typed": "SELECT " + TYPED_ANIMAL + ', "x1"."id", "x1"."name"::text ' + PAGE_LIT + JOIN_ANY + ORDER,
    "list-typed-param": "SELECT " + TYPED_ANIMAL + " " + PAGE + ' ORDER BY "name" ASC, "id" ASC',
    "expand-typed-param": "SELECT " + TYPED_ANIMAL + ", " + TYPED_ZOO + " " + PAGE + JOIN_ANY + ORDER,
    "list-text": "SELECT " + text_obj("page", ANIMAL) + " " + PAGE + ' ORDER BY "name" ASC, "id" ASC',
    "expand-text": "SELECT " + text_obj("page", ANIMAL, ZOO_TEXT) + " " + PAGE + JOIN_ANY + ORDER,
    "expand-name-text": "SELECT " + text_obj("page", ANIMAL, ZOO_NAME_TEXT) + " " + PAGE + JOIN_ANY + ORDER,
    "list": "SELECT (" + obj("page", ANIMAL) + ")::text " + PAGE + ' ORDER BY "name" ASC, "id" ASC',
    "expand": row(ZOO_CASE) + PAGE + JOIN_ANY + ORDER,
    "expand-eq": row(ZOO_CASE) + PAGE + JOIN_EQ + ORDER,
    "join-only": row('"x1"."id"') + PAGE + JOIN_ANY + ORDER,
    "json-only": row(obj("page", ZOO)) + PAGE + ORDER,
}
for name, sql in statements.items():
    literal = sql.replace("$1::int8", "50::int8").replace("$2::int8", "20::int8").replace("$3::int8", "0::int8")
    open(f"{work}/{name}.sql", "w").write(literal + ";\n")
    script = (sql.replace("$1::int8", "CAST(:age AS int8)").replace("$2::int8", "CAST(:lim AS int8)")
              .replace("$3::int8", "CAST(:off AS int8)").replace(FMT, FMT.replace("'Y", "E'Y").replace(":", "\\x3a"))
              .replace(FMTQ, FMTQ.replace(":", "\\x3a")))
    open(f"{work}/{name}.pgb", "w").write("\\set age 50\n\\set lim 20\n\\set off 0\n" + script + ";\n")
PY
psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -f "$WORK/expand-text.sql" >"$WORK/sql-expand.txt"
python3 - "$WORK/http-expand.json" "$WORK/sql-expand.txt" <<'PY' || { echo "expand_sql: the expanded statement differs from tessera's answer" >&2; exit 1; }
import sys
body = open(sys.argv[1]).read()
rows = [line for line in open(sys.argv[2]).read().split("\n") if line]
sys.exit(0 if len(rows) == 20 and body.startswith('{"items":[' + ",".join(rows) + "]") else 1)
PY

NAMES=(list list-typed expand-typed expand-name-typed list-typed-param expand-typed-param list-text expand-text expand-name-text expand expand-eq join-only json-only)
echo "expand_sql: pgbench -M prepared -c 4 -j 2 -T $SECONDS_EACH, $ROUNDS rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    tps="$(pgbench -n -M prepared -c 4 -j 2 -T "$SECONDS_EACH" -f "$WORK/$name.pgb" "$PG_URL" 2>&1 |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
    echo "$round $name ${tps:-nan}" >>"$WORK/tps.txt"
  done
done
python3 - "$WORK/tps.txt" "${NAMES[@]}" <<'PY'
import statistics, sys
tps = {}
for line in open(sys.argv[1]):
    round_, name, value = line.split()
    tps.setdefault(name, {})[round_] = float(value)
print("| statement | median tps | median ratio to list (same round) | tps per round |")
print("|---|---:|---:|---|")
for name in sys.argv[2:]:
    ratios = [tps[name][r] / tps["list"][r] for r in tps[name]]
    runs = ", ".join(f"{v:,.0f}" for v in tps[name].values())
    print(f"| {name} | {statistics.median(tps[name].values()):,.0f} | {statistics.median(ratios):.1%} | {runs} |")
PY
echo "expand_sql: load average after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
