//! The original service's calls, exactly as its users wrote them: trailing slashes,
//! `{"name", "fields"}` bodies, short field types `string`/`integer`/`boolean`, the
//! schema under `fields` (create) or `schema` (update), rows as a plain JSON array.

use crate::both_stores;
use crate::harness::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    legacy_create_update_insert_list,
    legacy_by_name_and_by_id,
    legacy_list_returns_a_plain_array,
    legacy_update_migrates_with_the_same_safety,
    legacy_errors_have_the_same_shape,
);

async fn legacy_create_update_insert_list(t: TestApp) {
    // As the original users wrote it.
    let (status, created) =
        t.post("/api/table/", json!({"name": "Person", "fields": {"first_name": "string", "age": "integer"}})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "Person");
    assert_eq!(created["fields"], json!({"first_name": "string", "age": "integer"}), "short form under `fields`");
    let id = created["id"].as_i64().expect("numeric id");

    let (status, updated) = t
        .put(
            &format!("/api/table/{id}/"),
            json!({"fields": {"first_name": "string", "age": "integer", "is_member": "boolean"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], id);
    assert_eq!(updated["name"], "Person");
    assert_eq!(
        updated["schema"],
        json!({"first_name": "string", "age": "integer", "is_member": "boolean"}),
        "short form under `schema`"
    );

    let (status, row) =
        t.post(&format!("/api/table/{id}/row/"), json!({"first_name": "Joe", "age": 16, "is_member": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["first_name"], "Joe");
    assert_eq!(row["age"], 16);
    assert_eq!(row["is_member"], true);
    let row_id = row["id"].as_i64().expect("row id");
    let (status, second) = t.post(&format!("/api/table/{id}/row/"), json!({"first_name": "Ann"})).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["age"], Value::Null);
    assert_eq!(second["is_member"], Value::Null);

    let (status, rows) = t.get(&format!("/api/table/{id}/rows/")).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], row);
    assert_eq!(rows[1], second);
    assert_eq!(rows[0]["id"], row_id);

    // The same table through the new API.
    let (status, schema) = t.get("/api/tables/Person").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schema["version"], 2);
    assert_eq!(schema["fields"]["is_member"], json!({"type": "boolean"}));
    assert_eq!(t.all_rows("Person").await, rows.clone());
}

