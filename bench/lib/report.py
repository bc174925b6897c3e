#!/usr/bin/env python3
"""Renders the key=value results of bench/run.sh as a markdown report.

    report.py RESULTS_KV > report.md
"""
import sys

# (key, label, what, key of the raw ceiling it is compared with): the token variants run
# the same statement as their anonymous operation, so they share its ceiling.
OPS = [
    ("get", "get", "GET one animal by a random id, anonymous", "get"),
    ("get_token", "get-token", "get with the user's access token", "get"),
    ("get_apitoken", "get-apitoken", "get with the user's `tsk_` API token", "get"),
    ("get_repeat", "get (again)", "anonymous get again, after the token runs", "get"),
    ("list", "list", "age > 50, sort name (unindexed), limit 20", "list"),
    ("list_indexed", "list-indexed", "age > 50, sort -age (index), limit 20, anonymous", "list_indexed"),
    ("list_indexed_token", "list-indexed-token", "list-indexed with the user's access token", "list_indexed"),
    ("list_indexed_repeat", "list-indexed (again)", "anonymous list-indexed again, after the token run",
     "list_indexed"),
    ("expand", "expand", "list with each animal's zoo embedded (`expand=zoo`, one statement)", "expand"),
    ("graphql", "graphql", "the same 20 animals with their zoo's name through `POST /graphql` (one statement)",
     "graphql"),
    ("graphql_nested", "graphql-nested", "GraphQL 3 levels: 5 zoos by name, 10 animals each by name, each "
     "animal's zoo name", None),
    ("list_name_index", "list (name indexed)", "list again after adding an index on name", "list_name_index"),
    ("expand_name_index", "expand (name indexed)", "expand again after adding an index on name",
     "expand_name_index"),
    ("graphql_name_index", "graphql (name indexed)", "graphql again after adding an index on name",
     "graphql_name_index"),
    ("expand_name_index_repeat", "expand (name indexed, again)", "expand again, after the graphql run",
     "expand_name_index"),
    ("expand_zoo_name_name_index", "expand, zoo name (name indexed)", "expand with only the zoo's name "
     "(`expand=zoo&fields=zoo.name`), as WORKLOAD.md words the operation", "expand_zoo_name_name_index"),
    ("list_name_index_repeat", "list (name indexed, again)", "list again, after the expand runs",
     "list_name_index"),
    ("graphql_nested_name_index", "graphql-nested (name indexed)", "graphql-nested again with the index on name",
     None),
    ("create", "create", "POST one animal with the user's access token (rule `authenticated`, owner set "
     "by the server)", "create"),
]

# Auth overhead (issue 3): (token operation, anonymous operations bracketing it, label).
# The issue: verifying a token and applying a rule must cost under 10% of requests/s
# against the same unauthenticated operation.
AUTH_PAIRS = [
    ("get_token", ("get", "get_repeat"), "get, access token (JWT, verified by signature)"),
    ("get_apitoken", ("get", "get_repeat"), "get, API token (`tsk_`, looked up in the store)"),
    ("list_indexed_token", ("list_indexed", "list_indexed_repeat"), "list-indexed, access token"),
]
AUTH_MIN_RATIO = 0.90

# Expand (issue 4): (expanded operations, the same list without expand, label); the
# expanded list must reach 70% of the plain list's requests/s. With an index on name the
# expanded runs are bracketed by two list runs: means of both sides, so a drift of the
# machine over the runs cancels out (each run's own figure is in the table above).
EXPAND_PAIRS = [
    (("expand",), ("list",), "as seeded (sort by name unindexed), whole zoo"),
    (("expand_name_index", "expand_name_index_repeat"), ("list_name_index", "list_name_index_repeat"),
     "with an index on name, whole zoo (`expand=zoo`)"),
    (("expand_zoo_name_name_index",), ("list_name_index", "list_name_index_repeat"),
     "with an index on name, zoo name (`expand=zoo&fields=zoo.name`)"),
]
EXPAND_MIN_RATIO = 0.70

# GraphQL (issue 5): (GraphQL operation, the REST operations running the same page with
# `expand=zoo` around it, label); GraphQL must reach 70% of REST's requests/s. With two
# REST runs the GraphQL run is bracketed by them and compared with their mean.
GRAPHQL_PAIRS = [
    ("graphql", ("expand",), "as seeded (sort by name unindexed)"),
    ("graphql_name_index", ("expand_name_index", "expand_name_index_repeat"), "with an index on name"),
]
GRAPHQL_MIN_RATIO = 0.70
GRAPHQL_NESTED = [
    ("graphql_nested", "as seeded"),
    ("graphql_nested_name_index", "with an index on name"),
]
GRAPHQL_QUERY = ("{ animals(where: {age: {_gt: 50}}, order_by: {name: asc}, limit: 20) "
                 "{ id name age zoo { name } } }")
