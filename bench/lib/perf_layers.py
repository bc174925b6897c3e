#!/usr/bin/env python3
"""Splits a CPU profile of the tessera server into the layers a GraphQL request goes
through (see BENCHMARKS.md, "GraphQL (issue 5)").

    perf record -F 399 --call-graph dwarf,32768 -p <server pid> -o perf.data -- sleep 8
        (while wrk runs the graphql operation against that server)
    perf script -i perf.data | bench/lib/perf_layers.py

Each sample counts once, for the first layer below whose pattern matches a frame of its
stack (so the order matters: a statement planned inside the resolver counts as planning,
not as the executor around it). The release build has symbols but no debug info; perf
unwinds with .eh_frame (dwarf call graphs), which is enough for these frames.
"""
import collections
import re
import sys

LAYERS = [
    ("parse the query (async-graphql-parser, pest)", r"async_graphql_parser::parse"),
    ("validate the query", r"async_graphql::validation"),
    ("statement's JSON text -> async-graphql ConstValue (serde_json::from_str)", r"serde_json::de::from_str"),
    ("plan + write the SQL (tessera_graphql::select/filter, tessera_store::graph)",
     r"tessera_graphql::select|tessera_graphql::filter|tessera_store::graph"),
    ("run the statement (driver: tokio-postgres / rusqlite + SQLite)",
     r"tokio_postgres|postgres_protocol|rusqlite|sqlite3_step|sqlite3_prepare|tessera_store::sqlite::reader_loop"),
    ("executor: resolve every row and field again (async_graphql::dynamic::resolve::resolve_list)",
     r"async_graphql::dynamic::resolve::resolve_list"),
    ("serialize the response (routes::graphql::answer)", r"tessera_http::routes::graphql::answer"),
    ("drop values, query env", r"drop_in_place<async_graphql"),
    ("rest of Schema::execute (mostly the deep clone of the root list's items, IndexMaps)",
     r"async_graphql::dynamic::schema::Schema::execute"),
    ("HTTP, tokio, kernel, everything else", r"."),
]


def main() -> int:
    counts = collections.Counter()
    total = 0
    stack = []

    def flush():
        nonlocal total
        if not stack:
            return
        text = "\n".join(stack)
        total += 1
        for name, pattern in LAYERS:
            if re.search(pattern, text):
                counts[name] += 1
                break

    for line in sys.stdin:
        if not line.strip():
            flush()
            stack.clear()
        elif line[0] in " \t":
            stack.append(line.strip())
    flush()
    for name, _ in LAYERS:
        print(f"{100 * counts[name] / max(total, 1):5.1f}%  {name}")
    print(f"({total} samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