async fn legacy_by_name_and_by_id(t: TestApp) {
    let (_, created) = t.post("/api/table/", json!({"name": "Person", "fields": {"first_name": "string"}})).await;
    let id = created["id"].as_i64().unwrap();
    for key in [id.to_string(), "Person".to_string(), "person".to_string()] {
        let (status, row) =
            t.post(&format!("/api/table/{key}/row/"), json!({"first_name": format!("via {key}")})).await;
        assert_eq!(status, StatusCode::CREATED, "{key}: {row}");
        let (status, rows) = t.get(&format!("/api/table/{key}/rows/")).await;
        assert_eq!(status, StatusCode::OK, "{key}: {rows}");
        assert!(rows.as_array().unwrap().iter().any(|r| r["first_name"] == format!("via {key}")));
    }
    let (status, updated) =
        t.put("/api/table/Person/", json!({"fields": {"first_name": "string", "age": "integer"}})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], id);
    assert_eq!(updated["schema"], json!({"first_name": "string", "age": "integer"}));
    let (_, rows) = t.get(&format!("/api/table/{id}/rows/")).await;
    assert_eq!(rows.as_array().unwrap().len(), 3, "a PUT that adds a field keeps every row");
    // Long-form fields (not the original's, but accepted) are shown in full.
    let (status, long) = t
        .post(
            "/api/table/",
            json!({"name": "Club", "fields": {"title": {"type": "string", "required": true}, "open": "boolean"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{long}");
    assert_eq!(long["fields"], json!({"title": {"type": "string", "required": true}, "open": "boolean"}));
}

async fn legacy_list_returns_a_plain_array(t: TestApp) {
    let (_, created) =
        t.post("/api/table/", json!({"name": "Person", "fields": {"first_name": "string", "age": "integer"}})).await;
    let id = created["id"].as_i64().unwrap();
    let (status, empty) = t.get(&format!("/api/table/{id}/rows/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, json!([]), "an empty table is an empty array");
    // The original answered every row: more than the new API's default page of 30.
    let rows: Vec<Value> = (0..45).map(|i| json!({"first_name": format!("p{i}"), "age": i})).collect();
    let (status, body) = t.post(&format!("/api/table/{id}/row/"), Value::Array(rows)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, listed) = t.get(&format!("/api/table/{id}/rows/")).await;
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 45);
    let ages: Vec<i64> = listed.iter().map(|r| r["age"].as_i64().unwrap()).collect();
    assert_eq!(ages, (0..45).collect::<Vec<i64>>(), "in id order");
    // The list parameters of the new API work here too.
    let (status, some) =
        t.get_with(&format!("/api/table/{id}/rows/"), &[("filter", "age >= 40"), ("sort", "-age")]).await;
    assert_eq!(status, StatusCode::OK, "{some}");
    let ages: Vec<i64> = some.as_array().unwrap().iter().map(|r| r["age"].as_i64().unwrap()).collect();
    assert_eq!(ages, [44, 43, 42, 41, 40]);
}

async fn legacy_update_migrates_with_the_same_safety(t: TestApp) {
    let (_, created) =
        t.post("/api/table/", json!({"name": "Person", "fields": {"first_name": "string", "age": "string"}})).await;
    let id = created["id"].as_i64().unwrap();
    t.post(&format!("/api/table/{id}/row/"), json!({"first_name": "Joe", "age": "16"})).await;
    t.post(&format!("/api/table/{id}/row/"), json!({"first_name": "Ann", "age": "sixteen"})).await;
    let before = t.snapshot("Person").await;
    // A checked change with a value that does not convert: refused, nothing changed.
    let result =
        t.put(&format!("/api/table/{id}/"), json!({"fields": {"first_name": "string", "age": "integer"}})).await;
    assert_error(&result, StatusCode::CONFLICT, "migration_refused");
    assert_eq!(result.1["error"]["failing_rows"], 1, "{}", result.1);
    assert_eq!(result.1["error"]["details"][0]["value"], "sixteen", "{}", result.1);
    assert_eq!(t.snapshot("Person").await, before);
    // Names do not convert to booleans either (a checked change).
    let result =
        t.put(&format!("/api/table/{id}/"), json!({"fields": {"first_name": "boolean", "age": "string"}})).await;
    assert_eq!(result.0, StatusCode::CONFLICT, "string -> boolean is checked: {}", result.1);
    assert_eq!(t.snapshot("Person").await, before);
    // Fixed data converts.
    let rows = t.all_rows("Person").await;
    let (status, _) = t.patch(&format!("/api/tables/Person/rows/{}", rows[1]["id"]), json!({"age": "16"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, updated) =
        t.put(&format!("/api/table/{id}/"), json!({"fields": {"first_name": "string", "age": "integer"}})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["schema"], json!({"first_name": "string", "age": "integer"}));
    let (_, listed) = t.get(&format!("/api/table/{id}/rows/")).await;
    let ages: Vec<Value> = listed.as_array().unwrap().iter().map(|r| r["age"].clone()).collect();
    assert_eq!(ages, [json!(16), json!(16)]);
}

async fn legacy_errors_have_the_same_shape(t: TestApp) {
    let (_, created) =
        t.post("/api/table/", json!({"name": "Person", "fields": {"first_name": "string", "age": "integer"}})).await;
    let id = created["id"].as_i64().unwrap();
    t.post(&format!("/api/table/{id}/row/"), json!({"first_name": "Joe", "age": 16})).await;
    let before = t.snapshot("Person").await;

    let result = t.post("/api/table/", json!({"name": "Person", "fields": {"first_name": "string"}})).await;
    assert_error(&result, StatusCode::CONFLICT, "table_exists");
    let result = t.post("/api/table/", json!({"name": "person", "fields": {}})).await;
    assert_error(&result, StatusCode::CONFLICT, "table_exists");
    let result = t.post("/api/table/", json!({"name": "Bad Name", "fields": {"a": "string"}})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_name");
    let result = t.post("/api/table/", json!({"name": "Other", "fields": {"a": "strng"}})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_fields");
    assert_eq!(result.1["error"]["details"][0]["field"], "a");
    let result = t.post("/api/table/", json!({"fields": {"a": "string"}})).await;
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.1);
    assert!(result.1["error"]["code"].is_string(), "{}", result.1);

    let result = t.post(&format!("/api/table/{id}/row/"), json!({"first_name": "Ann", "age": "old"})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(result.1["error"]["details"][0]["field"], "age");
    assert_eq!(result.1["error"]["details"][0]["code"], "wrong_type");
    let result = t.post(&format!("/api/table/{id}/row/"), json!({"first_name": "Ann", "nickname": "A"})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(result.1["error"]["details"][0]["field"], "nickname");
    let result = t
        .send_raw(Method::POST, &format!("/api/table/{id}/row/"), "application/json", b"{\"first_name\": ".to_vec())
        .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_json");
    let result = t.send_raw(Method::POST, &format!("/api/table/{id}/row/"), "text/plain", b"{}".to_vec()).await;
    assert_eq!(result.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", result.1);

    for result in [
        t.post("/api/table/999/row/", json!({"first_name": "Ann"})).await,
        t.get("/api/table/999/rows/").await,
        t.put("/api/table/999/", json!({"fields": {"a": "string"}})).await,
    ] {
        assert_error(&result, StatusCode::NOT_FOUND, "table_not_found");
    }
    let result = t.put(&format!("/api/table/{id}/"), json!({"fields": {"first_name": "string", "age": "date"}})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "conversion_refused");
    let result = t.put(&format!("/api/table/{id}/"), json!({"schema": {"first_name": "string"}})).await;
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.1);
    assert!(result.1["error"]["code"].is_string(), "{}", result.1);
    assert_eq!(t.snapshot("Person").await, before);
    assert_eq!(t.table_names().await, ["users", "Person"], "no table created");
}