GRAPHQL_NESTED_QUERY = ("{ zoos(limit: 5, order_by: {name: asc}) { name animals(limit: 10, "
                        "order_by: {name: asc}) { name zoo { name } } } }")
ARGON2 = "argon2id, m=19456 KiB (19 MiB), t=2, p=1 (crates/tessera-auth/src/password.rs)"

# (kind, threshold): rps = requests/s at least; p99_ms = p99 at most; ratio = share of
# the raw driver ceiling at least.
TARGETS = {
    "sqlite": {
        "get": [("rps", 20000), ("p99_ms", 5)],
        "list": [("ratio", 0.70)],
        "list_indexed": [("rps", 10000)],
        "create": [("rps", 8000), ("p99_ms", 10)],
    },
    "postgres": {
        "get": [("rps", 11000)],
        "list": [("ratio", 0.70)],
        "create": [("rps", 7000)],
    },
}
RESOURCE_TARGETS = {
    "sqlite": {"bulk_rps": 100000, "rss_idle_mib": 20, "hwm_load_mib": 150, "cold_start_ms": 50},
    "postgres": {"bulk_rps": 45000},
}


def load(path):
    kv = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                key, value = line.split("=", 1)
                kv[key] = value
    return kv


def num(kv, key):
    try:
        return float(kv[key])
    except (KeyError, ValueError):
        return None


def fmt_int(value):
    return "—" if value is None else f"{value:,.0f}"


def fmt_ms(us):
    if us is None:
        return "—"
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


def fmt_mib(kib):
    return "—" if kib is None else f"{kib / 1024:.1f} MiB"


def verdict(checks):
    if not checks:
        return ""
    return "yes" if all(checks) else "**no**"


