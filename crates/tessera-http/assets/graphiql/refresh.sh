#!/usr/bin/env bash
# Refreshes the vendored GraphiQL IDE assets in this folder from the npm registry.
# Usage: bash crates/tessera-http/assets/graphiql/refresh.sh
# Override versions with GRAPHIQL_VERSION / REACT_VERSION. GraphiQL 5 dropped the UMD
# build, so stay on 4.x (or 3.x); React must stay on 18 (React 19 ships no UMD files).
# Needs npm and tar. Afterwards: update the versions and sizes in README.md, rerun
# `cargo test -p tessera-http` and crates/tessera/tests/browser/graphiql.sh.
set -euo pipefail

GRAPHIQL_VERSION="${GRAPHIQL_VERSION:-4.1.2}"
REACT_VERSION="${REACT_VERSION:-18.3.1}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "graphiql@${GRAPHIQL_VERSION}" "react@${REACT_VERSION}" "react-dom@${REACT_VERSION}" >/dev/null
mkdir graphiql react react-dom
tar xzf "graphiql-${GRAPHIQL_VERSION}.tgz" -C graphiql
tar xzf "react-${REACT_VERSION}.tgz" -C react
tar xzf "react-dom-${REACT_VERSION}.tgz" -C react-dom

cp graphiql/package/graphiql.min.js graphiql/package/graphiql.min.css "$here/"
cp react/package/umd/react.production.min.js "$here/"
cp react-dom/package/umd/react-dom.production.min.js "$here/"

# The files are copied byte for byte (their checksums match the npm tarballs).
# graphiql.min.js ends in `//# sourceMappingURL=index.umd.js.map`: the map is not
# vendored; only a browser with devtools open asks for it, and gets a 404.

# Offline check: nothing the browser would load from another host. Plain links (<a href>)
# and namespace strings are fine; url(...) in CSS must be data: URIs, no @import.
if grep -qE 'url\((["'"'"']?)(https?:)?//' "$here/graphiql.min.css" || grep -q '@import' "$here/graphiql.min.css"; then
  echo "graphiql.min.css loads something from another host: check it" >&2
  exit 1
fi

cd "$here"
ls -l graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js
