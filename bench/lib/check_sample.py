#!/usr/bin/env python3
"""Checks that the raw driver ceiling runs the statement the server runs: the rows the
ceiling's statement returns (`SAMPLE [...]` in its output) must equal, byte for byte,
the rows of the same request over HTTP.

    check_sample.py get  CEILING_OUTPUT HTTP_BODY   (HTTP_BODY: the row object)
    check_sample.py list CEILING_OUTPUT HTTP_BODY   (HTTP_BODY: {"items": [...], ...})
    check_sample.py graphql CEILING_OUTPUT HTTP_BODY (HTTP_BODY: {"data": {<root field>: [...]}};
                                                   the statement's one row is that array)
"""
import json
import sys


def main() -> int:
    kind, ceiling_path, http_path = sys.argv[1:4]
    sample = None
    with open(ceiling_path) as f:
        for line in f:
            if line.startswith("SAMPLE "):
                sample = line[len("SAMPLE "):].rstrip("\n")
    if sample is None:
        print(f"check_sample: no SAMPLE line in {ceiling_path}", file=sys.stderr)
        return 1
    with open(http_path) as f:
        body = f.read()
    pairs = lambda text: json.loads(text, object_pairs_hook=list)  # noqa: E731 (keeps key order)
    if kind == "get":
        http_rows_text = "[" + body + "]"
    elif kind == "graphql":
        data = json.loads(body, object_pairs_hook=list)
        assert [key for key, _ in data] == ["data"], "the GraphQL answer is not just data"
        ((_, rows),) = data[0][1]
        # The statement answers one row: the root field's whole JSON array.
        same = pairs(sample) == [rows]
        if not same:
            print("check_sample: the ceiling's GraphQL array differs from the server's", file=sys.stderr)
            print("  ceiling: " + sample[:600], file=sys.stderr)
            print("  http:    " + body[:600], file=sys.stderr)
            return 1
        print(f"check_sample: graphql: 1 row, an array of {len(rows)} objects identical to the HTTP answer's")
        return 0
    else:
        items = json.loads(body)["items"]
        # The server splices the database's JSON text in unchanged; rebuild it compactly.
        http_rows_text = "[" + ",".join(json.dumps(i, separators=(",", ":"), ensure_ascii=False) for i in items) + "]"
    same_rows = pairs(sample) == pairs(http_rows_text)
    if not same_rows:
        print("check_sample: the ceiling's rows differ from the server's", file=sys.stderr)
        print("  ceiling: " + sample[:600], file=sys.stderr)
        print("  http:    " + http_rows_text[:600], file=sys.stderr)
        return 1
    if kind == "get" and sample != http_rows_text:
        print("check_sample: same values but different JSON text (get)", file=sys.stderr)
        return 1
    print(f"check_sample: {kind}: {len(json.loads(sample))} row(s), identical to the HTTP answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
