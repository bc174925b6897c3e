# Sourced by bench/expand_sql.sh, bench/ab.sh and bench/server_instructions.sh: the zoo schema seeded through a
# running tessera, as bench/run.sh seeds it, then the index on name and fresh statistics.
#
#   seed_zoo BASE ADMIN_EMAIL ADMIN_PASSWORD WORK_DIR ANIMALS ZOOS PG_URL SCHEMA
#
# With PG_URL empty (a SQLite server) the statistics step is skipped: SQLite plans these
# statements from its indexes alone.
seed_zoo() {
  local base="$1" email="$2" password="$3" work="$4" animals="$5" zoos="$6" pg_url="$7" schema="$8"
  local token file table
  token="$(curl -sf "$base/api/auth/login" --json "{\"identity\": \"$email\", \"password\": \"$password\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
  local auth=(-H "Authorization: Bearer $token")
  curl -sf "${auth[@]}" "$base/api/tables" --json '{"name": "zoos", "fields": {"name": {"type": "string", "required": true}}}' >/dev/null
  curl -sf "${auth[@]}" "$base/api/tables" --json '{"name": "animals", "fields": {
    "name": {"type": "string", "required": true}, "species": "string", "age": {"type": "integer", "indexed": true},
    "weight": "float", "zoo": {"type": "relation", "target": "zoos"}, "created": "datetime"}}' >/dev/null
  python3 "$(dirname "${BASH_SOURCE[0]}")/gen_seed.py" "$work/seed" --animals "$animals" --zoos "$zoos" --chunk 10000
  for file in "$work/seed/zoos.ndjson" "$work"/seed/animals-*.ndjson; do
    table=animals
    case "$file" in */zoos.ndjson) table=zoos ;; esac
    curl -sf "${auth[@]}" "$base/api/tables/$table/rows" -H 'Content-Type: application/x-ndjson' --data-binary "@$file" >/dev/null
  done
  curl -sf "${auth[@]}" -X PATCH "$base/api/tables/animals" --json '{"alter_fields": {"name": {"indexed": true}}}' >/dev/null
  [ -n "$pg_url" ] || return 0
  PGOPTIONS="-csearch_path=$schema" psql "$pg_url" -qAt -v ON_ERROR_STOP=1 -c "ANALYZE animals; ANALYZE zoos" >/dev/null
}
