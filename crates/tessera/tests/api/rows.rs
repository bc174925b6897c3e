//! Rows: create one (object), many (array, NDJSON), bulk atomicity, get/patch/put/delete by
//! id, timestamps, every validation failure with its code and field, unique duplicates,
//! ids in paths, and system fields in bodies.

use crate::both_stores;
use crate::harness::{assert_error, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

both_stores!(
    create_one_many_and_ndjson,
    bulk_with_an_invalid_row_writes_nothing,
    bulk_with_a_duplicate_writes_nothing,
    bulk_duplicate_names_its_row,
    get_patch_put_delete_by_id,
    timestamps_on_update,
    every_validation_failure_names_its_field,
    several_failures_are_all_reported,
    unique_duplicates_are_409,
    ids_in_paths,
    system_fields_in_bodies_are_ignored,
    values_round_trip_exactly,
    reads_are_byte_for_byte_what_writes_answer,
);

/// A table with a field of every kind of rule.
async fn animals(t: &TestApp) {
    t.create_table(
        "animals",
        json!({
            "name": {"type": "string", "required": true, "max_length": 20},
            "species": {"type": "enum", "values": ["cat", "dog", "lion"]},
            "age": {"type": "integer", "min": 0, "max": 200},
            "weight": "float",
            "code": {"type": "string", "unique": true, "pattern": "[A-Z]{3}[0-9]{2}"},
            "email": "email",
            "site": "url",
            "tag": "uuid",
            "born": "date",
            "seen": "datetime",
            "price": "decimal",
            "notes": {"type": "text", "default": "none"},
            "vaccinated": {"type": "boolean", "default": false}
        }),
    )
    .await;
}

async fn count(t: &TestApp, table: &str) -> i64 {
    let (status, body) = t.list_with(table, &[("total", "true"), ("limit", "1")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["total"].as_i64().expect("total")
}

async fn create_one_many_and_ndjson(t: TestApp) {
    animals(&t).await;

    // One object: 201 and the row, defaults applied, the rest null.
    let (status, row) = t.post("/api/tables/animals/rows", json!({"name": "Leo", "species": "lion", "age": 7})).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["name"], "Leo");
    assert_eq!(row["species"], "lion");
    assert_eq!(row["age"], 7);
    assert_eq!(row["notes"], "none");
    assert_eq!(row["vaccinated"], false);
    assert_eq!(row["weight"], Value::Null);
    assert_eq!(row["code"], Value::Null);
    let first_id = row["id"].as_i64().expect("id");
    assert!(row["created_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{row}");
    let keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 13 + 4, "every field plus id, owner, created_at, updated_at: {row}");
    assert_eq!(row["owner"], t.admin_id, "the creating user owns the row: {row}");

    // Many: a JSON array answers {"created": n, "ids": [...]}.
    let (status, body) = t
        .post(
            "/api/tables/animals/rows",
            json!([{"name": "Mia", "species": "cat"}, {"name": "Bo", "age": 70}, {"name": "Rex", "code": "REX01"}]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "only created and ids: {body}");
    assert_eq!(body["created"], 3);
    let ids: Vec<i64> = body["ids"].as_array().unwrap().iter().map(|i| i.as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids follow the array order: {ids:?}");
    assert!(ids[0] > first_id);
    for (id, name) in ids.iter().zip(["Mia", "Bo", "Rex"]) {
        let (status, row) = t.get(&format!("/api/tables/animals/rows/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(row["name"], name);
        assert_eq!(row["notes"], "none", "defaults apply to bulk rows too");
    }

    // NDJSON: one row per line, blank lines skipped.
    let ndjson = "{\"name\": \"Kit\", \"age\": 1}\n\n{\"name\": \"Ann\", \"species\": \"dog\"}\n";
    let (status, body) =
        t.send_raw(Method::POST, "/api/tables/animals/rows", "application/x-ndjson", ndjson.into()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"], 2);
    assert_eq!(body["ids"].as_array().unwrap().len(), 2);
    // A single NDJSON line is still a bulk create.
    let (status, body) = t
        .send_raw(Method::POST, "/api/tables/animals/rows", "application/x-ndjson", b"{\"name\": \"Zed\"}".to_vec())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"], 1);

    let names: Vec<String> =
        t.all_rows("animals").await.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["Leo", "Mia", "Bo", "Rex", "Kit", "Ann", "Zed"]);

    // An empty array, empty NDJSON and an NDJSON line that is not JSON write nothing.
    assert_eq!(t.post("/api/tables/animals/rows", json!([])).await.0, StatusCode::BAD_REQUEST);
    let result = t.send_raw(Method::POST, "/api/tables/animals/rows", "application/x-ndjson", b"\n\n".to_vec()).await;
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.1);
    let result = t
        .send_raw(
            Method::POST,
            "/api/tables/animals/rows",
            "application/x-ndjson",
            b"{\"name\": \"Ok\"}\n{\"name\": \"Broken\"\n".to_vec(),
        )
        .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_json");
    assert_eq!(count(&t, "animals").await, 7);
}

async fn bulk_with_an_invalid_row_writes_nothing(t: TestApp) {
    animals(&t).await;
    t.insert("animals", json!([{"name": "Seed"}])).await;
    let before = t.snapshot("animals").await;

    // Row 3 is out of range: 400 naming row 3 and the field; nothing written.
    let rows = json!([
        {"name": "A", "age": 1}, {"name": "B", "age": 2}, {"name": "C", "age": 3},
        {"name": "D", "age": -1}, {"name": "E", "age": 5}
    ]);
    let result = t.post("/api/tables/animals/rows", rows).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    let detail = &result.1["error"]["details"][0];
    assert_eq!(detail["row"], 3, "{}", result.1);
    assert_eq!(detail["field"], "age", "{}", result.1);
    assert_eq!(detail["code"], "out_of_range", "{}", result.1);
    assert_eq!(t.snapshot("animals").await, before);

    // A large bulk (several statements on Postgres) with the bad row near the end.
    let mut many: Vec<Value> = (0..1500).map(|i| json!({"name": format!("n{i}"), "age": i % 200})).collect();
    many[1400] = json!({"name": "n1400", "nope": true});
    let result = t.post("/api/tables/animals/rows", Value::Array(many)).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(result.1["error"]["details"][0]["row"], 1400, "{}", result.1);
    assert_eq!(result.1["error"]["details"][0]["field"], "nope");
    assert_eq!(result.1["error"]["details"][0]["code"], "unknown_field");
    assert_eq!(t.snapshot("animals").await, before);

    // A row that is not an object.
    let result = t.post("/api/tables/animals/rows", json!([{"name": "A"}, 5])).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(result.1["error"]["details"][0]["row"], 1, "{}", result.1);
    assert_eq!(result.1["error"]["details"][0]["code"], "not_an_object", "{}", result.1);

    // NDJSON: the index counts rows (line 3 is row 2).
    let ndjson = "{\"name\": \"A\"}\n{\"name\": \"B\"}\n{\"name\": \"C\", \"species\": \"cow\"}\n{\"name\": \"D\"}\n";
    let result = t.send_raw(Method::POST, "/api/tables/animals/rows", "application/x-ndjson", ndjson.into()).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(result.1["error"]["details"][0]["row"], 2, "{}", result.1);
    assert_eq!(result.1["error"]["details"][0]["field"], "species");
    assert_eq!(result.1["error"]["details"][0]["code"], "not_in_enum");
    assert_eq!(t.snapshot("animals").await, before);
}

async fn bulk_with_a_duplicate_writes_nothing(t: TestApp) {
    animals(&t).await;
    t.insert("animals", json!([{"name": "Seed", "code": "ABC01"}])).await;
    let before = t.snapshot("animals").await;

    // Two rows of the batch share a unique value.
    let rows = json!([
        {"name": "A", "code": "XYZ01"}, {"name": "B", "code": "XYZ02"}, {"name": "C", "code": "XYZ02"}
    ]);
    let result = t.post("/api/tables/animals/rows", rows).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["field"], "code", "{}", result.1);
    assert_eq!(t.snapshot("animals").await, before);

    // A row of the batch repeats a stored value.
    let rows = json!([{"name": "A", "code": "XYZ01"}, {"name": "B", "code": "ABC01"}]);
    let result = t.post("/api/tables/animals/rows", rows).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["field"], "code", "{}", result.1);
    assert_eq!(t.snapshot("animals").await, before);

    // The same in NDJSON, and in a batch large enough to take several statements.
    let ndjson = "{\"name\": \"A\", \"code\": \"QQQ01\"}\n{\"name\": \"B\", \"code\": \"QQQ01\"}\n";
    let result = t.send_raw(Method::POST, "/api/tables/animals/rows", "application/x-ndjson", ndjson.into()).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    // Codes AAA00, AAB00, ... match the field's pattern [A-Z]{3}[0-9]{2}.
    let code = |i: usize| -> String {
        let letters: String = [i / 676, (i / 26) % 26, i % 26].iter().map(|d| (b'A' + *d as u8) as char).collect();
        format!("{letters}00")
    };
    let mut many: Vec<Value> = (0..1500).map(|i| json!({"name": format!("n{i}"), "code": code(i)})).collect();
    many[1499]["code"] = many[1200]["code"].clone();
    let result = t.post("/api/tables/animals/rows", Value::Array(many)).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["field"], "code", "{}", result.1);
    assert_eq!(t.snapshot("animals").await, before, "no row of any batch is kept");
}

/// The issue: "if any row is invalid none is written and the error names the row index".
async fn bulk_duplicate_names_its_row(t: TestApp) {
    animals(&t).await;
    t.insert("animals", json!([{"name": "Seed", "code": "ABC01"}])).await;
    let rows = json!([
        {"name": "A", "code": "XYZ01"}, {"name": "B", "code": "XYZ02"}, {"name": "C", "code": "XYZ02"}
    ]);
    let result = t.post("/api/tables/animals/rows", rows).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["row"], 2, "the second XYZ02 is row 2: {}", result.1);
    let rows = json!([{"name": "A", "code": "XYZ01"}, {"name": "B", "code": "ABC01"}]);
    let result = t.post("/api/tables/animals/rows", rows).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["row"], 1, "ABC01 is row 1: {}", result.1);
    assert_eq!(count(&t, "animals").await, 1);
}

