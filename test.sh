#!/usr/bin/env bash
# Runs the whole test suite: unit and property tests of every crate, and the HTTP/CLI
# scenarios against SQLite AND Postgres. Postgres must be reachable at
# TESSERA_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); this
# script starts a local cluster if one is installed but down, and fails loudly otherwise.
set -euo pipefail
cd "$(dirname "$0")"

export TESSERA_TEST_DATABASE_URL="${TESSERA_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test.sh: starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "test.sh: PostgreSQL is not reachable on 127.0.0.1:5432; the suite runs on SQLite AND Postgres, so it cannot run." >&2
  exit 1
fi

# Swagger UI is checked in a real browser: Debian's `chromium` (or TESSERA_TEST_CHROMIUM).
if ! command -v "${TESSERA_TEST_CHROMIUM:-chromium}" >/dev/null; then
  echo "test.sh: Chromium is needed for the browser test of /docs: apt-get install chromium" >&2
  exit 1
fi

# The OpenAPI document is checked by a standard validator (openapi-spec-validator, PyPI).
if ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  echo "test.sh: installing openapi-spec-validator (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
fi

# The GraphQL schema is checked by a third-party client library: graphql-core (PyPI), the
# Python port of the reference implementation (tests/graphql/validate_schema.py).
if ! python3 -c "import graphql; assert graphql.__version__.startswith('3.')" 2>/dev/null; then
  echo "test.sh: installing graphql-core (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check 'graphql-core>=3.2,<4'
fi

# The S3 file storage is tested against a real S3-compatible server: moto in server mode
# (PyPI `moto[server]`), which the test starts on a free port and stops.
if ! python3 -c "import moto.server" 2>/dev/null; then
  echo "test.sh: installing moto[server] (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
fi

cargo build --release --bin tessera
TESSERA_BIN="$(pwd)/target/release/tessera" cargo test --workspace --no-fail-fast "$@"
