#!/usr/bin/env bash
# GraphiQL in a real browser. Headless Chromium (Debian's `chromium`) opens <base>/graphql
# on a running tessera. The page must render GraphiQL's editor from the binary's own
# assets, and every request the page makes must go to that server and nowhere else.
#
#   crates/tessera/tests/browser/graphiql.sh http://127.0.0.1:8000
#
# What it checks, from the DOM Chromium dumps and from Chromium's own network log:
#   - GraphiQL rendered: .graphiql-container, the query editor (CodeMirror), the Headers
#     tab, and the boot code's marker data-tessera-graphiql="booted";
#   - the page requested the page's five /graphql/ide/ files from the server, and its
#     fetcher POSTed to <origin>/graphql (the schema introspection), which answered 200;
#   - no request made by the page went to another origin. Any other host also resolves
#     to nothing (--host-resolver-rules), so a CDN asset would fail to load in this run
#     too, and the checks above would not pass;
#   - the console shows no Content-Security-Policy violation and no uncaught error.
#
# Needs: chromium (Debian: apt-get install chromium), python3 (reads the network log).
# Env:   TESSERA_TEST_CHROMIUM  the browser to run (default: chromium)
#        GRAPHIQL_SCREENSHOT    also save a 1400x900 screenshot to this PNG file
# Exit:  0 when every check passes, 1 when one fails (it says which), 2 on bad usage
#        or a missing tool.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BASE_URL   (e.g. http://127.0.0.1:8000, a running tessera)" >&2
  exit 2
fi
base="${1%/}"
if [[ ! "$base" =~ ^(https?://(\[[0-9a-fA-F:.]+\]|[^/:]+)(:[0-9]+)?)(/.*)?$ ]]; then
  echo "graphiql.sh: '$1' is not an http(s) URL" >&2
  exit 2
fi
origin="${BASH_REMATCH[1]}"
host="${BASH_REMATCH[2]}"
chromium="${TESSERA_TEST_CHROMIUM:-chromium}"
for tool in "$chromium" python3 timeout; do
  if ! command -v "$tool" >/dev/null; then
    echo "graphiql.sh: '$tool' is needed (Debian: apt-get install chromium python3 coreutils)" >&2
    exit 2
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
url="$base/graphql"

# Flags: no sandbox (root in a container), no GPU, none of Chromium's own background
# traffic, a fresh profile, and every host but the server's resolving to nothing.
flags=(
  --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-features=AutofillServerCommunication
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE $host"
  --enable-logging=stderr --v=0
  --virtual-time-budget=15000
)

echo "graphiql.sh: opening $url in $("$chromium" --version 2>/dev/null | tail -n1)"
status=0
timeout 180 "$chromium" "${flags[@]}" "--user-data-dir=$work/profile" "--log-net-log=$work/net.json" \
  --dump-dom "$url" >"$work/dom.html" 2>"$work/chromium.log" || status=$?
if [ "$status" -ne 0 ]; then
  echo "FAIL: chromium exited with $status; its log ends:" >&2
  tail -n 20 "$work/chromium.log" >&2
  exit 1
fi

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

dom="$work/dom.html"
for needle in 'class="graphiql-container"' 'data-tessera-graphiql="booted"' 'graphiql-query-editor' \
  'class="CodeMirror' 'data-name="headers"'; do
  if grep -qF "$needle" "$dom"; then
    pass "the rendered page has $needle"
  else
    fail "the rendered page lacks $needle"
  fi
done

# The page's requests, from Chromium's network log: those the page started carry its
# origin as initiator (Chromium's own traffic says "not an origin").
if python3 - "$work/net.json" "$origin" >"$work/net.txt" 2>&1 <<'PY'; then
import json
import sys

path, origin = sys.argv[1], sys.argv[2]
with open(path) as f:
    log = json.load(f)
names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
requests = {}  # source id -> [method, url, status line]
for event in log["events"]:
    name, params, source = names.get(event["type"]), event.get("params") or {}, event["source"]["id"]
    if name == "URL_REQUEST_START_JOB" and params.get("initiator") == origin:
        requests[source] = [params.get("method"), params.get("url"), None]
    elif name == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS" and source in requests:
        requests[source][2] = (params.get("headers") or ["?"])[0]
failed = False
for method, url, status in requests.values():
    same = url == origin or url.startswith(origin + "/")
    print(f"{'' if same else 'FOREIGN '}{method} {url} -> {status}")
    failed |= not same
for name in ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css", "boot.js"]:
    got = [s for m, u, s in requests.values() if m == "GET" and u == f"{origin}/graphql/ide/{name}"]
    if not got:
        print(f"MISSING: the page did not request /graphql/ide/{name}")
        failed = True
    elif not any(s and " 200 " in s + " " for s in got):
        print(f"MISSING: /graphql/ide/{name} answered {got}")
        failed = True
posts = [s for m, u, s in requests.values() if m == "POST" and u == f"{origin}/graphql"]
if not posts:
    print("MISSING: GraphiQL's fetcher did not POST to /graphql")
    failed = True
elif not any(s and " 200 " in s + " " for s in posts):
    print(f"MISSING: POST /graphql (the schema introspection) answered {posts}, not 200")
    failed = True
sys.exit(1 if failed else 0)
PY
  pass "every request of the page went to $origin: the five assets and POST /graphql answered 200"
else
  fail "the page's requests (from Chromium's network log):"
fi
sed 's/^/    /' "$work/net.txt"

# Console: the page logs nothing when it works; a CSP violation or an uncaught error
# would show here (Chromium logs console messages with --enable-logging).
if grep -E 'CONSOLE' "$work/chromium.log" | grep -qiE 'Content Security Policy|Uncaught|Refused to'; then
  fail "the console shows errors:"
  grep -E 'CONSOLE' "$work/chromium.log" | sed 's/^/    /' >&2
else
  pass "no CSP violation or uncaught error in the console"
fi

if [ -n "${GRAPHIQL_SCREENSHOT:-}" ]; then
  timeout 180 "$chromium" "${flags[@]}" "--user-data-dir=$work/profile-shot" --hide-scrollbars \
    --window-size=1400,900 "--screenshot=$GRAPHIQL_SCREENSHOT" "$url" >/dev/null 2>&1 \
    && echo "graphiql.sh: screenshot in $GRAPHIQL_SCREENSHOT" \
    || echo "graphiql.sh: the screenshot failed (the checks above stand)" >&2
fi

if [ "$failures" -ne 0 ]; then
  echo "graphiql.sh: $failures check(s) failed; the DOM starts:" >&2
  head -c 1500 "$dom" >&2
  echo >&2
  exit 1
fi
echo "graphiql.sh: GraphiQL renders offline from $base"
