//! Listing rows: the filter language (every operator, literals, null, logic, dates), its
//! errors with positions, sort, limit/offset, total, fields, keyset cursors on both stores'
//! null orders, and SQL-looking filter values.

use crate::both_stores;
use crate::harness::{assert_error, base64url_decode, base64url_encode, StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::cmp::Ordering;

both_stores!(
    filter_operators,
    filter_logic_and_null,
    filter_dates_and_datetimes,
    filter_literals_and_escapes,
    contains_escapes_wildcards,
    contains_ignores_case_beyond_ascii,
    decimal_comparisons_are_exact,
    filter_errors_name_the_position,
    sort_orders,
    limit_offset_total_fields,
    every_page_size_answers,
    cursor_walks_every_row_once,
    cursor_errors,
    sql_in_filter_values_is_just_text,
);

/// `animals` with a few rows chosen for the filters below (ids 1..=8 in this order).
async fn animals(t: &TestApp) {
    t.create_table(
        "animals",
        json!({
            "name": {"type": "string", "required": true},
            "species": "string",
            "age": {"type": "integer", "indexed": true},
            "weight": "float",
            "vaccinated": "boolean",
            "born": "date",
            "seen": "datetime",
            "notes": "text"
        }),
    )
    .await;
    t.insert(
        "animals",
        json!([
            {"name": "Leo", "species": "lion", "age": 7, "weight": 190.5, "vaccinated": true,
             "born": "2017-03-01", "seen": "2024-01-01T10:00:00Z", "notes": "100% lion"},
            {"name": "Mia", "species": "cat", "age": 60, "weight": 4.2, "vaccinated": false,
             "born": "1964-05-05", "seen": "2024-02-01T00:00:00+02:00", "notes": "under_score"},
            {"name": "Bo", "species": "dog", "age": 70, "weight": 30.5, "vaccinated": true},
            {"name": "Leona", "species": "cat", "age": 3, "vaccinated": false,
             "born": "2021-01-01", "seen": "2023-12-31T23:59:59Z", "notes": "plain"},
            {"name": "Rex", "species": "dog", "weight": 25.25, "born": "2020-06-15", "seen": "2024-06-01T12:00:00Z"},
            {"name": "Kit", "age": 51, "weight": 3.3, "vaccinated": true, "born": "2019-01-01", "notes": "a\\b"},
            {"name": "O'Brien \"the cat\"", "species": "cat", "age": 12},
            {"name": "Zed", "species": "ZEBRA", "age": -4}
        ]),
    )
    .await;
}

/// Names of the rows a filter matches, in id order.
async fn matching(t: &TestApp, filter: &str) -> Vec<String> {
    let (status, body) = t.list_with("animals", &[("filter", filter), ("limit", "1000")]).await;
    assert_eq!(status, StatusCode::OK, "filter {filter}: {body}");
    body["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

#[track_caller]
fn check(filter: &str, got: Vec<String>, expected: &[&str]) {
    assert_eq!(got, expected, "filter {filter}");
}

async fn expect(t: &TestApp, filter: &str, expected: &[&str]) {
    check(filter, matching(t, filter).await, expected);
}

const OBRIEN: &str = "O'Brien \"the cat\"";

async fn filter_operators(t: TestApp) {
    animals(&t).await;
    expect(&t, "age = 7", &["Leo"]).await;
    expect(&t, "age != 7", &["Mia", "Bo", "Leona", "Rex", "Kit", OBRIEN, "Zed"]).await;
    expect(&t, "age > 50", &["Mia", "Bo", "Kit"]).await;
    expect(&t, "age >= 60", &["Mia", "Bo"]).await;
    expect(&t, "age < 7", &["Leona", "Zed"]).await;
    expect(&t, "age <= 7", &["Leo", "Leona", "Zed"]).await;
    expect(&t, "age > -1", &["Leo", "Mia", "Bo", "Leona", "Kit", OBRIEN]).await;
    expect(&t, "50 < age", &["Mia", "Bo", "Kit"]).await;
    expect(&t, "weight > 4.2", &["Leo", "Bo", "Rex"]).await;
    expect(&t, "weight >= 4.2", &["Leo", "Mia", "Bo", "Rex"]).await;
    expect(&t, "weight = 25.25", &["Rex"]).await;
    expect(&t, "weight < 1e1", &["Mia", "Kit"]).await;
    expect(&t, "species = \"cat\"", &["Mia", "Leona", OBRIEN]).await;
    expect(&t, "species = 'cat'", &["Mia", "Leona", OBRIEN]).await;
    expect(&t, "species > \"dog\"", &["Leo"]).await;
    expect(&t, "name ~ \"leo\"", &["Leo", "Leona"]).await;
    expect(&t, "name ~ \"EON\"", &["Leona"]).await;
    expect(&t, "species ~ \"zeb\"", &["Zed"]).await;
    expect(&t, "name !~ \"leo\"", &["Mia", "Bo", "Rex", "Kit", OBRIEN, "Zed"]).await;
    expect(&t, "species in (\"cat\", \"dog\")", &["Mia", "Bo", "Leona", "Rex", OBRIEN]).await;
    expect(&t, "species IN ('lion')", &["Leo"]).await;
    expect(&t, "age in (7, 60, 1000)", &["Leo", "Mia"]).await;
    expect(&t, "vaccinated = true", &["Leo", "Bo", "Kit"]).await;
    expect(&t, "vaccinated = FALSE", &["Mia", "Leona"]).await;
    expect(&t, "id > 6", &[OBRIEN, "Zed"]).await;
    // Whitespace is free.
    expect(&t, "age>50&&age<=60", &["Mia", "Kit"]).await;
    expect(&t, "  age   =   7  ", &["Leo"]).await;
}

async fn filter_logic_and_null(t: TestApp) {
    animals(&t).await;
    expect(&t, "species = null", &["Kit"]).await;
    expect(&t, "species != null", &["Leo", "Mia", "Bo", "Leona", "Rex", OBRIEN, "Zed"]).await;
    expect(&t, "age = null", &["Rex"]).await;
    expect(&t, "null = weight", &["Leona", OBRIEN, "Zed"]).await;
    // != is the complement of =, nulls included.
    expect(&t, "species != \"cat\"", &["Leo", "Bo", "Rex", "Kit", "Zed"]).await;
    expect(&t, "vaccinated != true", &["Mia", "Leona", "Rex", OBRIEN, "Zed"]).await;
    // Ordering never matches null; !~ always does.
    expect(&t, "age > -100", &["Leo", "Mia", "Bo", "Leona", "Kit", OBRIEN, "Zed"]).await;
    expect(&t, "notes !~ \"lion\"", &["Mia", "Bo", "Leona", "Rex", "Kit", OBRIEN, "Zed"]).await;
    // The example.
    expect(&t, "age > 50 && (species = \"cat\" || name ~ \"Leo\")", &["Mia"]).await;
    expect(&t, "age > 50 || species = \"lion\"", &["Leo", "Mia", "Bo", "Kit"]).await;
    expect(&t, "species = \"dog\" || species = \"cat\" && age > 50", &["Mia", "Bo", "Rex"]).await;
    expect(&t, "(species = \"dog\" || species = \"cat\") && age > 50", &["Mia", "Bo"]).await;
    expect(&t, "!(species = \"cat\")", &["Leo", "Bo", "Rex", "Kit", "Zed"]).await;
    expect(&t, "!(age > 50)", &["Leo", "Leona", "Rex", OBRIEN, "Zed"]).await;
    expect(&t, "!(!(age > 50))", &["Mia", "Bo", "Kit"]).await;
    expect(&t, "!(age > 50 || age = null) && species != null", &["Leo", "Leona", OBRIEN, "Zed"]).await;
    expect(&t, "((((age = 7))))", &["Leo"]).await;
    expect(&t, "age = 7 && age = 8", &[]).await;
}

async fn filter_dates_and_datetimes(t: TestApp) {
    animals(&t).await;
    expect(&t, "born = \"2017-03-01\"", &["Leo"]).await;
    expect(&t, "born > \"2019-12-31\"", &["Leona", "Rex"]).await;
    expect(&t, "born >= \"2019-01-01\" && born < \"2021-01-01\"", &["Rex", "Kit"]).await;
    expect(&t, "born < \"1970-01-01\"", &["Mia"]).await;
    expect(&t, "born = null", &["Bo", OBRIEN, "Zed"]).await;
    // Mia was seen at 2024-01-31T22:00:00Z (written with a +02:00 offset).
    expect(&t, "seen = \"2024-01-31T22:00:00Z\"", &["Mia"]).await;
    expect(&t, "seen = \"2024-02-01T00:00:00+02:00\"", &["Mia"]).await;
    expect(&t, "seen > \"2024-01-31T21:59:59.999999Z\"", &["Mia", "Rex"]).await;
    expect(&t, "seen >= \"2024-01-01T10:00:00Z\"", &["Leo", "Mia", "Rex"]).await;
    // 10:00+01:00 is 09:00Z.
    expect(&t, "seen < \"2024-01-01T10:00:00+01:00\"", &["Leona"]).await;
    expect(&t, "seen < \"2024-01-01\"", &["Leona"]).await;
    expect(&t, "created_at > \"2000-01-01T00:00:00Z\" && age = 7", &["Leo"]).await;
    // A malformed date literal is the user's error.
    let result = t.list_with("animals", &[("filter", "born > \"2024-02-30\"")]).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_filter");
    assert_eq!(result.1["error"]["details"][0]["position"], 7, "{}", result.1);
}

async fn filter_literals_and_escapes(t: TestApp) {
    animals(&t).await;
    expect(&t, "name = \"O'Brien \\\"the cat\\\"\"", &[OBRIEN]).await;
    expect(&t, "name = 'O\\'Brien \"the cat\"'", &[OBRIEN]).await;
    expect(&t, "notes = \"a\\\\b\"", &["Kit"]).await;
    expect(&t, "name ~ \"'\"", &[OBRIEN]).await;
    expect(&t, "name ~ '\"'", &[OBRIEN]).await;
    expect(&t, "age = 7.0", &["Leo"]).await;
    expect(&t, "age = -4", &["Zed"]).await;
    expect(&t, "weight = 1.905e2", &["Leo"]).await;
    expect(&t, "species = \"\"", &[]).await;
}

/// `%` and `_` in a `~` string are literal characters, not SQL wildcards.
async fn contains_escapes_wildcards(t: TestApp) {
    animals(&t).await;
    expect(&t, "notes ~ \"%\"", &["Leo"]).await;
    expect(&t, "notes ~ \"_\"", &["Mia"]).await;
    expect(&t, "notes ~ \"\\\\\"", &["Kit"]).await;
    expect(&t, "notes !~ \"%\"", &["Mia", "Bo", "Leona", "Rex", "Kit", OBRIEN, "Zed"]).await;
}

/// `~` is documented as case-insensitive; that should not stop at ASCII.
async fn contains_ignores_case_beyond_ascii(t: TestApp) {
    t.create_table("people", json!({"name": "string"})).await;
    t.insert("people", json!([{"name": "Éloïse"}, {"name": "Ödön"}, {"name": "eloise"}])).await;
    let (status, body) = t.list_with("people", &[("filter", "name ~ \"ÉLOÏ\"")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Éloïse"]);
    let (_, body) = t.list_with("people", &[("filter", "name ~ \"ödön\"")]).await;
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ödön"], "{body}");
}

/// Decimals are exact (up to 38 digits): comparisons must not go through a float.
async fn decimal_comparisons_are_exact(t: TestApp) {
    t.create_table("prices", json!({"label": "string", "price": "decimal"})).await;
    t.insert(
        "prices",
        json!([
            {"label": "a", "price": "0.1"},
            {"label": "b", "price": "0.10000000000000001"},
            {"label": "c", "price": "12345678901234567890.1"},
            {"label": "d", "price": "12345678901234567890.2"}
        ]),
    )
    .await;
    let labels = |body: &Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap().to_string()).collect()
    };
    let mut problems = Vec::new();
    for (filter, expected) in [
        ("price > \"0.1\" && price < 1", vec!["b"]),
        ("price = \"0.1\"", vec!["a"]),
        ("price = 0.1", vec!["a"]),
        ("price > \"12345678901234567890.1\"", vec!["d"]),
        ("price = \"12345678901234567890.2\"", vec!["d"]),
    ] {
        let (status, body) = t.list_with("prices", &[("filter", filter)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if labels(&body) != expected {
            problems.push(format!("filter {filter}: {:?}, expected {expected:?}", labels(&body)));
        }
    }
    let (_, body) = t.list_with("prices", &[("sort", "-price")]).await;
    if labels(&body) != ["d", "c", "b", "a"] {
        problems.push(format!("sort -price: {:?}, expected [d, c, b, a]", labels(&body)));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

async fn filter_errors_name_the_position(t: TestApp) {
    animals(&t).await;
    let before = t.snapshot("animals").await;
    // (filter, position of the offending input, in characters)
    let cases: &[(&str, Option<u64>)] = &[
        ("age >> 5", Some(5)),
        ("age == 5", Some(4)),
        ("age & 5", Some(4)),
        ("name = \"abc", Some(7)),
        ("nope = 1", Some(0)),
        ("age > 5 && nope = 1", Some(11)),
        ("name = \"é\" && nope = 1", Some(14)),
        ("age > \"old\"", Some(6)),
        ("vaccinated > true", None),
        ("age > null", None),
        ("!age > 5", None),
        ("age >", None),
        ("(age > 5", None),
        ("age > 5)", Some(7)),
        ("age > 5 age < 3", Some(8)),
        ("age in ()", None),
        ("name ~ 5", None),
        ("age 5", Some(4)),
        ("age > 5; DROP TABLE animals", Some(7)),
        ("age > 99999999999999999999999", Some(6)),
        ("@request.auth.id = 1", Some(0)),
    ];
    for (filter, position) in cases {
        let result = t.list_with("animals", &[("filter", filter)]).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_filter");
        let detail = &result.1["error"]["details"][0];
        assert_eq!(detail["parameter"], "filter", "{filter}: {}", result.1);
        assert!(detail["position"].is_u64(), "{filter}: {}", result.1);
        if let Some(position) = position {
            assert_eq!(detail["position"], *position, "{filter}: {}", result.1);
        }
    }
    // Too long, too deep, too many conditions: 400, never 5xx.
    let long = format!("name = \"{}\"", "x".repeat(5000));
    let deep = format!("{}age = 1{}", "(".repeat(200), ")".repeat(200));
    let many = vec!["age = 1"; 300].join(" || ");
    for filter in [long, deep, many] {
        let result = t.list_with("animals", &[("filter", &filter)]).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.1);
        assert!(result.1["error"]["code"].is_string(), "{}", result.1);
    }
    assert_eq!(t.snapshot("animals").await, before);
}

/// The position of each row's value in a store's order: nulls first ascending on SQLite,
/// last on Postgres (README).
fn compare_values(kind: StoreKind, a: &Value, b: &Value, descending: bool) -> Ordering {
    let ascending = match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if kind == StoreKind::Sqlite {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if kind == StoreKind::Sqlite {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (false, false) => match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap().partial_cmp(&y.as_f64().unwrap()).unwrap(),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::String(x), Value::String(y)) => x.cmp(y),
            _ => panic!("cannot compare {a} and {b}"),
        },
    };
    if descending {
        ascending.reverse()
    } else {
        ascending
    }
}

/// Sorts rows the way a store should for a sort specification (ties by id).
fn expected_order(kind: StoreKind, rows: &[Value], spec: &str) -> Vec<i64> {
    let keys: Vec<(&str, bool)> = spec
        .split(',')
        .filter(|k| !k.is_empty())
        .map(|k| match k.strip_prefix('-') {
            Some(name) => (name, true),
            None => (k, false),
        })
        .collect();
    // Ties are broken by id in the direction of the last sort key (so an index walk
    // serves the whole order).
    let id_descending = keys.last().is_some_and(|(_, descending)| *descending);
    let mut sorted: Vec<&Value> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        keys.iter()
            .map(|(key, descending)| compare_values(kind, &a[*key], &b[*key], *descending))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| {
                let by_id = a["id"].as_i64().cmp(&b["id"].as_i64());
                if id_descending {
                    by_id.reverse()
                } else {
                    by_id
                }
            })
    });
    sorted.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

fn ids(items: &Value) -> Vec<i64> {
    items.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

async fn sort_orders(t: TestApp) {
    animals(&t).await;
    let rows = t.all_rows("animals").await;
    for spec in ["-age,name", "age", "species,-age", "-species,name", "name", "-born", "seen,id", "vaccinated,-weight"]
    {
        let (status, body) = t.list_with("animals", &[("sort", spec)]).await;
        assert_eq!(status, StatusCode::OK, "{spec}: {body}");
        assert_eq!(ids(&body["items"]), expected_order(t.kind, &rows, spec), "sort {spec} on {:?}", t.kind);
    }
    // The example, spelled out: age descending, ties by name.
    let (_, body) = t.list_with("animals", &[("sort", "-age,name"), ("filter", "age != null")]).await;
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Bo", "Mia", "Kit", OBRIEN, "Leo", "Leona", "Zed"]);
    // Null placement per store.
    let (_, body) = t.list_with("animals", &[("sort", "age")]).await;
    let first_and_last = (body["items"][0]["name"].clone(), body["items"][7]["name"].clone());
    match t.kind {
        StoreKind::Sqlite => assert_eq!(first_and_last.0, "Rex", "nulls first ascending on SQLite"),
        StoreKind::Postgres => assert_eq!(first_and_last.1, "Rex", "nulls last ascending on Postgres"),
    }
    for bad in ["nope", "age,age", "-", "age,,name", "name;drop", "+", "age desc"] {
        let result = t.list_with("animals", &[("sort", bad)]).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_sort");
        assert_eq!(result.1["error"]["details"][0]["parameter"], "sort", "{bad}");
    }
}

/// `seq`: 95 rows; `n` = 1..=95 (equal to the id), `grp` with many duplicates, `score`
/// with duplicates and a null in every fifth row, `label` text.
async fn seq(t: &TestApp) -> Vec<Value> {
    t.create_table(
        "seq",
        json!({"n": "integer", "grp": {"type": "integer", "indexed": true}, "score": "integer", "label": "string"}),
    )
    .await;
    let rows: Vec<Value> = (1..=95)
        .map(|n: i64| {
            let score = if n % 5 == 0 { Value::Null } else { json!((n * 37) % 11) };
            json!({"n": n, "grp": n % 7, "score": score, "label": format!("r{:03}", (n * 53) % 97)})
        })
        .collect();
    let inserted = t.insert("seq", Value::Array(rows)).await;
    assert_eq!(inserted, (1..=95).collect::<Vec<i64>>());
    t.all_rows("seq").await
}

async fn limit_offset_total_fields(t: TestApp) {
    seq(&t).await;
    let (status, body) = t.list_with("seq", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().unwrap().len(), 30, "default limit");
    assert_eq!(body["limit"], 30);
    assert_eq!(body["offset"], 0);
    assert!(body.get("total").is_none(), "no count unless asked: {}", body["total"]);
    assert_eq!(ids(&body["items"]), (1..=30).collect::<Vec<i64>>(), "id order without a sort");

    let (_, body) = t.list_with("seq", &[("limit", "1000")]).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 95);
    assert!(body.get("next_cursor").is_none(), "not a full page");
    let (_, body) = t.list_with("seq", &[("limit", "1")]).await;
    assert_eq!(ids(&body["items"]), [1]);

    let (_, body) = t.list_with("seq", &[("limit", "10"), ("offset", "90")]).await;
    assert_eq!(ids(&body["items"]), [91, 92, 93, 94, 95]);
    assert_eq!(body["offset"], 90);
    let (_, body) = t.list_with("seq", &[("offset", "500")]).await;
    assert_eq!(body["items"], json!([]));
    let (_, body) = t.list_with("seq", &[("limit", "5"), ("offset", "3"), ("sort", "-n")]).await;
    assert_eq!(ids(&body["items"]), [92, 91, 90, 89, 88]);

    let (_, body) = t.list_with("seq", &[("total", "true"), ("limit", "2")]).await;
    assert_eq!(body["total"], 95);
    let (_, body) = t.list_with("seq", &[("total", "true"), ("limit", "2"), ("filter", "n > 90")]).await;
    assert_eq!(body["total"], 5, "total counts the filtered rows, not the page");
    assert_eq!(ids(&body["items"]), [91, 92]);
    let (_, body) = t.list_with("seq", &[("total", "true"), ("offset", "94")]).await;
    assert_eq!(body["total"], 95, "total ignores offset");
    let (_, body) = t.list_with("seq", &[("total", "false")]).await;
    assert!(body.get("total").is_none());

    let (_, body) = t.list_with("seq", &[("fields", "n,grp"), ("limit", "3")]).await;
    for item in body["items"].as_array().unwrap() {
        let mut keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["grp", "n"], "{item}");
    }
    assert_eq!(body["items"][2], json!({"n": 3, "grp": 3}));
    let (_, body) = t.list_with("seq", &[("fields", "id,label,created_at"), ("limit", "1")]).await;
    let mut keys: Vec<&String> = body["items"][0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "id", "label"]);

    for (parameter, value) in [
        ("limit", "1001"),
        ("limit", "0"),
        ("limit", "abc"),
        ("limit", "-1"),
        ("limit", "1.5"),
        ("limit", "99999999999999999999"),
        ("offset", "abc"),
        ("offset", "-1"),
        ("offset", "99999999999999999999"),
        ("total", "maybe"),
        ("fields", "n,nope"),
    ] {
        let result = t.list_with("seq", &[(parameter, value)]).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(result.1["error"]["details"][0]["parameter"], parameter, "{parameter}={value}: {}", result.1);
    }
    // The largest offset a client can write is not an error.
    let (status, body) = t.list_with("seq", &[("offset", "18446744073709551615")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"], json!([]));
}

/// A page size is part of the statement's text (Postgres plans a page it can see once),
/// so each size is a statement of its own: each answers its page (the bound on cached
/// statements is tested in tessera-store's `postgres` module).
async fn every_page_size_answers(t: TestApp) {
    seq(&t).await;
    for limit in 1..=120usize {
        let (status, body) =
            t.list_with("seq", &[("limit", &limit.to_string()), ("offset", "1"), ("filter", "n > 0")]).await;
        assert_eq!(status, StatusCode::OK, "limit {limit}: {body}");
        let expected: Vec<i64> = (2..=95).take(limit).collect();
        assert_eq!(ids(&body["items"]), expected, "limit {limit}");
    }
}

/// Follows `next_cursor` from the first page to the last.
async fn walk(t: &TestApp, extra: &[(&str, &str)]) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..30 {
        let mut params: Vec<(&str, &str)> = vec![("limit", "10")];
        params.extend_from_slice(extra);
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor));
        }
        let (status, body) = t.list_with("seq", &params).await;
        assert_eq!(status, StatusCode::OK, "{params:?}: {body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 10);
        rows.extend(items.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), 10, "a cursor only after a full page");
                cursor = Some(next.to_string());
            }
            None => return rows,
        }
    }
    panic!("the walk did not end: {extra:?}");
}