def main():
    kv = load(sys.argv[1])
    store = kv.get("store", "?")
    out = []
    w = out.append
    title = "smoke run (--quick)" if kv.get("quick") == "1" else "full run"
    w(f"# tessera zoo benchmark: {store}, {title}")
    w("")
    w(f"- date: {kv.get('date', '?')}; commit: {kv.get('commit', '?')}; benchmark scripts: {kv.get('bench_tree', '?')}")
    w(f"- machine: {kv.get('cpus', '?')} CPUs ({kv.get('cpu_model', '?')}); "
      f"load average before: {kv.get('load_before', '?')}, after: {kv.get('load_after', '?')}")
    w(f"- seed: {fmt_int(num(kv, 'zoos'))} zoos, {fmt_int(num(kv, 'animals'))} animals; "
      f"wrk -t{kv.get('threads')} -c{kv.get('connections')} -d{kv.get('duration')}s after a "
      f"{kv.get('warmup')} s warm-up; ceiling {kv.get('ceiling_seconds')} s per operation")
    if kv.get("quick") == "1":
        w("- **smoke run: shortened durations; not a measurement**")
    w("")
    w("| operation | what | req/s | p50 | p99 | non-2xx | socket errors | raw ceiling q/s (p50 / p99) | vs ceiling | target | met |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    targets = TARGETS.get(store, {})
    for key, label, what, ckey in OPS:
        rps = num(kv, f"{key}.rps")
        if rps is None:
            continue
        p50, p99 = num(kv, f"{key}.p50_us"), num(kv, f"{key}.p99_us")
        non2xx = num(kv, f"{key}.non2xx")
        errors = num(kv, f"{key}.errors")
        cq = num(kv, f"ceiling.{ckey}.qps")
        if cq is None:
            ceiling = "—"
        elif ckey != key:
            ceiling = f"(same statement: {ckey}'s)"
        else:
            ceiling = (
                f"{cq:,.0f} ({fmt_ms(num(kv, f'ceiling.{key}.p50_us'))} / {fmt_ms(num(kv, f'ceiling.{key}.p99_us'))}, "
                f"{kv.get(f'ceiling.{key}.workers', '?')} workers"
                + (f", groups of {kv[f'ceiling.{key}.group']}" if kv.get(f"ceiling.{key}.group", "1") != "1" else "")
                + ")")
        ratio = None if not cq else rps / cq
        texts, checks = [], []
        for kind, threshold in targets.get(key, []):
            if kind == "rps":
                texts.append(f">= {threshold:,} req/s")
                checks.append(rps >= threshold)
            elif kind == "p99_ms":
                texts.append(f"p99 <= {threshold} ms")
                checks.append(p99 is not None and p99 <= threshold * 1000)
            elif kind == "ratio":
                texts.append(f">= {threshold:.0%} of ceiling")
                checks.append(ratio is not None and ratio >= threshold)
        if non2xx:
            checks.append(False)
            texts.append("0 non-2xx")
        w(f"| {label} | {what} | {fmt_int(rps)} | {fmt_ms(p50)} | {fmt_ms(p99)} | {fmt_int(non2xx)} | "
          f"{fmt_int(errors)} | {ceiling} | {'—' if ratio is None else f'{ratio:.0%}'} | "
          f"{', '.join(texts) or '—'} | {verdict(checks)} |")
    w("")
    create_status = kv.get("create_anonymous_status")
    if create_status:
        w(f"Auth: every server of the run has a first admin from `TESSERA_ADMIN_EMAIL` / "
          f"`TESSERA_ADMIN_PASSWORD`; the zoo schema was created and seeded with the admin's access "
          f"token (a table created without a token answered {kv.get('create_table_anonymous_status', '?')}). "
          f"Reads are anonymous unless marked; `create` runs as an ordinary user (user "
          f"{kv.get('user_id', '?')}, role `user`) with an access token valid "
          f"{kv.get('access_token_ttl', '?')} s. **The old unauthenticated create no longer works**: an "
          f"anonymous `POST /api/tables/animals/rows` answered {create_status} "
          f"(`{kv.get('create_anonymous_body', '').strip()}`), as the default create rule "
          f"`authenticated` says. animals' fields: {kv.get('table_fields', '?')}; rules: "
          f"`{kv.get('table_rules', '?')}`.")
        w("")
    auth_rows = []
    for key, anon_keys, label in AUTH_PAIRS:
        rps = num(kv, f"{key}.rps")
        anon = [num(kv, f"{k}.rps") for k in anon_keys]
        anon = [a for a in anon if a is not None]
        if rps is None or not anon:
            continue
        mean = sum(anon) / len(anon)
        ratio = rps / mean
        p99s = [num(kv, f"{k}.p99_us") for k in anon_keys]
        anon_p99 = " / ".join(fmt_ms(p) for p in p99s if p is not None)
        non2xx = num(kv, f"{key}.non2xx")
        ok = ratio >= AUTH_MIN_RATIO and not non2xx
        auth_rows.append(
            f"| {label} | {' / '.join(fmt_int(a) for a in anon)} (mean {fmt_int(mean)}) | {fmt_int(rps)} | "
            f"{ratio:.1%} (overhead {1 - ratio:.1%}) | {anon_p99} | {fmt_ms(num(kv, f'{key}.p99_us'))} | "
            f"{fmt_int(non2xx)} | {verdict([ok])} |")
    if auth_rows:
        w("Auth overhead (issue 3: verifying a token and applying a rule must cost under 10% of requests/s "
          "against the same unauthenticated operation). The token run is bracketed by two anonymous runs "
          "(before and after); the ratio is against their mean, and their difference is the noise:")
        w("")
        w("| operation | anonymous req/s (before / after) | with token req/s | token / anonymous | "
          "p99 anonymous (before / after) | p99 token | non-2xx | >= 90% |")
        w("|---|---:|---:|---:|---:|---:|---:|---|")
        for line in auth_rows:
            w(line)
        w("")
    expand_rows = []
    def mean_rps(keys):
        values = [v for v in (num(kv, f"{k}.rps") for k in keys) if v is not None]
        return sum(values) / len(values) if values else None

    for keys, plain_keys, label in EXPAND_PAIRS:
        rps, plain = mean_rps(keys), mean_rps(plain_keys)
        if rps is None or not plain:
            continue
        ratio = rps / plain
        non2xx = sum(num(kv, f"{k}.non2xx") or 0 for k in keys)
        ok = ratio >= EXPAND_MIN_RATIO and not non2xx
        expand_rows.append(
            f"| {label} | {fmt_int(plain)} | {fmt_int(rps)} | {ratio:.1%} | "
            f"{fmt_ms(num(kv, f'{plain_keys[0]}.p99_us'))} | {fmt_ms(num(kv, f'{keys[0]}.p99_us'))} | "
            f"{fmt_int(non2xx)} | {verdict([ok])} |")
    if expand_rows:
        w("Expand (issue 4: listing 20 animals with their zoo must reach at least 70% of the requests/s of "
          "the same list without expand):")
        w("")
        w("| list | list req/s (mean) | expand req/s (mean) | expand / list | p99 list | p99 expand | non-2xx | >= 70% |")
        w("|---|---:|---:|---:|---:|---:|---:|---|")
        for line in expand_rows:
            w(line)
        w("")
    graphql_rows = []
    for key, rest_keys, label in GRAPHQL_PAIRS:
        rps = num(kv, f"{key}.rps")
        rest = [num(kv, f"{k}.rps") for k in rest_keys]
        rest = [r for r in rest if r is not None]
        if rps is None or not rest:
            continue
        mean = sum(rest) / len(rest)
        ratio = rps / mean
        non2xx = num(kv, f"{key}.non2xx")
        ok = ratio >= GRAPHQL_MIN_RATIO and not non2xx
        rest_text = " / ".join(fmt_int(r) for r in rest) + (f" (mean {fmt_int(mean)})" if len(rest) > 1 else "")
        rest_p99 = " / ".join(fmt_ms(num(kv, f"{k}.p99_us")) for k in rest_keys if num(kv, f"{k}.p99_us") is not None)
        # The two statements at the driver (no HTTP): the ceiling of the REST operation and
        # of the GraphQL one.
        c_rest, c_gql = num(kv, f"ceiling.{rest_keys[0]}.qps"), num(kv, f"ceiling.{key}.qps")
        driver = (f"{fmt_int(c_rest)} / {fmt_int(c_gql)} ({c_gql / c_rest:.0%})" if c_rest and c_gql else "—")
        # The server's CPU time per request, which other load on the machine moves less.
        cpu_rest = [num(kv, f"{k}.server_cpu_us") for k in rest_keys]
        cpu_rest = [c for c in cpu_rest if c is not None]
        cpu_gql = num(kv, f"{key}.server_cpu_us")
        cpu = (f"{' / '.join(fmt_int(c) for c in cpu_rest)} / {fmt_int(cpu_gql)}" if cpu_rest and cpu_gql is not None
               else "—")
        graphql_rows.append(
            f"| {label} | {rest_text} | {fmt_int(rps)} | {ratio:.1%} | {rest_p99} | {fmt_ms(num(kv, f'{key}.p99_us'))} | "
            f"{driver} | {cpu} | {fmt_int(non2xx)} | {verdict([ok])} |")
    if graphql_rows:
        w("GraphQL (issue 5: the GraphQL query of 20 animals with their zoo's name must reach at least 70% of the "
          "requests/s of the same page through REST, `<list path>&expand=zoo`). Query, sent as "
          f"`POST /graphql` `{{\"query\": ...}}`: `{GRAPHQL_QUERY}`. Each answer was checked before and after its "
          "run: no `errors`, the REST page's 20 rows in its order, exactly the selected keys. Where two REST runs "
          "are given they ran right before and right after the GraphQL run; the ratio is against their mean, "
          "their difference is the noise. Server CPU per request: the server process's user + system time over "
          "the measured run / its requests (on Postgres without the database's own CPU).")
        w("")
        w("| list | REST expand req/s | GraphQL req/s | GraphQL / REST | p99 REST | p99 GraphQL | "
          "statements at the driver, q/s REST / GraphQL | server CPU µs per request, REST / GraphQL | non-2xx | "
          ">= 70% |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for line in graphql_rows:
            w(line)
        w("")
        sizes = [(label, num(kv, f"bytes.{key}")) for key, label in
                 [("expand", "REST expand"), ("graphql", "GraphQL"), ("graphql_nested", "GraphQL nested")]]
        sizes = [f"{label} {size:,.0f} B" for label, size in sizes if size is not None]
        if sizes:
            w(f"Response bodies: {'; '.join(sizes)} (REST returns every field of each animal and of its zoo).")
            w("")
    nested_rows = []
    for key, label in GRAPHQL_NESTED:
        rps = num(kv, f"{key}.rps")
        if rps is None:
            continue
        nested_rows.append(
            f"| {label} | {fmt_int(rps)} | {fmt_ms(num(kv, f'{key}.p50_us'))} | {fmt_ms(num(kv, f'{key}.p99_us'))} | "
            f"{fmt_int(num(kv, f'{key}.server_cpu_us'))} | {fmt_int(num(kv, f'{key}.non2xx'))} |")
    if nested_rows:
        w(f"GraphQL three levels deep (no target; one statement): `{GRAPHQL_NESTED_QUERY}` — 5 zoos, 50 animals, "
          "each answer checked against REST's lists of the same zoos and animals.")
        w("")
        w("| list | req/s | p50 | p99 | server CPU µs per request | non-2xx |")
        w("|---|---:|---:|---:|---:|---:|")
        for line in nested_rows:
            w(line)
        w("")
    login = num(kv, "login.rps")
    if login is not None:
        note = "" if kv.get("login_hwm_reset") == "1" else " (VmHWM could not be reset: includes everything before)"
        w(f"Logins: `POST /api/auth/login` as the ordinary user, wrk -t{kv.get('threads')} "
          f"-c{kv.get('connections')} -d{kv.get('login_duration')}s after a {kv.get('login_warmup')} s warm-up "
          f"(login limits set to 100,000,000 a minute); passwords hashed with {ARGON2}; each login also "
          f"stores a refresh token.")
        w("")
        w("| logins/s | p50 | p99 | non-2xx | socket errors | RSS before / after | peak RSS during the logins (VmHWM) |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        w(f"| {login:,.1f} | {fmt_ms(num(kv, 'login.p50_us'))} | {fmt_ms(num(kv, 'login.p99_us'))} | "
          f"{fmt_int(num(kv, 'login.non2xx'))} | {fmt_int(num(kv, 'login.errors'))} | "
          f"{fmt_mib(num(kv, 'login_rss_before_kib'))} / {fmt_mib(num(kv, 'login_rss_after_kib'))} | "
          f"{fmt_mib(num(kv, 'login.hwm_kib'))}{note} |")
        w("")
    problems = num(kv, "server_log_problems")
    if problems:
        w(f"**The server logged {problems:.0f} ERROR/WARN lines**; first: `{kv.get('server_log_excerpt', '')}`")
        w("")
    w("| measure | value | target | met |")
    w("|---|---:|---|---|")
    rt = RESOURCE_TARGETS.get(store, {})

    def row(label, key, value_text, value, lower_is_better, unit):
        target = rt.get(key)
        if target is None:
            w(f"| {label} | {value_text} | — | |")
            return
        ok = value is not None and (value <= target if lower_is_better else value >= target)
        sign = "<=" if lower_is_better else ">="
        w(f"| {label} | {value_text} | {sign} {target:,} {unit} | {verdict([ok])} |")

    bulk = num(kv, "bulk_rps")
    row("bulk load (NDJSON, %s requests of %s rows)" % (kv.get("bulk_requests", "?"), kv.get("chunk", "?")),
        "bulk_rps", f"{fmt_int(bulk)} rows/s ({kv.get('bulk_seconds', '?')} s)", bulk, False, "rows/s")
    cold = num(kv, "cold_start_ms")
    row("cold start to first good /health (median; fresh store, no admin to create)", "cold_start_ms",
        f"{'—' if cold is None else f'{cold:.1f} ms'} (runs: {kv.get('cold_start_runs', '?')} ms)", cold, True, "ms")
    cold_admin = num(kv, "cold_start_admin_ms")
    if cold_admin is not None:
        w(f"| first start creating the first admin (one argon2 hash), the run's server | {cold_admin:.1f} ms | — | |")
    w(f"| RSS just after start (empty store) | {fmt_mib(num(kv, 'rss_start_kib'))} | — | |")
    idle = num(kv, "rss_idle_kib")
    row("idle RSS (after seeding)", "rss_idle_mib", fmt_mib(idle), None if idle is None else idle / 1024, True, "MiB")
    w(f"| peak RSS during the bulk load (VmHWM) | {fmt_mib(num(kv, 'hwm_seed_kib'))} | — | |")
    hwm = num(kv, "hwm_load_kib")
    note = "" if kv.get("hwm_reset") == "1" else " (VmHWM could not be reset after seeding: includes the bulk load)"
    row(f"peak RSS under request load (VmHWM; every operation but login){note}", "hwm_load_mib", fmt_mib(hwm),
        None if hwm is None else hwm / 1024, True, "MiB")
    snapshots = [f"{label} {fmt_mib(num(kv, f'{key}.rss_kib'))} ({fmt_mib(num(kv, f'{key}.hwm_kib'))})"
                 for key, label, _, _ in OPS if num(kv, f"{key}.rss_kib") is not None]
    if snapshots:
        w(f"| RSS (VmHWM) after each operation | {'; '.join(snapshots)} | — | |")
    size = num(kv, "binary_bytes")
    w(f"| binary size (target/release/tessera) | {'—' if size is None else f'{size / 1048576:.1f} MiB'} | — | |")
    w("")
    w("The raw ceiling runs the server's own statement for each operation through the driver, no HTTP "
      "(`bench/ceiling`); its rows were checked identical to the HTTP answers before measuring. Statements:")
    w("")
    for key, label, _, _ in OPS:
        sql = kv.get(f"sql.{key}")
        if sql:
            w(f"- {label}: `{sql}` with `{kv.get(f'params.{key}', '')}`")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