async fn get_patch_put_delete_by_id(t: TestApp) {
    animals(&t).await;
    let (status, created) = t
        .post(
            "/api/tables/animals/rows",
            json!({"name": "Leo", "species": "lion", "age": 7, "weight": 190.5, "code": "LEO01",
                   "notes": "big", "vaccinated": true, "born": "2017-03-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/tables/animals/rows/{id}");
    let (_, other) = t.post("/api/tables/animals/rows", json!({"name": "Other", "age": 1})).await;

    let (status, got) = t.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created, "GET answers the row as created");

    // PATCH changes only the fields given.
    let (status, patched) = t.patch(&path, json!({"age": 8, "notes": null})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let mut expected = created.clone();
    expected["age"] = json!(8);
    expected["notes"] = Value::Null;
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected);
    assert_eq!(t.get(&path).await.1, patched);

    // A refused PATCH changes nothing.
    let before = t.snapshot("animals").await;
    assert_error(&t.patch(&path, json!({"age": 500})).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(&t.patch(&path, json!({"name": null})).await, StatusCode::BAD_REQUEST, "validation_failed");
    assert_error(
        &t.patch(&path, json!({"species": "cow", "age": 9})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(&t.put(&path, json!({"age": 9})).await, StatusCode::BAD_REQUEST, "validation_failed");
    for body in [json!([{"age": 9}]), json!("age"), json!(9), Value::Null] {
        for result in [t.patch(&path, body.clone()).await, t.put(&path, body.clone()).await] {
            assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
            assert_eq!(result.1["error"]["details"][0]["code"], "not_an_object", "{body}: {}", result.1);
        }
    }
    assert_eq!(t.snapshot("animals").await, before);

    // PUT replaces the whole row: omitted fields take their default, or null.
    let (status, replaced) = t.put(&path, json!({"name": "Leonard", "code": "LEO01"})).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["name"], "Leonard");
    assert_eq!(replaced["code"], "LEO01", "a row may keep its own unique value");
    assert_eq!(replaced["notes"], "none", "default");
    assert_eq!(replaced["vaccinated"], false, "default");
    for field in ["species", "age", "weight", "born", "email", "site", "tag", "seen", "price"] {
        assert_eq!(replaced[field], Value::Null, "{field} was omitted: {replaced}");
    }
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(t.get(&path).await.1, replaced);

    // The other row was not touched.
    assert_eq!(t.get(&format!("/api/tables/animals/rows/{}", other["id"])).await.1, other);

    // DELETE, then the row is gone for every method.
    let (status, body) = t.delete(&path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_error(&t.get(&path).await, StatusCode::NOT_FOUND, "row_not_found");
    assert_error(&t.delete(&path).await, StatusCode::NOT_FOUND, "row_not_found");
    assert_error(&t.patch(&path, json!({"age": 1})).await, StatusCode::NOT_FOUND, "row_not_found");
    assert_error(&t.put(&path, json!({"name": "Ghost"})).await, StatusCode::NOT_FOUND, "row_not_found");
    assert_eq!(count(&t, "animals").await, 1, "PUT on a missing row does not create it");
    // The table is also reachable by its id.
    let (_, schema) = t.get("/api/tables/animals").await;
    let (status, by_table_id) = t.get(&format!("/api/tables/{}/rows/{}", schema["id"], other["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_table_id, other);
}

async fn timestamps_on_update(t: TestApp) {
    animals(&t).await;
    let (_, created) = t.post("/api/tables/animals/rows", json!({"name": "Leo"})).await;
    let path = format!("/api/tables/animals/rows/{}", created["id"]);
    assert_eq!(created["created_at"], created["updated_at"]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, patched) = t.patch(&path, json!({"age": 3})).await;
    assert_eq!(patched["created_at"], created["created_at"], "created_at never changes");
    let (created_at, first_update) =
        (created["updated_at"].as_str().unwrap(), patched["updated_at"].as_str().unwrap().to_string());
    assert!(first_update.as_str() > created_at, "updated_at moves forward: {created_at} -> {first_update}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, replaced) = t.put(&path, json!({"name": "Leo"})).await;
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert!(replaced["updated_at"].as_str().unwrap() > first_update.as_str());
    // Timestamps in a body are ignored, not written.
    let (_, ignored) =
        t.patch(&path, json!({"created_at": "2000-01-01T00:00:00Z", "updated_at": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(ignored["created_at"], created["created_at"]);
    assert_ne!(ignored["updated_at"], "2000-01-01T00:00:00.000000Z");
}

async fn every_validation_failure_names_its_field(t: TestApp) {
    animals(&t).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"name": 5}), "name", "wrong_type"),
        (json!({"name": ["Leo"]}), "name", "wrong_type"),
        (json!({"age": 7}), "name", "required"),
        (json!({"name": null}), "name", "required"),
        (json!({"name": "Leo", "nope": 1}), "nope", "unknown_field"),
        (json!({"name": "Leo", "age": -1}), "age", "out_of_range"),
        (json!({"name": "Leo", "age": 201}), "age", "out_of_range"),
        (json!({"name": "Leo", "age": 1e30}), "age", "out_of_range"),
        (json!({"name": "Leo", "age": 9_223_372_036_854_775_808u64}), "age", "out_of_range"),
        (json!({"name": "Leo", "age": -1e19}), "age", "out_of_range"),
        (json!({"name": "Leo", "age": 1.5}), "age", "wrong_type"),
        (json!({"name": "Leo", "age": "5"}), "age", "wrong_type"),
        (json!({"name": "Leo", "age": true}), "age", "wrong_type"),
        (json!({"name": "Leo", "weight": "heavy"}), "weight", "wrong_type"),
        (json!({"name": "x".repeat(21)}), "name", "too_long"),
        (json!({"name": "é".repeat(21)}), "name", "too_long"),
        (json!({"name": "Leo", "species": "cow"}), "species", "not_in_enum"),
        (json!({"name": "Leo", "species": "Cat"}), "species", "not_in_enum"),
        (json!({"name": "Leo", "code": "abc01"}), "code", "pattern_mismatch"),
        (json!({"name": "Leo", "code": "ABC012"}), "code", "pattern_mismatch"),
        (json!({"name": "Leo", "email": "not-an-email"}), "email", "invalid_format"),
        (json!({"name": "Leo", "email": "a@b"}), "email", "invalid_format"),
        (json!({"name": "Leo", "email": "a b@zoo.example"}), "email", "invalid_format"),
        (json!({"name": "Leo", "site": "zoo.example"}), "site", "invalid_format"),
        (json!({"name": "Leo", "site": "ftp://zoo.example/"}), "site", "invalid_format"),
        (json!({"name": "Leo", "tag": "not-a-uuid"}), "tag", "invalid_format"),
        (json!({"name": "Leo", "tag": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"}), "tag", "invalid_format"),
        (json!({"name": "Leo", "born": "2024-02-30"}), "born", "invalid_format"),
        (json!({"name": "Leo", "born": "2024/01/01"}), "born", "invalid_format"),
        (json!({"name": "Leo", "born": "yesterday"}), "born", "invalid_format"),
        (json!({"name": "Leo", "seen": "yesterday"}), "seen", "invalid_format"),
        (json!({"name": "Leo", "seen": "2024-01-01T25:00:00Z"}), "seen", "invalid_format"),
        (json!({"name": "Leo", "price": "1,5"}), "price", "invalid_format"),
        (json!({"name": "Leo", "price": "abc"}), "price", "invalid_format"),
        (json!({"name": "Leo", "vaccinated": "yes"}), "vaccinated", "wrong_type"),
        (json!({"name": "Leo", "vaccinated": 1}), "vaccinated", "wrong_type"),
    ];
    for (body, field, code) in cases {
        let result = t.post("/api/tables/animals/rows", body.clone()).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
        let details = result.1["error"]["details"].as_array().unwrap();
        assert!(
            details.iter().any(|d| d["field"] == field && d["code"] == code),
            "{body}: expected {field}/{code}, got {}",
            result.1
        );
        assert!(details.iter().all(|d| d.get("row").is_none()), "a single create names no row: {}", result.1);
        // The same body in a bulk create names row 0.
        let result = t.post("/api/tables/animals/rows", json!([body])).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
        let detail = &result.1["error"]["details"][0];
        assert_eq!((detail["row"].clone(), detail["field"].clone()), (json!(0), json!(field)), "{}", result.1);
    }
    assert_eq!(count(&t, "animals").await, 0, "no refused body wrote a row");
    // The bounds themselves are accepted.
    let ids = t
        .insert(
            "animals",
            json!([{"name": "x".repeat(20), "age": 0}, {"name": "é".repeat(20), "age": 200}, {"name": "A", "age": 5.0}]),
        )
        .await;
    assert_eq!(ids.len(), 3);
}

async fn several_failures_are_all_reported(t: TestApp) {
    animals(&t).await;
    let result = t.post("/api/tables/animals/rows", json!({"age": -5, "species": "cow", "bogus": 1})).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "validation_failed");
    let mut named: Vec<(String, String)> = result.1["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["field"].as_str().unwrap().to_string(), d["code"].as_str().unwrap().to_string()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("age".to_string(), "out_of_range".to_string()),
            ("bogus".to_string(), "unknown_field".to_string()),
            ("name".to_string(), "required".to_string()),
            ("species".to_string(), "not_in_enum".to_string()),
        ]
    );
}

async fn unique_duplicates_are_409(t: TestApp) {
    animals(&t).await;
    let (_, first) = t.post("/api/tables/animals/rows", json!({"name": "A", "code": "ABC01"})).await;
    let (_, second) = t.post("/api/tables/animals/rows", json!({"name": "B", "code": "ABC02"})).await;
    let before = t.snapshot("animals").await;

    let result = t.post("/api/tables/animals/rows", json!({"name": "C", "code": "ABC01"})).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["field"], "code", "{}", result.1);
    assert!(result.1["error"]["details"][0].get("row").is_none(), "a single create names no row: {}", result.1);

    let path = format!("/api/tables/animals/rows/{}", second["id"]);
    let result = t.patch(&path, json!({"code": "ABC01"})).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["field"], "code");
    let result = t.put(&path, json!({"name": "B", "code": "ABC01"})).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    assert_eq!(result.1["error"]["details"][0]["field"], "code");
    assert_eq!(t.snapshot("animals").await, before);

    // Nulls never collide, and a freed value can be taken again.
    t.insert("animals", json!([{"name": "N1"}, {"name": "N2"}])).await;
    let (status, _) = t.delete(&format!("/api/tables/animals/rows/{}", first["id"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = t.post("/api/tables/animals/rows", json!({"name": "C", "code": "ABC01"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn ids_in_paths(t: TestApp) {
    animals(&t).await;
    let ids = t.insert("animals", json!([{"name": "Leo"}])).await;
    let before = t.snapshot("animals").await;
    for bad in ["abc", "1.5", "1e3", "0x10", "9223372036854775808", "1%20OR%201=1", "1;DROP%20TABLE%20animals", "%20"] {
        let path = format!("/api/tables/animals/rows/{bad}");
        for result in [
            t.get(&path).await,
            t.patch(&path, json!({"age": 1})).await,
            t.put(&path, json!({"name": "X"})).await,
            t.delete(&path).await,
        ] {
            assert_error(&result, StatusCode::BAD_REQUEST, "bad_request");
            assert_eq!(result.1["error"]["details"][0]["parameter"], "id", "{bad}: {}", result.1);
        }
    }
    for missing in [ids[0] + 1, 0, -1, i64::MAX] {
        let path = format!("/api/tables/animals/rows/{missing}");
        let result = t.get(&path).await;
        assert_error(&result, StatusCode::NOT_FOUND, "row_not_found");
        assert_eq!(result.1["error"]["details"][0]["id"], missing.to_string(), "{}", result.1);
        assert_error(&t.patch(&path, json!({"age": 1})).await, StatusCode::NOT_FOUND, "row_not_found");
        assert_error(&t.put(&path, json!({"name": "X"})).await, StatusCode::NOT_FOUND, "row_not_found");
        assert_error(&t.delete(&path).await, StatusCode::NOT_FOUND, "row_not_found");
    }
    assert_eq!(t.snapshot("animals").await, before);
    // A missing table wins over a bad id.
    assert_error(&t.get("/api/tables/nope/rows/abc").await, StatusCode::NOT_FOUND, "table_not_found");
}

async fn system_fields_in_bodies_are_ignored(t: TestApp) {
    animals(&t).await;
    let (status, row) = t
        .post(
            "/api/tables/animals/rows",
            json!({"name": "Leo", "id": 999, "created_at": "2000-01-01T00:00:00Z", "updated_at": "bogus", "ID": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let id = row["id"].as_i64().unwrap();
    assert_ne!(id, 999);
    assert_ne!(row["created_at"], "2000-01-01T00:00:00.000000Z");
    assert_error(&t.get("/api/tables/animals/rows/999").await, StatusCode::NOT_FOUND, "row_not_found");

    // Echoing a row back (as clients do) works and keeps id and created_at.
    let mut echoed = row.clone();
    echoed["age"] = json!(4);
    echoed["id"] = json!(12345);
    let (status, updated) = t.put(&format!("/api/tables/animals/rows/{id}"), echoed).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], id);
    assert_eq!(updated["age"], 4);
    assert_eq!(updated["created_at"], row["created_at"]);
    let (status, patched) = t.patch(&format!("/api/tables/animals/rows/{id}"), json!({"id": 7, "Created_At": 5})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["id"], id);
    let ids: Vec<Value> = t.all_rows("animals").await.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, [json!(id)]);
}

/// Every value comes back exactly as stored (canonical forms), at the edges of each type.
async fn values_round_trip_exactly(t: TestApp) {
    t.create_table(
        "edges",
        json!({"i": "integer", "f": "float", "d": "decimal", "at": "datetime", "s": "string", "j": "json"}),
    )
    .await;
    let rows = [
        json!({"i": i64::MAX, "f": 0.1, "d": "12345678901234567890.123456789012345678", "at": "2024-05-01T10:30:00.123456Z"}),
        json!({"i": i64::MIN, "f": 0.30000000000000004, "d": "-0.00000000000000000000000000000000000001"}),
        json!({"i": 0, "f": 1.7976931348623157e308, "d": "0", "at": "9999-12-31T23:59:59.999999Z"}),
        json!({"f": 5e-324, "s": "emoji 🦁 and \"quotes\" and \\ and \t", "j": {"k": [1, 2.5, "x", null, true]}}),
        json!({"f": 1.2345678901234567, "j": "just a string"}),
        json!({"f": -2.5e-10, "j": 12345678901234567u64}),
    ];
    let mut problems = Vec::new();
    for row in rows {
        let (status, stored) = t.post("/api/tables/edges/rows", row.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{row}: {stored}");
        if !stored.is_object() {
            problems.push(format!("{row}: the answer is not valid JSON: {stored}"));
            continue;
        }
        for (key, value) in row.as_object().unwrap() {
            if &stored[key] != value {
                problems.push(format!("{key}: sent {value}, answered {}", stored[key]));
            }
        }
        let (_, read) = t.get(&format!("/api/tables/edges/rows/{}", stored["id"])).await;
        assert_eq!(read, stored);
    }
    let (status, listed) = t.get("/api/tables/edges/rows").await;
    assert_eq!(status, StatusCode::OK);
    if listed.is_object() {
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(6));
    } else {
        problems.push(format!("the list is not valid JSON: {listed}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The body of a request as text, not parsed: for byte-for-byte comparisons.
async fn raw_body(t: &TestApp, method: Method, path: &str, body: Option<Value>) -> (StatusCode, String) {
    let mut request = t.client.request(method, format!("{}{}", t.base, path));
    if let Some(token) = &t.token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    (response.status(), response.text().await.expect("body"))
}

/// A row reads back exactly as its write answered it — single GET, list item, embedded in
/// another row by `expand` — with every field type, nulls, escapes and extreme values.
/// (On Postgres a write's answer is JSON text built by the database, while reads are typed
/// columns that tessera writes as JSON: the two must not drift apart.)
async fn reads_are_byte_for_byte_what_writes_answer(t: TestApp) {
    t.create_table("tags", json!({"label": "string"})).await;
    let tags = t.insert("tags", json!([{"label": "a"}, {"label": "b"}])).await;
    t.create_table(
        "things",
        json!({
            "s": "string", "txt": "text", "i": "integer", "f": "float", "d": "decimal", "b": "boolean",
            "day": "date", "at": "datetime", "j": "json", "u": "uuid", "mail": "email", "link": "url",
            "kind": {"type": "enum", "values": ["cat", "dog"]},
            "tag": {"type": "relation", "target": "tags"},
            "tags": {"type": "relation", "target": "tags", "multiple": true}
        }),
    )
    .await;
    t.create_table("holders", json!({"thing": {"type": "relation", "target": "things"}})).await;
    let rows = [
        json!({
            "s": "quotes \" backslash \\ controls \u{1}\u{1f}\u{8}\u{c}\n\r\t del \u{7f} slash / unicode é 🦁",
            "txt": "", "i": i64::MIN, "f": 1e20, "d": "-12345678901234567890.000000000000000001", "b": false,
            "day": "0001-01-01", "at": "2024-02-29T23:59:59.000001Z", "j": {"z": 1, "a": [1.5, null, "x\ny"], "m": {}},
            "u": "0F8FAD5B-D9CB-469F-A165-70867728950E", "mail": "Leo@Zoo.Example", "link": "https://zoo.example/a?b=c&d=%20",
            "kind": "dog", "tag": tags[0], "tags": [tags[1], tags[0]]
        }),
        json!({"f": 5e-324, "at": "1970-01-01T00:00:00Z", "j": "just a string", "b": true, "i": 0, "tags": []}),
        json!({"f": 0.1, "at": "9999-12-31T23:59:59.999999Z", "j": null, "day": "9999-12-31", "d": "0"}),
        json!({}),
    ];
    for row in rows {
        let (status, written) = raw_body(&t, Method::POST, "/api/tables/things/rows", Some(row.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{row}: {written}");
        let id = serde_json::from_str::<Value>(&written).unwrap()["id"].as_i64().unwrap();
        let (_, read) = raw_body(&t, Method::GET, &format!("/api/tables/things/rows/{id}"), None).await;
        assert_eq!(read, written, "GET of {row}");
        let (_, listed) =
            raw_body(&t, Method::GET, &format!("/api/tables/things/rows?filter=id%20%3D%20{id}"), None).await;
        assert!(
            listed.starts_with(&format!("{{\"items\":[{written}]")),
            "list of {row}:\n{listed}\nwritten:\n{written}"
        );
        let (_, holder) = raw_body(&t, Method::POST, "/api/tables/holders/rows", Some(json!({"thing": id}))).await;
        let holder = serde_json::from_str::<Value>(&holder).unwrap()["id"].as_i64().unwrap();
        let embedded = format!(",\"expand\":{{\"thing\":{written}}}}}");
        let (_, expanded) =
            raw_body(&t, Method::GET, &format!("/api/tables/holders/rows/{holder}?expand=thing"), None).await;
        assert!(expanded.ends_with(&embedded), "GET with expand of {row}:\n{expanded}\nwritten:\n{written}");
        let filter = format!("/api/tables/holders/rows?expand=thing&filter=id%20%3D%20{holder}");
        let (_, expanded) = raw_body(&t, Method::GET, &filter, None).await;
        assert!(
            expanded.contains(&format!("{embedded}]")),
            "list with expand of {row}:\n{expanded}\nwritten:\n{written}"
        );
    }
}