async fn cursor_walks_every_row_once(t: TestApp) {
    let all = seq(&t).await;
    for spec in ["", "grp,-score", "-score", "score,grp", "-grp,score,-label", "label"] {
        let mut extra = vec![];
        if !spec.is_empty() {
            extra.push(("sort", spec));
        }
        let walked = walk(&t, &extra).await;
        let walked_ids: Vec<i64> = walked.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        let mut unique = walked_ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 95, "sort {spec:?}: every row exactly once, got {} rows", walked_ids.len());
        assert_eq!(walked_ids.len(), 95, "sort {spec:?}: no row twice");
        // The same order as one big page, and as the store orders nulls.
        let mut one_page_params = extra.clone();
        one_page_params.push(("limit", "1000"));
        let (_, one_page) = t.list_with("seq", &one_page_params).await;
        assert_eq!(walked_ids, ids(&one_page["items"]), "sort {spec:?}: pages in the order of one page");
        assert_eq!(walked_ids, expected_order(t.kind, &all, spec), "sort {spec:?} on {:?}", t.kind);
    }
    // With a filter, and with a selection that keeps the sort fields and id.
    let walked = walk(&t, &[("sort", "-score,grp"), ("filter", "grp != 3"), ("fields", "id,score,grp")]).await;
    let expected: Vec<Value> = all.iter().filter(|r| r["grp"] != 3).cloned().collect();
    assert_eq!(
        walked.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(),
        expected_order(t.kind, &expected, "-score,grp")
    );
    assert!(walked.iter().all(|r| r.as_object().unwrap().len() == 3));
    // Rows added behind the cursor do not disturb the pages ahead.
    let (_, first) = t.list_with("seq", &[("limit", "10"), ("sort", "n")]).await;
    t.insert("seq", json!([{"n": 0, "grp": 0}])).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = t.list_with("seq", &[("limit", "10"), ("sort", "n"), ("cursor", cursor)]).await;
    assert_eq!(ids(&second["items"]), (11..=20).collect::<Vec<i64>>());
}

