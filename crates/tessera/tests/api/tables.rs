//! Tables: create, list, show (by name and id), names, conflicts, drop, history.

use crate::both_stores;
use crate::harness::{assert_error, TestApp};
use reqwest::StatusCode;
use serde_json::json;

both_stores!(create_show_list_drop, names_are_validated, every_type_and_option, history_lists_versions);

async fn create_show_list_drop(t: TestApp) {
    let created = t
        .create_table("Person", json!({"first_name": "string", "age": {"type": "integer", "min": 0, "required": true}}))
        .await;
    assert_eq!(created["name"], "Person");
    assert_eq!(created["version"], 1);
    assert_eq!(created["fields"]["first_name"], json!({"type": "string"}));
    assert_eq!(created["fields"]["age"], json!({"type": "integer", "min": 0.0, "required": true}));
    let id = created["id"].as_i64().unwrap();

    let (status, by_name) = t.get("/api/tables/Person").await;
    assert_eq!(status, StatusCode::OK);
    let (_, by_id) = t.get(&format!("/api/tables/{id}")).await;
    assert_eq!(by_name, by_id);
    let (_, lower) = t.get("/api/tables/person").await;
    assert_eq!(lower["id"], id, "names are case-insensitive");

    assert_eq!(t.table_names().await, ["users", "Person"], "the built-in users table, and Person");

    // A second Person, in any case, is a conflict.
    for name in ["Person", "PERSON"] {
        let result = t.post("/api/tables", json!({"name": name, "fields": {}})).await;
        assert_error(&result, StatusCode::CONFLICT, "table_exists");
    }

    let (status, _) = t.delete("/api/tables/Person").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&t.get("/api/tables/Person").await, StatusCode::NOT_FOUND, "table_not_found");
    assert_error(&t.delete("/api/tables/Person").await, StatusCode::NOT_FOUND, "table_not_found");
    // The name is free again.
    t.create_table("Person", json!({"first_name": "string"})).await;
}

async fn names_are_validated(t: TestApp) {
    for bad in ["", "1abc", "a-b", "a b", "Robert'); DROP TABLE students;--", "_tessera_tables", "sqlite_master", "é"]
    {
        let result = t.post("/api/tables", json!({"name": bad, "fields": {}})).await;
        assert_error(&result, StatusCode::BAD_REQUEST, "invalid_name");
    }
    let long = "a".repeat(64);
    assert_error(
        &t.post("/api/tables", json!({"name": long, "fields": {}})).await,
        StatusCode::BAD_REQUEST,
        "invalid_name",
    );
    for (fields, field) in [
        (json!({"id": "integer"}), None),
        (json!({"created_at": "datetime"}), None),
        (json!({"x;y": "string"}), None),
        (json!({"age": "integr"}), Some("age")),
        (json!({"age": {"type": "integer", "max_length": 3}}), Some("age")),
        (json!({"kind": {"type": "enum"}}), Some("kind")),
        (json!({"kind": {"type": "string", "pattern": "("}}), Some("kind")),
        (json!({"age": {"type": "integer", "default": "old"}}), Some("age")),
    ] {
        let result = t.post("/api/tables", json!({"name": "things", "fields": fields})).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{fields}: {}", result.1);
        if let Some(field) = field {
            assert_eq!(result.1["error"]["details"][0]["field"], field, "{}", result.1);
        }
    }
    // Nothing was created by any of the refused requests (users is built in).
    assert_eq!(t.table_names().await, ["users"]);
    // Names that look like SQL keywords are fine: they are quoted.
    t.create_table("select", json!({"from": "string", "where": "integer"})).await;
    let ids = t.insert("select", json!([{"from": "x", "where": 1}])).await;
    assert_eq!(ids.len(), 1);
}

async fn every_type_and_option(t: TestApp) {
    let fields = json!({
        "s": {"type": "string", "max_length": 5, "pattern": "[a-z]+"},
        "t": "text",
        "i": {"type": "integer", "min": -5, "max": 5, "default": 1},
        "f": "float",
        "d": "decimal",
        "b": "boolean",
        "day": "date",
        "at": "datetime",
        "doc": "json",
        "u": {"type": "uuid", "unique": true},
        "e": "email",
        "link": "url",
        "kind": {"type": "enum", "values": ["cat", "dog"], "indexed": true}
    });
    let created = t.create_table("everything", fields.clone()).await;
    assert_eq!(created["fields"]["kind"]["values"], json!(["cat", "dog"]));
    let row = json!({
        "s": "abc", "t": "long text", "i": 3, "f": 1.5, "d": "10.250", "b": true, "day": "2024-02-29",
        "at": "2024-01-01T10:00:00+01:00", "doc": {"nested": [1, {"x": null}]},
        "u": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "e": "leo@zoo.example", "link": "https://zoo.example/leo", "kind": "cat"
    });
    let (status, stored) = t.post("/api/tables/everything/rows", row).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["s"], "abc");
    assert_eq!(stored["i"], 3);
    assert_eq!(stored["f"], 1.5);
    assert_eq!(stored["d"], "10.25", "decimals are canonical strings");
    assert_eq!(stored["b"], true);
    assert_eq!(stored["day"], "2024-02-29");
    assert_eq!(stored["at"], "2024-01-01T09:00:00.000000Z", "datetimes are returned in UTC");
    assert_eq!(stored["doc"], json!({"nested": [1, {"x": null}]}));
    assert_eq!(stored["u"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(stored["kind"], "cat");
    assert!(stored["id"].as_i64().unwrap() > 0);
    assert!(stored["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(stored["created_at"], stored["updated_at"]);
    // The default applies when the field is omitted.
    let (_, defaulted) = t.post("/api/tables/everything/rows", json!({})).await;
    assert_eq!(defaulted["i"], 1);
    assert_eq!(defaulted["s"], serde_json::Value::Null);
}

async fn history_lists_versions(t: TestApp) {
    t.create_table("zoos", json!({"name": "string"})).await;
    let (status, _) = t.put("/api/tables/zoos", json!({"fields": {"name": "string", "city": "string"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.patch("/api/tables/zoos", json!({"rename_fields": {"city": "town"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, history) = t.get("/api/tables/zoos/history").await;
    assert_eq!(status, StatusCode::OK);
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{history}");
    assert_eq!(items[0]["action"], "create");
    assert_eq!(items[0]["before"], serde_json::Value::Null);
    assert_eq!(items[1]["version"], 2);
    // The managed `owner` field (on by default) is part of every version.
    let owner = json!({"type": "relation", "target": "users", "on_delete": "set_null", "system": true});
    assert_eq!(items[1]["before"]["fields"], json!({"name": {"type": "string"}, "owner": owner}));
    assert_eq!(items[1]["after"]["fields"]["city"], json!({"type": "string"}));
    assert_eq!(items[2]["steps"][0]["op"], "rename_field");
    assert!(items.iter().all(|i| i["at"].as_str().is_some_and(|at| at.ends_with('Z'))));
    let (_, table) = t.get("/api/tables/zoos").await;
    assert_eq!(table["version"], 3);
}
