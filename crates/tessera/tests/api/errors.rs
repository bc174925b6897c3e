//! Bad input of every kind: malformed JSON, wrong content types, oversized bodies, unknown
//! tables, rows and routes, wrong methods, invalid UTF-8, deep JSON, huge numbers,
//! SQL-looking names and values, unknown query parameters. Each gets a 4xx in the one error
//! shape and changes nothing; nothing answers 5xx.

use crate::both_stores;
use crate::harness::{assert_error, Snapshot, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_http::HttpConfig;

both_stores!(
    malformed_json_is_400,
    wrong_content_type_is_415,
    oversized_bodies_are_413,
    unknown_tables_and_rows_are_404,
    unknown_routes_and_wrong_methods,
    invalid_utf8_is_400,
    deep_json_is_400_and_the_server_lives_on,
    huge_numbers,
    integers_are_never_rounded,
    decimal_numbers_keep_every_digit,
    sql_looking_names_are_refused,
    bad_field_names_are_named_in_details,
    sql_looking_values_are_stored_verbatim,
    unknown_query_parameters_are_400,
    nul_characters_are_refused_alike,
    no_bad_request_is_a_5xx,
);

async fn animals(t: &TestApp) -> Snapshot {
    t.create_table("animals", json!({"name": {"type": "string", "required": true}, "age": "integer", "doc": "json"}))
        .await;
    t.insert("animals", json!([{"name": "Leo", "age": 7}])).await;
    t.snapshot("animals").await
}

/// The one error shape, for any 4xx.
#[track_caller]
fn assert_client_error(result: &(StatusCode, Value), what: &str) {
    let (status, body) = result;
    assert!(status.is_client_error(), "{what}: expected a 4xx, got {status}: {body}");
    assert!(body["error"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: code in {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: message in {body}");
    assert!(body["error"]["details"].is_array(), "{what}: details in {body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{what}: only `error` at the top: {body}");
}

async fn malformed_json_is_400(t: TestApp) {
    let before = animals(&t).await;
    let row = "/api/tables/animals/rows/1";
    for (method, path, body) in [
        (Method::POST, "/api/tables/animals/rows", "{\"name\": "),
        (Method::POST, "/api/tables/animals/rows", "{name: \"Leo\"}"),
        (Method::POST, "/api/tables/animals/rows", "{\"name\": \"Leo\",}"),
        (Method::POST, "/api/tables/animals/rows", "[{\"name\": \"A\"}, {\"name\": \"B\"}"),
        (Method::POST, "/api/tables/animals/rows", "{\"name\": \"Leo\"} trailing"),
        (Method::POST, "/api/tables/animals/rows", "'single quotes'"),
        (Method::POST, "/api/tables/animals/rows", "NaN"),
        (Method::POST, "/api/tables/animals/rows", ""),
        (Method::POST, "/api/tables/animals/rows", "   \n"),
        (Method::PATCH, row, "{\"age\": 8"),
        (Method::PUT, row, "{\"name\" \"Leo\"}"),
        (Method::POST, "/api/tables", "{\"name\": \"t\", \"fields\": {"),
        (Method::PUT, "/api/tables/animals", "{\"fields\": }"),
        (Method::PATCH, "/api/tables/animals", "{\"name\": \"x\"]"),
        (Method::POST, "/api/table/", "{\"name\": "),
    ] {
        let result = t.send_raw(method.clone(), path, "application/json", body.into()).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_json");
        assert_client_error(&result, &format!("{method} {path} {body:?}"));
    }
    assert_eq!(t.snapshot("animals").await, before);
    assert_eq!(t.table_names().await, ["users", "animals"], "no table created");
}

async fn wrong_content_type_is_415(t: TestApp) {
    let before = animals(&t).await;
    let body = b"{\"name\": \"Mia\", \"age\": 3}".to_vec();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/csv",
        "application/xml",
    ] {
        for (method, path) in [
            (Method::POST, "/api/tables/animals/rows"),
            (Method::PATCH, "/api/tables/animals/rows/1"),
            (Method::PUT, "/api/tables/animals/rows/1"),
            (Method::POST, "/api/tables"),
            (Method::PUT, "/api/tables/animals"),
            (Method::PATCH, "/api/tables/animals"),
            (Method::POST, "/api/table/"),
        ] {
            let result = t.send_raw(method.clone(), path, content_type, body.clone()).await;
            if content_type.starts_with("multipart/") && path.contains("/rows") {
                // Row writes take forms (files.rs); JSON sent as a form is a malformed form.
                assert_eq!(result.0, StatusCode::BAD_REQUEST, "{method} {path} as {content_type}: {}", result.1);
                assert_client_error(&result, content_type);
                continue;
            }
            assert_eq!(result.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{method} {path} as {content_type}: {}", result.1);
            assert_client_error(&result, content_type);
        }
    }
    // NDJSON only where many rows are created.
    let result = t
        .send_raw(Method::PATCH, "/api/tables/animals/rows/1", "application/x-ndjson", b"{\"age\": 1}\n".to_vec())
        .await;
    assert_eq!(result.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", result.1);
    assert_client_error(&result, "ndjson patch");
    assert_eq!(t.snapshot("animals").await, before);
    // JSON with parameters, and +json types, are JSON.
    let result =
        t.send_raw(Method::POST, "/api/tables/animals/rows", "application/json; charset=utf-8", body.clone()).await;
    assert_eq!(result.0, StatusCode::CREATED, "{}", result.1);
}

async fn oversized_bodies_are_413(t: TestApp) {
    let small = TestApp::start_with(t.kind, HttpConfig { max_body_bytes: 1024, ..HttpConfig::default() }).await;
    drop(t);
    small.create_table("animals", json!({"name": "string", "doc": "json"})).await;
    small.insert("animals", json!([{"name": "Leo"}])).await;
    let before = small.snapshot("animals").await;
    let big = "x".repeat(2048);
    let row = serde_json::to_vec(&json!({"name": big})).unwrap();
    let rows = serde_json::to_vec(&json!([{"name": "a"}, {"name": big}])).unwrap();
    let ndjson = format!("{{\"name\": \"a\"}}\n{{\"name\": \"{big}\"}}\n").into_bytes();
    let table = serde_json::to_vec(
        &json!({"name": "big", "fields": {"name": "string", "note": {"type": "string", "default": big}}}),
    )
    .unwrap();
    for (method, path, content_type, body) in [
        (Method::POST, "/api/tables/animals/rows", "application/json", row.clone()),
        (Method::POST, "/api/tables/animals/rows", "application/json", rows),
        (Method::POST, "/api/tables/animals/rows", "application/x-ndjson", ndjson),
        (Method::PATCH, "/api/tables/animals/rows/1", "application/json", row.clone()),
        (Method::PUT, "/api/tables/animals/rows/1", "application/json", row.clone()),
        (Method::POST, "/api/tables", "application/json", table.clone()),
        (Method::PUT, "/api/tables/animals", "application/json", table.clone()),
        (Method::POST, "/api/table/", "application/json", table),
        (Method::POST, "/api/table/animals/row/", "application/json", row),
    ] {
        let result = small.send_raw(method.clone(), path, content_type, body).await;
        assert_error(&result, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        assert_client_error(&result, &format!("{method} {path}"));
    }
    assert_eq!(small.snapshot("animals").await, before, "nothing written");
    assert_eq!(small.table_names().await, ["users", "animals"], "no table created");
    // Just under the limit is fine.
    let fits = serde_json::to_vec(&json!({"name": "y".repeat(900)})).unwrap();
    let (status, body) = small.send_raw(Method::POST, "/api/tables/animals/rows", "application/json", fits).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn unknown_tables_and_rows_are_404(t: TestApp) {
    let before = animals(&t).await;
    for (method, path) in [
        (Method::GET, "/api/tables/nope"),
        (Method::PUT, "/api/tables/nope"),
        (Method::PATCH, "/api/tables/nope"),
        (Method::DELETE, "/api/tables/nope"),
        (Method::GET, "/api/tables/nope/history"),
        (Method::GET, "/api/tables/nope/rows"),
        (Method::POST, "/api/tables/nope/rows"),
        (Method::GET, "/api/tables/nope/rows/1"),
        (Method::PATCH, "/api/tables/nope/rows/1"),
        (Method::PUT, "/api/tables/nope/rows/1"),
        (Method::DELETE, "/api/tables/nope/rows/1"),
        (Method::GET, "/api/tables/999/rows"),
        (Method::GET, "/api/tables/0"),
        (Method::GET, "/api/tables/-1"),
        (Method::GET, "/api/tables/99999999999999999999999"),
        (Method::GET, "/api/tables/animals%3B%20DROP%20TABLE%20animals"),
        (Method::GET, "/api/tables/_tessera_tables/rows"),
        (Method::GET, "/api/tables/sqlite_master/rows"),
        (Method::GET, "/api/tables/pg_class/rows"),
        (Method::GET, "/api/tables/%00/rows"),
        (Method::POST, "/api/table/nope/row/"),
        (Method::GET, "/api/table/nope/rows/"),
        (Method::PUT, "/api/table/nope/"),
    ] {
        let body = if method == Method::GET || method == Method::DELETE {
            None
        } else if path.ends_with("/rows") || path.ends_with("/row/") || path.contains("/rows/") {
            Some(json!({"name": "X"}))
        } else {
            Some(json!({"fields": {"name": "string"}}))
        };
        let result = t.call(method.clone(), path, body).await;
        assert_error(&result, StatusCode::NOT_FOUND, "table_not_found");
        assert_client_error(&result, &format!("{method} {path}"));
    }
    let result = t.get("/api/tables/animals/rows/424242").await;
    assert_error(&result, StatusCode::NOT_FOUND, "row_not_found");
    assert_eq!(result.1["error"]["details"][0]["table"], "animals");
    assert_eq!(t.snapshot("animals").await, before);
}

async fn unknown_routes_and_wrong_methods(t: TestApp) {
    let before = animals(&t).await;
    for path in
        ["/", "/api", "/api/nothing", "/api/tables/animals/rows/1/extra", "/api/tables/animals/nope", "/api/table"]
    {
        let result = t.get(path).await;
        assert_error(&result, StatusCode::NOT_FOUND, "not_found");
        assert_client_error(&result, path);
    }
    for (method, path) in [
        (Method::DELETE, "/api/tables"),
        (Method::PUT, "/api/tables"),
        (Method::POST, "/api/tables/animals"),
        (Method::POST, "/api/tables/animals/history"),
        (Method::DELETE, "/api/tables/animals/history"),
        (Method::PUT, "/api/tables/animals/rows"),
        (Method::DELETE, "/api/tables/animals/rows"),
        (Method::PATCH, "/api/tables/animals/rows"),
        (Method::POST, "/api/tables/animals/rows/1"),
        (Method::GET, "/api/table/"),
        (Method::DELETE, "/api/table/animals/"),
        (Method::POST, "/health"),
    ] {
        let body = if method == Method::DELETE { None } else { Some(json!({"name": "X"})) };
        let result = t.call(method.clone(), path, body).await;
        assert_error(&result, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert_client_error(&result, &format!("{method} {path}"));
    }
    assert_eq!(t.snapshot("animals").await, before);
}

async fn invalid_utf8_is_400(t: TestApp) {
    let before = animals(&t).await;
    let mut row = b"{\"name\": \"Le".to_vec();
    row.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    row.extend_from_slice(b"o\"}");
    let mut key = b"{\"na".to_vec();
    key.push(0x80);
    key.extend_from_slice(b"me\": \"Leo\"}");
    let mut ndjson = b"{\"name\": \"ok\"}\n{\"name\": \"".to_vec();
    ndjson.extend_from_slice(&[0xed, 0xa0, 0x80]);
    ndjson.extend_from_slice(b"\"}\n");
    let mut table = b"{\"name\": \"t".to_vec();
    table.push(0xc0);
    table.extend_from_slice(b"\", \"fields\": {}}");
    for (method, path, content_type, body) in [
        (Method::POST, "/api/tables/animals/rows", "application/json", row.clone()),
        (Method::POST, "/api/tables/animals/rows", "application/json", key),
        (Method::POST, "/api/tables/animals/rows", "application/x-ndjson", ndjson),
        (Method::PATCH, "/api/tables/animals/rows/1", "application/json", row.clone()),
        (Method::POST, "/api/tables", "application/json", table),
        (Method::POST, "/api/table/animals/row/", "application/json", row),
    ] {
        let result = t.send_raw(method.clone(), path, content_type, body).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{method} {path}: {}", result.1);
        assert_client_error(&result, &format!("{method} {path}"));
    }
    // Invalid UTF-8 in a query string or a path.
    let result = t.get("/api/tables/animals/rows?filter=name%20%3D%20%22%FF%22").await;
    assert!(result.0 == StatusCode::OK || result.0.is_client_error(), "{}", result.1);
    if result.0 != StatusCode::OK {
        assert_client_error(&result, "invalid UTF-8 in a filter");
    }
    assert_eq!(t.snapshot("animals").await, before);
    for path in ["/api/tables/%FF%FE/rows", "/api/tables/animals/rows/%FF", "/api/table/%C0/rows/"] {
        let result = t.get(path).await;
        assert_client_error(&result, &format!("invalid UTF-8 in the path {path}"));
    }
}

async fn deep_json_is_400_and_the_server_lives_on(t: TestApp) {
    let before = animals(&t).await;
    let arrays = "[".repeat(10_000).into_bytes();
    let objects = "{\"a\":".repeat(10_000).into_bytes();
    let mut in_a_field = b"{\"name\": \"deep\", \"doc\": ".to_vec();
    in_a_field.extend_from_slice(&"[".repeat(10_000).into_bytes());
    in_a_field.extend_from_slice(&"]".repeat(10_000).into_bytes());
    in_a_field.push(b'}');
    let mut ndjson = b"{\"name\": \"ok\"}\n".to_vec();
    ndjson.extend_from_slice(&"[".repeat(10_000).into_bytes());
    for (method, path, content_type, body) in [
        (Method::POST, "/api/tables/animals/rows", "application/json", arrays.clone()),
        (Method::POST, "/api/tables/animals/rows", "application/json", objects.clone()),
        (Method::POST, "/api/tables/animals/rows", "application/json", in_a_field),
        (Method::POST, "/api/tables/animals/rows", "application/x-ndjson", ndjson),
        (Method::PATCH, "/api/tables/animals/rows/1", "application/json", objects.clone()),
        (Method::POST, "/api/tables", "application/json", arrays.clone()),
        (Method::PUT, "/api/tables/animals", "application/json", objects),
        (Method::POST, "/api/table/", "application/json", arrays),
    ] {
        let result = t.send_raw(method.clone(), path, content_type, body).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{method} {path}: {}", result.1);
        assert_client_error(&result, &format!("deep JSON to {method} {path}"));
    }
    // The server still answers, and still writes.
    let (status, health) = t.get("/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(t.snapshot("animals").await, before);
    // Nested JSON of a reasonable depth is stored as given.
    let nested: Value = serde_json::from_str(&format!("{}1{}", "[".repeat(100), "]".repeat(100))).unwrap();
    let (status, row) = t.post("/api/tables/animals/rows", json!({"name": "nested", "doc": nested})).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["doc"], nested);
}

async fn huge_numbers(t: TestApp) {
    t.create_table("nums", json!({"i": "integer", "f": "float", "bounded": {"type": "integer", "max": 10}})).await;
    let refused = [
        ("{\"i\": 9223372036854775808}", "i", "out_of_range"),
        ("{\"i\": 18446744073709551616}", "i", "out_of_range"),
        ("{\"i\": 123456789012345678901234567890}", "i", "out_of_range"),
        ("{\"i\": 1e30}", "i", "out_of_range"),
        ("{\"i\": -1e30}", "i", "out_of_range"),
        ("{\"i\": 9.3e18}", "i", "out_of_range"),
        ("{\"i\": 1.5}", "i", "wrong_type"),
        ("{\"bounded\": 11}", "bounded", "out_of_range"),
        ("{\"bounded\": 1e300}", "bounded", "out_of_range"),
        ("{\"bounded\": 10.000000001}", "bounded", "wrong_type"),
    ];
    for (body, field, code) in refused {
        let result = t.send_raw(Method::POST, "/api/tables/nums/rows", "application/json", body.into()).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(result.1["error"]["details"][0]["field"], field, "{body}: {}", result.1);
        assert_eq!(result.1["error"]["details"][0]["code"], code, "{body}: {}", result.1);
    }
    // Numbers JSON cannot hold as a float at all.
    for body in ["{\"f\": 1e400}", "{\"f\": -1e400}", "{\"i\": 1e99999}"] {
        let result = t.send_raw(Method::POST, "/api/tables/nums/rows", "application/json", body.into()).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{body}: {}", result.1);
        assert_client_error(&result, body);
    }
    let (_, list) = t.list_with("nums", &[("total", "true")]).await;
    assert_eq!(list["total"], 0, "nothing written");
    // The edges themselves are kept exactly.
    for (body, key, expected) in [
        ("{\"i\": 9223372036854775807}", "i", i64::MAX),
        ("{\"i\": -9223372036854775808}", "i", i64::MIN),
        ("{\"bounded\": 10.0}", "bounded", 10),
    ] {
        let (status, row) = t.send_raw(Method::POST, "/api/tables/nums/rows", "application/json", body.into()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {row}");
        assert_eq!(row[key], expected, "{body}: {row}");
    }
    // A float literal beyond 2^53 may already be rounded by the JSON reader: refused.
    let result = t.send_raw(Method::POST, "/api/tables/nums/rows", "application/json", "{\"i\": 9.2e18}".into()).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, list) = t.list_with("nums", &[("filter", "i = 9223372036854775807")]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["i"], i64::MAX);
    let (status, list) = t.list_with("nums", &[("filter", "i > 9223372036854775808")]).await;
    assert_error(&(status, list), StatusCode::BAD_REQUEST, "invalid_filter");
}

/// An integer field takes a JSON number only if it is that integer exactly: no rounding
/// through a float, no clamping to the i64 range.
async fn integers_are_never_rounded(t: TestApp) {
    t.create_table("nums", json!({"i": "integer"})).await;
    let mut problems = Vec::new();
    for (body, exact) in [
        ("{\"i\": -9223372036854775809}", None),
        ("{\"i\": -9223372036854775808.0}", Some(i64::MIN)),
        ("{\"i\": 9007199254740993.0}", Some(9_007_199_254_740_993)),
        ("{\"i\": 9223372036854775807.0}", None),
        ("{\"i\": 1e19}", None),
    ] {
        let (status, row) = t.send_raw(Method::POST, "/api/tables/nums/rows", "application/json", body.into()).await;
        let ok = match exact {
            Some(value) if status == StatusCode::CREATED => row["i"] == value,
            Some(_) => status == StatusCode::BAD_REQUEST && row["error"]["details"][0]["field"] == "i",
            None => status == StatusCode::BAD_REQUEST && row["error"]["details"][0]["code"] == "out_of_range",
        };
        if !ok {
            problems.push(format!("{body} (exact: {exact:?}) answered {status} {row}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A decimal sent as a JSON number must keep every digit, or be refused; never rounded.
async fn decimal_numbers_keep_every_digit(t: TestApp) {
    t.create_table("money", json!({"d": "decimal"})).await;
    let mut problems = Vec::new();
    for digits in ["123456789012345678901234567890", "0.12345678901234567890123", "12345678901234567.5", "0.1", "-2.50"]
    {
        let body = format!("{{\"d\": {digits}}}");
        let (status, row) = t.send_raw(Method::POST, "/api/tables/money/rows", "application/json", body.into()).await;
        if status == StatusCode::CREATED {
            let canonical = digits.trim_end_matches('0');
            if row["d"] != canonical {
                problems.push(format!("the JSON number {digits} was stored as {}", row["d"]));
            }
        } else {
            assert_client_error(&(status, row), digits);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

async fn sql_looking_names_are_refused(t: TestApp) {
    let before = animals(&t).await;
    for name in [
        "animals; DROP TABLE animals",
        "x\"; DROP TABLE animals; --",
        "x'--",
        "a.b",
        "a/*c*/",
        "\u{0}",
        "pg_catalog.pg_class",
    ] {
        let result = t.post("/api/tables", json!({"name": name, "fields": {"a": "string"}})).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_name");
    }
    for field in ["x\"; DROP TABLE animals; --", "a b", "a;b", "\"", "name--", "1a", "_x", "a.b"] {
        let result = t.post("/api/tables", json!({"name": "things", "fields": {field: "string"}})).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{field}: {}", result.1);
        assert_client_error(&result, field);
        let result = t.patch("/api/tables/animals", json!({"add_fields": {field: "string"}})).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{field}: {}", result.1);
        let result = t.patch("/api/tables/animals", json!({"rename_fields": {"age": field}})).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{field}: {}", result.1);
        // As a row key it is just an unknown field.
        let result = t.post("/api/tables/animals/rows", json!({"name": "x", field: 1})).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(result.1["error"]["details"][0]["field"], field);
        // In a sort, a filter or a selection it is refused.
        assert_client_error(&t.list_with("animals", &[("sort", field)]).await, field);
        assert_client_error(&t.list_with("animals", &[("fields", field)]).await, field);
    }
    for name in ["animals; DROP TABLE animals", "x\"--"] {
        let result = t.patch("/api/tables/animals", json!({"name": name})).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{name}: {}", result.1);
        assert_client_error(&result, name);
    }
    assert_eq!(t.snapshot("animals").await, before);
    assert_eq!(t.table_names().await, ["users", "animals"], "no table created");
}

/// The issue: bad input gets "a 4xx naming the field". A refused field name is the field.
async fn bad_field_names_are_named_in_details(t: TestApp) {
    for field in ["x\"; DROP TABLE animals; --", "a b", "1a", "_x", "id"] {
        let result = t.post("/api/tables", json!({"name": "things", "fields": {field: "string"}})).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_fields");
        assert_eq!(result.1["error"]["details"][0]["field"], field, "{field}: {}", result.1);
    }
}

async fn sql_looking_values_are_stored_verbatim(t: TestApp) {
    animals(&t).await;
    let values = [
        "Robert'); DROP TABLE animals;--",
        "x\"; DELETE FROM animals; --",
        "' OR '1'='1",
        "\\'; SELECT pg_sleep(5); --",
        "$1 ? ?1 :name @p",
        "%_%\\",
        "/* comment */ --",
        "'; ATTACH DATABASE '/tmp/x.db' AS x; --",
    ];
    for value in values {
        let (status, row) =
            t.post("/api/tables/animals/rows", json!({"name": value, "doc": {"k": value, value: 1}})).await;
        assert_eq!(status, StatusCode::CREATED, "{value}: {row}");
        assert_eq!(row["name"], value);
        assert_eq!(row["doc"], json!({"k": value, value: 1}));
        let path = format!("/api/tables/animals/rows/{}", row["id"]);
        let (_, read) = t.get(&path).await;
        assert_eq!(read["name"], value);
        let (status, patched) = t.patch(&path, json!({"name": format!("{value}{value}")})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["name"], format!("{value}{value}"));
        // Found by equality, exactly once.
        let filter = format!("name = \"{}\"", format!("{value}{value}").replace('\\', "\\\\").replace('"', "\\\""));
        let (status, list) = t.list_with("animals", &[("filter", &filter)]).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {list}");
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{filter}");
    }
    let (_, list) = t.list_with("animals", &[("total", "true")]).await;
    assert_eq!(list["total"], 1 + values.len());
    let (status, _) = t.get("/api/tables/animals").await;
    assert_eq!(status, StatusCode::OK, "the table is intact");
}

async fn unknown_query_parameters_are_400(t: TestApp) {
    let before = animals(&t).await;
    for query in
        ["bogus=1", "Filter=age%20%3E%201", "limit=5&page=2", "sort=name&order=desc", "include=owner", "per_page=10"]
    {
        let result = t.get(&format!("/api/tables/animals/rows?{query}")).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_query");
        assert_client_error(&result, query);
    }
    // A misspelled dry_run must not apply the change.
    let drop_age = json!({"fields": {"name": {"type": "string", "required": true}, "doc": "json"}});
    for query in ["dryrun=true", "dry-run=true", "dry_run=yes", "dry_run=true&force=1", "dry_run=maybe"] {
        let result = t.put(&format!("/api/tables/animals?{query}"), drop_age.clone()).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "PUT ?{query}: {}", result.1);
        assert_client_error(&result, query);
        let result = t.patch(&format!("/api/tables/animals?{query}"), json!({"drop_fields": ["age"]})).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "PATCH ?{query}: {}", result.1);
        assert_client_error(&result, query);
    }
    // Also where the legacy list reads the same parameters.
    let (_, schema) = t.get("/api/tables/animals").await;
    assert_client_error(&t.get(&format!("/api/table/{}/rows/?bogus=1", schema["id"])).await, "legacy list");
    assert_eq!(t.snapshot("animals").await, before);
}

/// Postgres cannot store NUL in text; both stores refuse it the same way, naming the field.
async fn nul_characters_are_refused_alike(t: TestApp) {
    let before = animals(&t).await;
    for body in [
        json!({"name": "a\u{0}b"}),
        json!({"name": "ok", "doc": {"k": "a\u{0}"}}),
        json!({"name": "ok", "doc": {"a\u{0}": 1}}),
    ] {
        let result = t.post("/api/tables/animals/rows", body.clone()).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(result.1["error"]["details"][0]["field"].is_string(), "{body}: {}", result.1);
    }
    let result = t.list_with("animals", &[("filter", "name = \"a\u{0}b\"")]).await;
    assert_client_error(&result, "NUL in a filter");
    assert_eq!(t.snapshot("animals").await, before);
}

/// A battery of odd requests: every answer is a 2xx or a 4xx in the error shape.
async fn no_bad_request_is_a_5xx(t: TestApp) {
    animals(&t).await;
    t.create_table(
        "everything",
        json!({
            "d": "decimal", "day": "date", "at": "datetime", "u": "uuid", "e": "email", "l": "url", "b": "boolean",
            "k": {"type": "enum", "values": ["a"]}, "f": "float", "s": {"type": "string", "pattern": "(a|b)+"}
        }),
    )
    .await;
    let long_name = "n".repeat(10_000);
    let gets = [
        "/api/tables/animals/rows?limit=18446744073709551616",
        "/api/tables/animals/rows?offset=9223372036854775807",
        "/api/tables/animals/rows?offset=9223372036854775808",
        "/api/tables/animals/rows?cursor=",
        "/api/tables/animals/rows?cursor=%00",
        "/api/tables/animals/rows?sort=",
        "/api/tables/animals/rows?fields=",
        "/api/tables/animals/rows?filter=",
        "/api/tables/animals/rows?filter=%00",
        "/api/tables/animals/rows?filter=doc%20%3D%201",
        "/api/tables/animals/rows?filter=doc%20~%20%22x%22",
        "/api/tables/animals/rows?sort=doc",
        "/api/tables/animals/rows?filter=created_at%20%3E%20%22yesterday%22",
        "/api/tables/animals/rows?filter=id%20%3D%209223372036854775808",
        "/api/tables/animals/rows?filter=age%20in%20(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101)",
        "/api/tables/everything/rows?filter=d%20%3E%20%221e400%22",
        "/api/tables/everything/rows?filter=d%20%3E%201e308",
        "/api/tables/everything/rows?filter=day%20%3E%20%2299999-01-01%22",
        "/api/tables/everything/rows?filter=u%20%3D%20%22x%22",
        "/api/tables/everything/rows?filter=b%20%3E%20true",
        "/api/tables/everything/rows?filter=f%20%3D%20%22x%22",
        "/api/tables/everything/rows?filter=s%20~%20%22%5C%22",
        "/api/tables/everything/rows?sort=-d,-day,-at,-u,-e,-l,-b,-k,-f",
        "/api/tables/animals/rows/%F0%9F%A6%81",
        "/api/tables/%F0%9F%A6%81",
    ];
    for path in gets {
        let (status, body) = t.get(path).await;
        assert!(!status.is_server_error(), "GET {path}: {status} {body}");
        if !status.is_success() {
            assert_client_error(&(status, body), path);
        }
    }
    let (status, body) = t.get(&format!("/api/tables/{long_name}/rows")).await;
    assert_client_error(&(status, body), "a 10,000-character table name");
    let posts = [
        json!({"d": "1e400"}),
        json!({"d": "1e-400"}),
        json!({"d": 1e308}),
        json!({"d": "-0"}),
        json!({"d": "NaN"}),
        json!({"d": "Infinity"}),
        json!({"day": "0000-01-01"}),
        json!({"day": "10000-01-01"}),
        json!({"day": "2024-13-01"}),
        json!({"at": "2024-01-01T00:00:00+25:00"}),
        json!({"at": "2024-01-01T23:59:60Z"}),
        json!({"at": "9999-12-31T23:59:59-23:59"}),
        json!({"at": "0001-01-01T00:00:00+01:00"}),
        json!({"u": "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"}),
        json!({"e": format!("{}@x.example", "a".repeat(300))}),
        json!({"l": format!("https://x.example/{}", "a".repeat(3000))}),
        json!({"l": "https://[::1]:99999/"}),
        json!({"k": ""}),
        json!({"f": -0.0}),
        json!({"s": "ab".repeat(50_000)}),
        json!({long_name.clone(): 1}),
        json!({"": 1}),
    ];
    for body in posts {
        let (status, answer) = t.post("/api/tables/everything/rows", body.clone()).await;
        assert!(
            !status.is_server_error(),
            "POST {}: {status} {answer}",
            body.to_string().chars().take(80).collect::<String>()
        );
        if !status.is_success() {
            assert_client_error(&(status, answer), "odd row");
        }
    }
    let (status, health) = t.get("/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
}