async fn cursor_errors(t: TestApp) {
    seq(&t).await;
    let (_, page) = t.list_with("seq", &[("limit", "10"), ("sort", "grp,-score")]).await;
    let cursor = page["next_cursor"].as_str().expect("a full page has a next_cursor").to_string();
    let app = &t;
    let next = |cursor: String, sort: &'static str| async move {
        app.list_with("seq", &[("limit", "10"), ("sort", sort), ("cursor", cursor.as_str())]).await
    };
    let (status, _) = next(cursor.clone(), "grp,-score").await;
    assert_eq!(status, StatusCode::OK);

    let decoded: Value = serde_json::from_slice(&base64url_decode(&cursor).expect("base64url")).expect("json");
    let craft = |token: Value| base64url_encode(token.to_string().as_bytes());
    let tampered = [
        format!("{cursor}!!"),
        cursor[..cursor.len() / 2].to_string(),
        "not a cursor".to_string(),
        "e30".to_string(),
        craft(json!({"s": "grp,-score", "v": ["x", 1, 2]})),
        craft(json!({"s": "grp,-score", "v": [1]})),
        craft(json!({"s": "grp,-score", "v": [1, 2, 3, 4]})),
        craft(json!({"s": "grp,-score"})),
        craft(json!([1, 2, 3])),
    ];
    for bad in tampered {
        let result = next(bad.clone(), "grp,-score").await;
        assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(result.1["error"]["details"][0]["parameter"], "cursor", "{bad}: {}", result.1);
    }
    // A cursor is bound to its sort.
    for other_sort in ["grp,score", "-grp,-score", "grp", "score,grp"] {
        let result = next(cursor.clone(), other_sort).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(result.1["error"]["details"][0]["parameter"], "cursor");
    }
    let result = t.list_with("seq", &[("limit", "10"), ("cursor", &cursor)]).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
    // Cursor and offset exclude each other.
    let result =
        t.list_with("seq", &[("limit", "10"), ("sort", "grp,-score"), ("cursor", &cursor), ("offset", "5")]).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(result.1["error"]["details"][0]["parameter"], "cursor");
    assert_eq!(decoded["s"], "grp,-score", "the token holds its sort: {decoded}");
}

async fn sql_in_filter_values_is_just_text(t: TestApp) {
    animals(&t).await;
    let before = t.snapshot("animals").await;
    for filter in [
        "name = \"x'; DROP TABLE animals; --\"",
        "name = 'x\\'; DROP TABLE animals; --'",
        "name = \"x\\\" OR 1=1 --\"",
        "name ~ \"'; DELETE FROM animals; --\"",
        "species in (\"a') OR ('1'='1\", \"b\")",
        "name = \"Leo' OR '1'='1\"",
        "name = \"Robert\\\"); DROP TABLE animals;--\"",
    ] {
        check(filter, matching(&t, filter).await, &[]);
    }
    for filter in ["age > 5; DROP TABLE animals", "age > 5 -- comment", "age > 5 OR 1=1", "age = 1 UNION SELECT 1"] {
        let result = t.list_with("animals", &[("filter", filter)]).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_filter");
    }
    for sort in ["name; DROP TABLE animals", "(SELECT 1)", "name DESC"] {
        assert_error(&t.list_with("animals", &[("sort", sort)]).await, StatusCode::BAD_REQUEST, "invalid_sort");
    }
    assert_eq!(t.snapshot("animals").await, before, "the table is intact");
}
