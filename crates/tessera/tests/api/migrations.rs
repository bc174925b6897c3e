//! Schema changes over data: PUT (add, drop, change type), PATCH (renames, single-field
//! changes), dry runs, lossless / checked / refused conversions, defaults of new fields,
//! ids and constraints across rebuilds, and history.

use crate::both_stores;
use crate::harness::{assert_error, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_stores!(
    put_adds_drops_and_changes_types,
    patch_renames_table_keeping_rows,
    patch_renames_field_keeping_data,
    patch_adds_alters_and_drops_fields,
    dry_run_changes_nothing,
    lossless_conversions_keep_every_value,
    checked_conversions_refuse_bad_data_then_apply,
    refused_conversions_are_400,
    renaming_onto_existing_names_is_409,
    new_fields_and_defaults,
    ids_keep_increasing_after_a_rebuild,
    constraints_survive_rebuilds_and_renames,
    history_records_every_version,
    case_only_renames,
    refusal_reports_the_stored_value,
    bad_schema_changes_change_nothing,
    writes_during_migrations_are_never_lost,
);

/// Two JSON values are the same value (numbers compared as numbers: `7` and `7.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn ops(report: &Value) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("steps in {report}"))
        .iter()
        .map(|s| (s["op"].as_str().unwrap().to_string(), s["kind"].as_str().unwrap().to_string()))
        .collect()
}

fn column(rows: &[Value], field: &str) -> Vec<Value> {
    rows.iter().map(|r| r[field].clone()).collect()
}

async fn schema_of(t: &TestApp, table: &str) -> Value {
    let (status, schema) = t.get(&format!("/api/tables/{table}")).await;
    assert_eq!(status, StatusCode::OK, "{schema}");
    schema
}

async fn put_adds_drops_and_changes_types(t: TestApp) {
    // Without an owner: the exact field list is checked below.
    t.create_unowned_table("zoo", json!({"name": "string", "age": "integer", "legs": "integer", "old": "text"})).await;
    t.insert(
        "zoo",
        json!([
            {"name": "Leo", "age": 7, "legs": 4, "old": "x"},
            {"name": "Mia", "age": 60, "legs": 4},
            {"name": "Bo", "legs": 3, "old": "y"}
        ]),
    )
    .await;
    let before = t.all_rows("zoo").await;

    let desired =
        json!({"name": "string", "age": "float", "legs": "integer", "extra": {"type": "string", "default": "n/a"}});
    let (status, report) = t.put("/api/tables/zoo", json!({"fields": desired})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], true);
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["from_version"], 1);
    assert_eq!(report["to_version"], 2);
    assert_eq!(report["schema"]["version"], 2);
    let mut steps = ops(&report);
    steps.sort();
    assert_eq!(
        steps,
        [
            ("add_field".to_string(), "lossless".to_string()),
            ("alter_field".to_string(), "checked".to_string()),
            ("drop_field".to_string(), "destructive".to_string()),
        ],
        "{report}"
    );
    let schema = schema_of(&t, "zoo").await;
    assert_eq!(schema["version"], 2);
    let names: Vec<&String> = schema["fields"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["name", "age", "legs", "extra"]);
    assert_eq!(schema["fields"]["age"], json!({"type": "float"}));

    let after = t.all_rows("zoo").await;
    assert_eq!(column(&after, "id"), column(&before, "id"));
    assert_eq!(column(&after, "name"), column(&before, "name"));
    assert_eq!(column(&after, "legs"), column(&before, "legs"));
    assert_eq!(column(&after, "created_at"), column(&before, "created_at"));
    for (old, new) in before.iter().zip(&after) {
        assert!(same(&old["age"], &new["age"]), "age {} became {}", old["age"], new["age"]);
        assert!(new["age"].is_null() || new["age"].is_f64() || new["age"].is_i64());
        assert_eq!(new["extra"], "n/a", "a new field with a default fills existing rows");
        assert!(new.get("old").is_none(), "the dropped field is gone: {new}");
    }
    // The new schema is what writes obey now.
    let (status, row) = t.post("/api/tables/zoo/rows", json!({"name": "Kit", "age": 1.5})).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["extra"], "n/a");
    assert_error(
        &t.post("/api/tables/zoo/rows", json!({"name": "Kit", "old": "x"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
}

async fn patch_renames_table_keeping_rows(t: TestApp) {
    let created = t.create_table("animals", json!({"name": "string", "weight": "float"})).await;
    let table_id = created["id"].as_i64().unwrap();
    t.insert("animals", json!([{"name": "Leo", "weight": 190.5}, {"name": "Mia"}, {"name": "Bo", "weight": 30.5}]))
        .await;
    let before = t.all_rows("animals").await;

    let (status, report) = t.patch("/api/tables/animals", json!({"name": "beasts"})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(ops(&report), [("rename_table".to_string(), "lossless".to_string())]);
    assert_eq!(report["steps"][0]["from"], "animals");
    assert_eq!(report["steps"][0]["to"], "beasts");
    assert_eq!(report["steps"][0]["rows_touched"], 0);

    assert_error(&t.get("/api/tables/animals").await, StatusCode::NOT_FOUND, "table_not_found");
    assert_error(&t.get("/api/tables/animals/rows").await, StatusCode::NOT_FOUND, "table_not_found");
    assert_error(
        &t.post("/api/tables/animals/rows", json!({"name": "X"})).await,
        StatusCode::NOT_FOUND,
        "table_not_found",
    );
    let schema = schema_of(&t, "beasts").await;
    assert_eq!(schema["id"], table_id);
    assert_eq!(schema["name"], "beasts");
    assert_eq!(schema["version"], 2);
    assert_eq!(t.all_rows("beasts").await, before, "every row kept, ids and timestamps included");
    assert_eq!(t.all_rows(&table_id.to_string()).await, before);
    assert_eq!(t.table_names().await, ["users", "beasts"], "the built-in users table, and beasts");

    let ids = t.insert("beasts", json!([{"name": "Kit"}])).await;
    assert!(ids[0] > before.last().unwrap()["id"].as_i64().unwrap());
    // The old name is free again, and a PUT can rename too.
    t.create_table("animals", json!({"name": "string"})).await;
    let (status, report) = t
        .put("/api/tables/beasts", json!({"name": "creatures", "fields": {"name": "string", "weight": "float"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(t.all_rows("creatures").await.len(), 4);
    assert_error(&t.get("/api/tables/beasts").await, StatusCode::NOT_FOUND, "table_not_found");
    assert_eq!(t.all_rows("animals").await, Vec::<Value>::new());
}

async fn patch_renames_field_keeping_data(t: TestApp) {
    // Without an owner: the exact field list is checked below.
    t.create_unowned_table(
        "animals",
        json!({"name": "string", "weight": {"type": "float", "min": 0, "indexed": true}, "age": "integer"}),
    )
    .await;
    t.insert("animals", json!([{"name": "Leo", "weight": 190.5}, {"name": "Mia"}, {"name": "Bo", "weight": 30.25}]))
        .await;
    let before = t.all_rows("animals").await;

    let (status, report) = t.patch("/api/tables/animals", json!({"rename_fields": {"weight": "weight_kg"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(ops(&report), [("rename_field".to_string(), "lossless".to_string())], "never drop + add");
    assert_eq!(report["steps"][0]["from"], "weight");
    assert_eq!(report["steps"][0]["to"], "weight_kg");
    assert_eq!(report["steps"][0]["rows_touched"], 0);

    let schema = schema_of(&t, "animals").await;
    let names: Vec<&String> = schema["fields"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["name", "weight_kg", "age"], "the field keeps its place");
    assert_eq!(schema["fields"]["weight_kg"], json!({"type": "float", "min": 0.0, "indexed": true}));

    let after = t.all_rows("animals").await;
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(new["weight_kg"], old["weight"]);
        assert!(new.get("weight").is_none());
        for key in ["id", "name", "age", "created_at", "updated_at"] {
            assert_eq!(new[key], old[key], "{key}");
        }
    }
    // Filters, sorts and writes use the new name; the old one is unknown.
    let (status, body) = t.list_with("animals", &[("filter", "weight_kg > 100"), ("sort", "-weight_kg")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_error(
        &t.list_with("animals", &[("filter", "weight > 100")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_filter",
    );
    assert_error(
        &t.post("/api/tables/animals/rows", json!({"weight": 1})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &t.post("/api/tables/animals/rows", json!({"weight_kg": -1})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    // A rename and a type change of the same field in one PATCH keep the data too.
    let (status, report) = t
        .patch("/api/tables/animals", json!({"rename_fields": {"weight_kg": "mass"}, "alter_fields": {"mass": "text"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let after = t.all_rows("animals").await;
    assert_eq!(column(&after, "mass"), [json!("190.5"), Value::Null, json!("30.25")]);
    let (_, history) = t.get("/api/tables/animals/history").await;
    assert_eq!(history["items"][1]["steps"][0]["op"], "rename_field");
}

async fn patch_adds_alters_and_drops_fields(t: TestApp) {
    // Without an owner: the exact field list is checked below.
    t.create_unowned_table(
        "zoo",
        json!({"name": {"type": "string", "max_length": 50}, "age": "integer", "legs": "integer"}),
    )
    .await;
    t.insert("zoo", json!([{"name": "Leo", "age": 7, "legs": 4}, {"name": "Mia", "age": 60, "legs": 4}])).await;

    // Add.
    let (status, report) = t
        .patch(
            "/api/tables/zoo",
            json!({"add_fields": {"notes": {"type": "text", "default": "n/a"}, "flag": "boolean"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = t.all_rows("zoo").await;
    assert_eq!(column(&rows, "notes"), [json!("n/a"), json!("n/a")]);
    assert_eq!(column(&rows, "flag"), [Value::Null, Value::Null]);

    // Alter with partial options: only `required` changes.
    let (status, report) = t.patch("/api/tables/zoo", json!({"alter_fields": {"name": {"required": true}}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(ops(&report), [("alter_field".to_string(), "checked".to_string())]);
    let schema = schema_of(&t, "zoo").await;
    assert_eq!(schema["fields"]["name"], json!({"type": "string", "max_length": 50, "required": true}));
    assert_eq!(column(&t.all_rows("zoo").await, "name"), [json!("Leo"), json!("Mia")]);
    assert_error(
        &t.post("/api/tables/zoo/rows", json!({"age": 1})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    // Alter by full definition, and remove an option with null.
    let (status, report) = t.patch("/api/tables/zoo", json!({"alter_fields": {"age": "string"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(column(&t.all_rows("zoo").await, "age"), [json!("7"), json!("60")]);
    let (status, report) = t.patch("/api/tables/zoo", json!({"alter_fields": {"name": {"max_length": null}}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(schema_of(&t, "zoo").await["fields"]["name"], json!({"type": "string", "required": true}));

    // Drop.
    let (status, report) = t.patch("/api/tables/zoo", json!({"drop_fields": ["legs"]})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(ops(&report), [("drop_field".to_string(), "destructive".to_string())]);
    assert_eq!(report["steps"][0]["rows_touched"], 2);
    let rows = t.all_rows("zoo").await;
    assert!(rows.iter().all(|r| r.get("legs").is_none()), "{rows:?}");
    assert!(schema_of(&t, "zoo").await["fields"].get("legs").is_none());

    // All four in one PATCH: renames first, alterations by the new name.
    let (status, report) = t
        .patch(
            "/api/tables/zoo",
            json!({
                "rename_fields": {"notes": "remarks"},
                "alter_fields": {"remarks": {"max_length": 10}},
                "add_fields": {"legs": "integer"},
                "drop_fields": ["flag"]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let schema = schema_of(&t, "zoo").await;
    let names: Vec<&String> = schema["fields"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["name", "age", "remarks", "legs"]);
    assert_eq!(schema["fields"]["remarks"], json!({"type": "text", "default": "n/a", "max_length": 10}));
    let rows = t.all_rows("zoo").await;
    assert_eq!(column(&rows, "remarks"), [json!("n/a"), json!("n/a")]);
    assert_eq!(column(&rows, "legs"), [Value::Null, Value::Null], "a re-added field does not bring old data back");
    assert_eq!(schema["version"], 7);
}

async fn dry_run_changes_nothing(t: TestApp) {
    t.create_table("zoo", json!({"name": "string", "age": "string", "legs": "integer", "old": "text"})).await;
    let ids = t
        .insert(
            "zoo",
            json!([
                {"name": "Leo", "age": "7", "legs": 4, "old": "a"},
                {"name": "Mia", "age": "forty", "legs": 4},
                {"name": "Bo", "age": "12", "legs": 3},
                {"name": "Kit", "age": "x12", "legs": 4}
            ]),
        )
        .await;
    let before = t.snapshot("zoo").await;

    let desired = json!({"fields": {"name": "string", "age": "integer", "legs": "integer", "new": "text"}});
    for path in ["/api/tables/zoo?dry_run=true", "/api/tables/zoo?dry_run=1", "/api/tables/zoo?dry_run"] {
        let (status, report) = t.put(path, desired.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {report}");
        assert_eq!(report["dry_run"], true);
        assert_eq!(report["applied"], false);
        assert_eq!(report["from_version"], 1);
        assert_eq!(report["to_version"], 2);
        assert_eq!(report["rows"], 4);
        let steps = report["steps"].as_array().unwrap();
        let step = |op: &str| steps.iter().find(|s| s["op"] == op).unwrap_or_else(|| panic!("{op} in {report}"));
        assert_eq!(step("drop_field")["kind"], "destructive");
        assert_eq!(step("drop_field")["name"], "old");
        assert_eq!(step("alter_field")["kind"], "checked");
        assert_eq!(step("alter_field")["name"], "age");
        assert_eq!(step("add_field")["kind"], "lossless");
        assert!(steps.iter().all(|s| s["rows_touched"] == 4), "{report}");
        assert_eq!(report["failing_rows"], 2);
        let failures = report["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0]["id"], ids[1]);
        assert_eq!(failures[0]["field"], "age");
        assert_eq!(failures[0]["value"], "forty");
        assert!(failures[0]["reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert_eq!(failures[1]["id"], ids[3]);
        assert_eq!(failures[1]["value"], "x12");
        assert_eq!(t.snapshot("zoo").await, before, "{path} changed something");
    }

    let patch = json!({"rename_fields": {"legs": "limbs"}, "alter_fields": {"age": "integer"}, "drop_fields": ["old"]});
    let (status, report) = t.patch("/api/tables/zoo?dry_run=true", patch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], false);
    assert_eq!(report["failing_rows"], 2);
    let mut steps = ops(&report);
    steps.sort();
    assert_eq!(
        steps,
        [
            ("alter_field".to_string(), "checked".to_string()),
            ("drop_field".to_string(), "destructive".to_string()),
            ("rename_field".to_string(), "lossless".to_string()),
        ]
    );
    assert_eq!(report["schema"]["fields"]["limbs"], json!({"type": "integer"}), "the plan's schema: {report}");
    assert_eq!(t.snapshot("zoo").await, before);

    // A plan that would succeed is only shown too.
    let (status, report) = t.patch("/api/tables/zoo?dry_run=true", json!({"rename_fields": {"legs": "limbs"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["failing_rows"], 0);
    assert_eq!(report["applied"], false);
    assert_eq!(t.snapshot("zoo").await, before);
    // dry_run=false applies.
    let (status, report) = t.patch("/api/tables/zoo?dry_run=false", json!({"rename_fields": {"legs": "limbs"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], true);
    assert_eq!(schema_of(&t, "zoo").await["version"], 2);
}

async fn lossless_conversions_keep_every_value(t: TestApp) {
    let from = json!({
        "bi": {"type": "integer", "min": -1000, "max": 1000},
        "i2": "integer", "i3": "integer", "b": "boolean", "b2": "boolean", "d": "date", "dt": "date",
        "f": "float", "u": "uuid", "j": "json", "s": "string", "e": "email", "n": "integer", "x": "datetime"
    });
    let to = json!({
        "bi": {"type": "float", "min": -1000, "max": 1000},
        "i2": "string", "i3": "decimal", "b": "integer", "b2": "float", "d": "text", "dt": "datetime",
        "f": "text", "u": "text", "j": "text", "s": "text", "e": "string", "n": "json", "x": "text"
    });
    t.create_table("conv", from).await;
    t.insert(
        "conv",
        json!([
            {"bi": 5, "i2": 42, "i3": -7, "b": true, "b2": false, "d": "2024-05-01", "dt": "2024-05-01",
             "f": 0.1, "u": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "j": {"a": [1, 2]}, "s": "hé", "e": "Leo@Zoo.example",
             "n": 5, "x": "2024-05-01T12:30:00+02:00"},
            {"bi": -1000, "i2": -9_223_372_036_854_775_807i64, "i3": 9_223_372_036_854_775_807i64, "b": false, "b2": true,
             "d": "0001-01-01", "dt": "9999-12-31", "f": 1.5e21, "j": "red", "n": -1},
            {}
        ]),
    )
    .await;
    let (status, plan) = t.put("/api/tables/conv?dry_run=true", json!({"fields": to.clone()})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    for step in plan["steps"].as_array().unwrap() {
        assert_eq!(step["kind"], "lossless", "{step}");
    }
    let (status, report) = t.put("/api/tables/conv", json!({"fields": to})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = t.all_rows("conv").await;
    let expected = [
        json!({"bi": 5.0, "i2": "42", "i3": "-7", "b": 1, "b2": 0.0, "d": "2024-05-01", "dt": "2024-05-01T00:00:00.000000Z",
               "f": "0.1", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": "{\"a\":[1,2]}", "s": "hé",
               "e": "Leo@Zoo.example", "n": 5, "x": "2024-05-01T10:30:00.000000Z"}),
        json!({"bi": -1000.0, "i2": "-9223372036854775807", "i3": "9223372036854775807", "b": 0, "b2": 1.0,
               "d": "0001-01-01", "dt": "9999-12-31T00:00:00.000000Z", "f": "1500000000000000000000", "u": null,
               "j": "\"red\"", "s": null, "e": null, "n": -1, "x": null}),
        json!({"bi": null, "i2": null, "i3": null, "b": null, "b2": null, "d": null, "dt": null, "f": null, "u": null,
               "j": null, "s": null, "e": null, "n": null, "x": null}),
    ];
    for (row, expected) in rows.iter().zip(expected) {
        for (key, value) in expected.as_object().unwrap() {
            assert!(same(&row[key], value), "{key}: expected {value}, got {} in {row}", row[key]);
            assert_eq!(row[key].is_string(), value.is_string(), "{key}: {} vs {value}", row[key]);
        }
    }
}

/// One checked change: values, the alteration, which values fail, and what the good ones
/// become once the bad rows are gone.
struct Checked {
    from: Value,
    alter: Value,
    values: Vec<Value>,
    bad: Vec<usize>,
    converted: Vec<Value>,
}

fn checked_cases() -> Vec<Checked> {
    let case = |from: Value, alter: Value, values: Value, bad: &[usize], converted: Value| Checked {
        from,
        alter,
        values: values.as_array().unwrap().clone(),
        bad: bad.to_vec(),
        converted: converted.as_array().unwrap().clone(),
    };
    vec![
        case(
            json!("string"),
            json!("integer"),
            json!(["7", "007", "-3", "forty", "12.5", " 4", ""]),
            &[3, 4, 5, 6],
            json!([7, 7, -3]),
        ),
        case(json!("float"), json!("integer"), json!([5.0, -2.0, 5.5, 1e300]), &[2, 3], json!([5, -2])),
        case(
            json!("string"),
            json!("date"),
            json!(["2024-01-01", "2024-02-30", "01/02/2024"]),
            &[1, 2],
            json!(["2024-01-01"]),
        ),
        case(json!("string"), json!({"required": true}), json!(["a", null, "b"]), &[1], json!(["a", "b"])),
        case(
            json!("string"),
            json!({"unique": true}),
            json!(["a", "b", "a", "c", "b"]),
            &[2, 4],
            json!(["a", "b", "c"]),
        ),
        case(json!("string"), json!({"max_length": 3}), json!(["abc", "abcd", "é é"]), &[1], json!(["abc", "é é"])),
        case(
            json!({"type": "string", "max_length": 10}),
            json!({"max_length": 3}),
            json!(["abc", "abcdef"]),
            &[1],
            json!(["abc"]),
        ),
        case(json!("integer"), json!("float"), json!([1, 9_007_199_254_740_993i64]), &[1], json!([1.0])),
        case(json!("text"), json!("json"), json!(["{\"a\": 1}", "hello", "null"]), &[1, 2], json!([{"a": 1}])),
        case(json!("string"), json!("boolean"), json!(["TRUE", "0", "yes"]), &[2], json!([true, false])),
        case(
            json!("datetime"),
            json!("date"),
            json!(["2024-05-01T00:00:00.000000Z", "2024-05-01T10:00:00.000000Z"]),
            &[1],
            json!(["2024-05-01"]),
        ),
        case(json!("integer"), json!({"min": 0}), json!([0, 5, -1]), &[2], json!([0, 5])),
        case(
            json!({"type": "enum", "values": ["a", "b", "c"]}),
            json!({"values": ["a", "b"]}),
            json!(["a", "c", "b"]),
            &[1],
            json!(["a", "b"]),
        ),
        case(json!("string"), json!({"pattern": "[a-z]+"}), json!(["abc", "ABC"]), &[1], json!(["abc"])),
        case(json!("decimal"), json!("float"), json!(["0.1", "123456789012345678"]), &[1], json!([0.1])),
    ]
}

async fn checked_conversions_refuse_bad_data_then_apply(t: TestApp) {
    let mut problems: Vec<String> = Vec::new();
    macro_rules! check {
        ($cond:expr, $($msg:tt)*) => {
            if !$cond {
                problems.push(format!($($msg)*));
            }
        };
    }
    for (index, case) in checked_cases().into_iter().enumerate() {
        let table = format!("c{index}");
        let label = format!("case {index}: {} -> {}", case.from, case.alter);
        t.create_table(&table, json!({"v": case.from})).await;
        let rows: Vec<Value> = case.values.iter().map(|v| json!({"v": v})).collect();
        let ids = t.insert(&table, Value::Array(rows)).await;
        let before = t.snapshot(&table).await;
        let patch = json!({"alter_fields": {"v": case.alter}});

        let (status, body) = t.patch(&format!("/api/tables/{table}"), patch.clone()).await;
        check!(status == StatusCode::CONFLICT, "{label}: PATCH answered {status}: {body}");
        check!(body["error"]["code"] == "migration_refused", "{label}: {body}");
        check!(body["error"]["failing_rows"] == json!(case.bad.len()), "{label}: failing_rows in {body}");
        let details = body["error"]["details"].as_array().cloned().unwrap_or_default();
        check!(details.len() == case.bad.len(), "{label}: one detail per failing row: {body}");
        if let Some(first) = details.first() {
            let bad = case.bad[0];
            check!(first["id"] == ids[bad], "{label}: first failing id in {body}");
            check!(first["field"] == "v", "{label}: field in {body}");
            check!(same(&first["value"], &case.values[bad]), "{label}: value in {body}");
            check!(first["reason"].as_str().is_some_and(|r| !r.is_empty()), "{label}: reason in {body}");
        }
        check!(t.snapshot(&table).await == before, "{label}: the refused migration changed something");

        // A whole-schema PUT of a type change is judged the same way.
        if case.alter.is_string() {
            let (status, body) = t.put(&format!("/api/tables/{table}"), json!({"fields": {"v": case.alter}})).await;
            check!(status == StatusCode::CONFLICT, "{label}: PUT answered {status}: {body}");
            check!(body["error"]["failing_rows"] == json!(case.bad.len()), "{label}: PUT failing_rows: {body}");
            check!(t.snapshot(&table).await == before, "{label}: the refused PUT changed something");
        }
        // A dry run reports the same rows.
        let (status, report) = t.patch(&format!("/api/tables/{table}?dry_run=true"), patch.clone()).await;
        check!(status == StatusCode::OK, "{label}: dry run answered {status}: {report}");
        check!(report["failing_rows"] == json!(case.bad.len()), "{label}: dry run failing_rows: {report}");
        check!(report["steps"][0]["kind"] == "checked", "{label}: dry run kind: {report}");
        check!(t.snapshot(&table).await == before, "{label}: the dry run changed something");

        // Without the bad rows, the same change applies and converts every value exactly.
        for bad in &case.bad {
            let (status, _) = t.delete(&format!("/api/tables/{table}/rows/{}", ids[*bad])).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        let (status, report) = t.patch(&format!("/api/tables/{table}"), patch).await;
        check!(status == StatusCode::OK, "{label}: the clean PATCH answered {status}: {report}");
        let values = column(&t.all_rows(&table).await, "v");
        check!(
            values.len() == case.converted.len() && values.iter().zip(&case.converted).all(|(a, b)| same(a, b)),
            "{label}: converted to {values:?}, expected {:?}",
            case.converted
        );
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

async fn refused_conversions_are_400(t: TestApp) {
    let pairs = [
        ("integer", json!(5), "date"),
        ("float", json!(1.5), "datetime"),
        ("decimal", json!("1.5"), "date"),
        ("boolean", json!(true), "uuid"),
        ("integer", json!(5), "email"),
        ("date", json!("2024-01-01"), "integer"),
        ("datetime", json!("2024-01-01T00:00:00Z"), "boolean"),
        ("date", json!("2024-01-01"), "uuid"),
        ("uuid", json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "email"),
        ("email", json!("a@b.example"), "url"),
        ("url", json!("https://zoo.example/"), "integer"),
        ("uuid", json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "date"),
    ];
    for (index, (from, value, to)) in pairs.into_iter().enumerate() {
        let table = format!("r{index}");
        t.create_table(&table, json!({"keep": "string", "v": from})).await;
        t.insert(&table, json!([{"keep": "k", "v": value}])).await;
        let before = t.snapshot(&table).await;
        let path = format!("/api/tables/{table}");
        for result in [
            t.put(&path, json!({"fields": {"keep": "string", "v": to}})).await,
            t.put(&format!("{path}?dry_run=true"), json!({"fields": {"keep": "string", "v": to}})).await,
            t.patch(&path, json!({"alter_fields": {"v": to}})).await,
            t.patch(
                &path,
                json!({"alter_fields": {"v": {"type": to, "required": false}}, "add_fields": {"z": "text"}}),
            )
            .await,
        ] {
            assert_error(&result, StatusCode::BAD_REQUEST, "conversion_refused");
            assert_eq!(result.1["error"]["details"][0]["field"], "v", "{from} -> {to}: {}", result.1);
        }
        assert_eq!(t.snapshot(&table).await, before, "{from} -> {to}");
    }
    // Refused even when there is no data to judge.
    t.create_table("empty", json!({"v": "integer"})).await;
    assert_error(
        &t.put("/api/tables/empty", json!({"fields": {"v": "date"}})).await,
        StatusCode::BAD_REQUEST,
        "conversion_refused",
    );
}

async fn renaming_onto_existing_names_is_409(t: TestApp) {
    t.create_table("animals", json!({"name": "string", "age": "integer"})).await;
    t.create_table("zoos", json!({"city": "string"})).await;
    t.insert("animals", json!([{"name": "Leo", "age": 7}])).await;
    t.insert("zoos", json!([{"city": "Paris"}])).await;
    let animals = t.snapshot("animals").await;
    let zoos = t.snapshot("zoos").await;
    for result in [
        t.patch("/api/tables/animals", json!({"name": "zoos"})).await,
        t.patch("/api/tables/animals", json!({"name": "ZOOS"})).await,
        t.patch("/api/tables/animals?dry_run=true", json!({"name": "Zoos"})).await,
        t.put("/api/tables/animals", json!({"name": "zoos", "fields": {"name": "string", "age": "integer"}})).await,
    ] {
        assert_error(&result, StatusCode::CONFLICT, "table_exists");
    }
    // Field names too: rename or add onto an existing field.
    for patch in [
        json!({"rename_fields": {"age": "name"}}),
        json!({"rename_fields": {"age": "NAME"}}),
        json!({"add_fields": {"name": "text"}}),
        json!({"add_fields": {"Age": "text"}}),
    ] {
        let result = t.patch("/api/tables/animals", patch.clone()).await;
        assert_error(&result, StatusCode::CONFLICT, "field_exists");
        assert!(result.1["error"]["details"][0]["field"].is_string(), "{patch}: {}", result.1);
    }
    assert_eq!(t.snapshot("animals").await, animals);
    assert_eq!(t.snapshot("zoos").await, zoos);
}

async fn new_fields_and_defaults(t: TestApp) {
    t.create_table("zoo", json!({"name": "string"})).await;
    t.insert("zoo", json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])).await;
    let (status, report) = t
        .patch(
            "/api/tables/zoo",
            json!({"add_fields": {
                "score": {"type": "integer", "default": 10},
                "active": {"type": "boolean", "default": true},
                "tag": {"type": "string", "required": true, "default": "x"},
                "at": {"type": "datetime", "default": "2024-01-01T01:00:00+01:00"},
                "plain": "text"
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    for row in t.all_rows("zoo").await {
        assert_eq!(row["score"], 10);
        assert_eq!(row["active"], true);
        assert_eq!(row["tag"], "x");
        assert_eq!(row["at"], "2024-01-01T00:00:00.000000Z");
        assert_eq!(row["plain"], Value::Null);
    }
    // A required field without a default cannot be added to a table with rows.
    let before = t.snapshot("zoo").await;
    let result =
        t.patch("/api/tables/zoo", json!({"add_fields": {"must": {"type": "integer", "required": true}}})).await;
    assert_error(&result, StatusCode::CONFLICT, "migration_refused");
    assert_eq!(result.1["error"]["failing_rows"], 3, "{}", result.1);
    let result = t
        .put(
            "/api/tables/zoo",
            json!({"fields": {"name": "string", "score": {"type": "integer", "default": 10},
                   "active": {"type": "boolean", "default": true}, "tag": {"type": "string", "required": true, "default": "x"},
                   "at": {"type": "datetime", "default": "2024-01-01T01:00:00+01:00"}, "plain": "text",
                   "must": {"type": "integer", "required": true}}}),
        )
        .await;
    assert_error(&result, StatusCode::CONFLICT, "migration_refused");
    // An invalid default is refused before any data is looked at.
    let result =
        t.patch("/api/tables/zoo", json!({"add_fields": {"bad": {"type": "integer", "default": "ten"}}})).await;
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.1);
    assert_eq!(result.1["error"]["details"][0]["field"], "bad", "{}", result.1);
    let result = t.patch("/api/tables/zoo", json!({"alter_fields": {"score": {"default": "ten"}}})).await;
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.1);
    assert_eq!(t.snapshot("zoo").await, before);
    // On an empty table it is fine.
    t.create_table("empty", json!({"name": "string"})).await;
    let (status, report) =
        t.patch("/api/tables/empty", json!({"add_fields": {"must": {"type": "integer", "required": true}}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");

    // Changing a default leaves stored values alone and applies to new rows.
    let (status, report) = t.patch("/api/tables/zoo", json!({"alter_fields": {"score": {"default": 20}}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(ops(&report), [("alter_field".to_string(), "lossless".to_string())]);
    assert!(t.all_rows("zoo").await.iter().all(|r| r["score"] == 10));
    let (_, row) = t.post("/api/tables/zoo/rows", json!({"name": "d"})).await;
    assert_eq!(row["score"], 20);
}

async fn ids_keep_increasing_after_a_rebuild(t: TestApp) {
    t.create_table("seq", json!({"v": "integer", "w": "string"})).await;
    let ids = t.insert("seq", json!([{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}, {"v": 5}])).await;
    let highest = *ids.iter().max().unwrap();
    let (status, _) = t.delete(&format!("/api/tables/seq/rows/{highest}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A type change rebuilds the table on SQLite.
    let (status, report) = t.patch("/api/tables/seq", json!({"alter_fields": {"v": "string"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let next = t.insert("seq", json!([{"v": "6"}])).await[0];
    assert!(next > highest, "id {next} after a rebuild must exceed every earlier id ({highest})");

    // Again with every row deleted before the rebuild.
    for row in t.all_rows("seq").await {
        t.delete(&format!("/api/tables/seq/rows/{}", row["id"])).await;
    }
    let (status, report) = t.put("/api/tables/seq", json!({"fields": {"v": "text", "w": "text"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let after_empty = t.insert("seq", json!([{"v": "7"}])).await[0];
    assert!(after_empty > next, "id {after_empty} after rebuilding an emptied table must exceed {next}");
    // And after a rename of the table.
    let (status, _) = t.patch("/api/tables/seq", json!({"name": "seq2", "alter_fields": {"v": "string"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.delete(&format!("/api/tables/seq2/rows/{after_empty}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.patch("/api/tables/seq2", json!({"alter_fields": {"w": "string"}})).await;
    assert_eq!(status, StatusCode::OK);
    let last = t.insert("seq2", json!([{"v": "8"}])).await[0];
    assert!(last > after_empty, "id {last} must exceed {after_empty}");
}

async fn constraints_survive_rebuilds_and_renames(t: TestApp) {
    t.create_table(
        "tags",
        json!({"code": {"type": "string", "unique": true}, "age": {"type": "integer", "indexed": true}, "other": "integer"}),
    )
    .await;
    t.insert("tags", json!([{"code": "A", "age": 1, "other": 1}, {"code": "B", "age": 2}])).await;

    async fn duplicate_refused(t: &TestApp, table: &str, field: &str, label: &str) {
        let before = t.snapshot(table).await;
        let result = t.post(&format!("/api/tables/{table}/rows"), json!({field: "A"})).await;
        assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
        assert_eq!(result.1["error"]["details"][0]["field"], field, "{label}: {}", result.1);
        assert_eq!(t.snapshot(table).await, before, "{label}");
    }

    // Another field changes type (a rebuild on SQLite).
    let (status, report) = t.patch("/api/tables/tags", json!({"alter_fields": {"other": "string"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    duplicate_refused(&t, "tags", "code", "after another field's type change").await;
    // The unique field itself changes an option.
    let (status, report) = t.patch("/api/tables/tags", json!({"alter_fields": {"code": {"max_length": 10}}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    duplicate_refused(&t, "tags", "code", "after the unique field's own change").await;
    // The indexed field changes type.
    let (status, report) = t
        .put(
            "/api/tables/tags",
            json!({"fields": {"code": {"type": "string", "unique": true, "max_length": 10},
                              "age": {"type": "decimal", "indexed": true}, "other": "string"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    duplicate_refused(&t, "tags", "code", "after a PUT").await;
    // Renames.
    let (status, report) = t.patch("/api/tables/tags", json!({"rename_fields": {"code": "ref"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    duplicate_refused(&t, "tags", "ref", "after renaming the field").await;
    let (status, report) = t.patch("/api/tables/tags", json!({"name": "labels"})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    duplicate_refused(&t, "labels", "ref", "after renaming the table").await;
    let (status, report) = t.patch("/api/tables/labels", json!({"alter_fields": {"other": "text"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    duplicate_refused(&t, "labels", "ref", "after a rebuild of the renamed table").await;
    // Updates are checked too.
    let rows = t.all_rows("labels").await;
    let result = t.patch(&format!("/api/tables/labels/rows/{}", rows[1]["id"]), json!({"ref": "A"})).await;
    assert_error(&result, StatusCode::CONFLICT, "duplicate_value");
    // Dropping `unique` is lossless and lets duplicates in.
    let (status, report) = t.patch("/api/tables/labels", json!({"alter_fields": {"ref": {"unique": false}}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (status, body) = t.post("/api/tables/labels/rows", json!({"ref": "A"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The table still sorts and filters by the indexed, converted field.
    let (status, body) = t.list_with("labels", &[("filter", "age >= 1"), ("sort", "-age")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"][0]["age"], "2");
}

async fn history_records_every_version(t: TestApp) {
    // Without an owner: the exact fields of the first version are checked below.
    let created = t.create_unowned_table("zoos", json!({"name": "string"})).await;
    t.insert("zoos", json!([{"name": "Paris"}, {"name": "forty"}])).await;
    let (status, _) = t.put("/api/tables/zoos", json!({"fields": {"name": "string", "size": "integer"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.patch("/api/tables/zoos", json!({"rename_fields": {"size": "area"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.patch("/api/tables/zoos", json!({"name": "parks"})).await;
    assert_eq!(status, StatusCode::OK);
    // Neither a refusal, a dry run nor a change to the same schema is a version.
    let (status, _) = t.patch("/api/tables/parks", json!({"alter_fields": {"name": "integer"}})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = t.patch("/api/tables/parks?dry_run=true", json!({"drop_fields": ["area"]})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, noop) = t.put("/api/tables/parks", json!({"fields": {"name": "string", "area": "integer"}})).await;
    assert_eq!(status, StatusCode::OK, "{noop}");

    let (status, history) = t.get("/api/tables/parks/history").await;
    assert_eq!(status, StatusCode::OK);
    let items = history["items"].as_array().unwrap();
    let versions: Vec<i64> = items.iter().map(|i| i["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4], "{history}");
    let actions: Vec<&str> = items.iter().map(|i| i["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "migrate", "migrate", "migrate"]);
    for pair in items.windows(2) {
        assert_eq!(pair[1]["before"], pair[0]["after"], "each version starts where the last ended");
        assert!(pair[0]["at"].as_str().unwrap() <= pair[1]["at"].as_str().unwrap());
    }
    assert_eq!(items[0]["after"]["fields"], json!({"name": {"type": "string"}}));
    assert_eq!(items[1]["after"]["fields"]["size"], json!({"type": "integer"}));
    assert_eq!(items[2]["steps"][0]["op"], "rename_field");
    assert_eq!(items[3]["steps"][0]["op"], "rename_table");
    assert_eq!(items[3]["before"]["name"], "zoos");
    assert_eq!(items[3]["after"]["name"], "parks");
    let schema = schema_of(&t, "parks").await;
    assert_eq!(items[3]["after"], schema);
    assert_eq!(schema["version"], 4);
    let (_, by_id) = t.get(&format!("/api/tables/{}/history", created["id"])).await;
    assert_eq!(by_id, history);
    assert_error(&t.get("/api/tables/zoos/history").await, StatusCode::NOT_FOUND, "table_not_found");
}

/// Renames that change only the letter case (names are case-insensitive): the new spelling
/// is kept, the data too, and the answer is never a 5xx.
async fn case_only_renames(t: TestApp) {
    t.create_table("animals", json!({"name": "string"})).await;
    t.insert("animals", json!([{"name": "Leo"}])).await;
    let (status, report) = t.patch("/api/tables/animals", json!({"rename_fields": {"name": "Name"}})).await;
    assert_eq!(status, StatusCode::OK, "rename field name -> Name: {report}");
    let rows = t.all_rows("animals").await;
    assert_eq!(rows[0]["Name"], "Leo", "{rows:?}");

    t.create_table("zoos", json!({"city": "string"})).await;
    t.insert("zoos", json!([{"city": "Paris"}])).await;
    let (status, report) = t.patch("/api/tables/zoos", json!({"name": "Zoos"})).await;
    assert_eq!(status, StatusCode::OK, "rename table zoos -> Zoos: {report}");
    assert_eq!(schema_of(&t, "zoos").await["name"], "Zoos");
    assert_eq!(t.all_rows("Zoos").await[0]["city"], "Paris");
}

/// The docs: a refused change lists the failing rows "with their id, their current value
/// and the reason". When values collide only after conversion ("7" and "007" both become
/// 7), the current value of the failing row is "007".
async fn refusal_reports_the_stored_value(t: TestApp) {
    t.create_table("codes", json!({"v": "string"})).await;
    let ids = t.insert("codes", json!([{"v": "7"}, {"v": "007"}])).await;
    let before = t.snapshot("codes").await;
    let result =
        t.patch("/api/tables/codes", json!({"alter_fields": {"v": {"type": "integer", "unique": true}}})).await;
    assert_error(&result, StatusCode::CONFLICT, "migration_refused");
    assert_eq!(result.1["error"]["failing_rows"], 1);
    assert_eq!(result.1["error"]["details"][0]["id"], ids[1]);
    assert_eq!(t.snapshot("codes").await, before);
    assert_eq!(result.1["error"]["details"][0]["value"], "007", "the stored value: {}", result.1);
}

async fn bad_schema_changes_change_nothing(t: TestApp) {
    t.create_table("zoo", json!({"name": "string", "age": "integer"})).await;
    t.insert("zoo", json!([{"name": "Leo", "age": 7}])).await;
    let before = t.snapshot("zoo").await;
    let named = [
        (json!({"rename_fields": {"nope": "x"}}), "unknown_field", Some("nope")),
        (json!({"alter_fields": {"nope": "text"}}), "unknown_field", Some("nope")),
        (json!({"drop_fields": ["nope"]}), "unknown_field", Some("nope")),
        (json!({"drop_fields": ["age", "age"]}), "unknown_field", Some("age")),
        (json!({"alter_fields": {"age": {"max_length": 3}}}), "invalid_schema_change", Some("age")),
        (json!({"alter_fields": {"age": "integr"}}), "invalid_schema_change", Some("age")),
        (json!({"add_fields": {"x": "integr"}}), "invalid_schema_change", Some("x")),
    ];
    for (patch, code, field) in named {
        let result = t.patch("/api/tables/zoo", patch.clone()).await;
        assert_error(&result, StatusCode::BAD_REQUEST, code);
        if let Some(field) = field {
            assert_eq!(result.1["error"]["details"][0]["field"], field, "{patch}: {}", result.1);
        }
    }
    for patch in [
        json!({"rename_fields": {"age": "years"}, "drop_fields": ["age"]}),
        json!({"rename_fields": {"age": "id"}}),
        json!({"rename_fields": {"age": "bad name"}}),
        json!({"rename_fields": {"age": "x\"; DROP TABLE zoo; --"}}),
        json!({"name": "bad name"}),
        json!({"name": "zoo; DROP TABLE zoo"}),
        json!({"name": ""}),
        json!({"add_fields": {"created_at": "datetime"}}),
        json!({"add_fields": {"a b": "text"}}),
        json!({"bogus": 1}),
        json!({"drop_fields": "age"}),
        json!([1, 2]),
    ] {
        let result = t.patch("/api/tables/zoo", patch.clone()).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{patch}: {}", result.1);
        assert!(result.1["error"]["code"].is_string() && result.1["error"]["details"].is_array(), "{}", result.1);
    }
    for body in [
        json!({}),
        json!({"fields": {"id": "integer"}}),
        json!({"fields": {"name": "string", "age": "integer"}, "bogus": true}),
        json!({"fields": {"name": "string", "age": {"type": "integer", "min": 5, "max": 1}}}),
        json!({"fields": "name"}),
        json!({"name": "bad name", "fields": {"name": "string", "age": "integer"}}),
    ] {
        let result = t.put("/api/tables/zoo", body.clone()).await;
        assert_eq!(result.0, StatusCode::BAD_REQUEST, "{body}: {}", result.1);
        assert!(result.1["error"]["code"].is_string() && result.1["error"]["details"].is_array(), "{}", result.1);
    }
    assert_eq!(t.snapshot("zoo").await, before);
}

/// Rows written while a table is migrated are either refused in the error shape (a 4xx
/// such as 409 `schema_changed`) or kept, converted to the new schema; never a 5xx, never
/// lost. Concurrent migrations of one table run one after the other or are refused.
async fn writes_during_migrations_are_never_lost(t: TestApp) {
    t.create_table("busy", json!({"v": "integer", "w": "string", "n": "integer"})).await;
    let seed: Vec<Value> = (0..5000).map(|i| json!({"v": i, "w": "seed", "n": -1})).collect();
    t.insert("busy", Value::Array(seed)).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        // As the admin: an anonymous write would be refused (401) before it met a migration.
        let (client, base, stop) = (t.client.clone(), t.base.clone(), stop.clone());
        let token = t.token.clone().expect("admin token");
        writers.push(tokio::spawn(async move {
            let mut answers: Vec<(u16, Value)> = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || i < 5 {
                // Writers only touch `n`, which no migration changes.
                let body = if i % 2 == 0 {
                    json!({"n": writer * 1000 + i})
                } else {
                    json!([{"n": writer * 1000 + i}, {"n": writer * 1000 + i}])
                };
                let request = client.post(format!("{base}/api/tables/busy/rows")).bearer_auth(&token).json(&body);
                let response = request.send().await.expect("request");
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                answers.push((status, serde_json::from_str(&text).unwrap_or(Value::String(text))));
                i += 1;
            }
            answers
        }));
    }
    let mut migrations = Vec::new();
    for patch in [
        json!({"alter_fields": {"v": "string"}}),
        json!({"rename_fields": {"w": "label"}}),
        json!({"add_fields": {"extra": {"type": "integer", "required": true, "default": 1}}}),
        json!({"alter_fields": {"v": "text"}}),
    ] {
        let (status, report) = t.patch("/api/tables/busy", patch.clone()).await;
        migrations.push((status, report));
    }
    // Two migrations at once: one after the other, or one refused as stale.
    let (a, b) = tokio::join!(
        t.patch("/api/tables/busy", json!({"add_fields": {"a": "text"}})),
        t.patch("/api/tables/busy", json!({"add_fields": {"b": "text"}}))
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut created_ids: Vec<i64> = Vec::new();
    let mut problems = Vec::new();
    for writer in writers {
        for (status, body) in writer.await.expect("writer task") {
            match status {
                201 => match body.get("ids") {
                    Some(ids) => created_ids.extend(ids.as_array().unwrap().iter().map(|i| i.as_i64().unwrap())),
                    None => created_ids.push(body["id"].as_i64().unwrap()),
                },
                400..=499 if body["error"]["code"].is_string() => {}
                _ => problems.push(format!("a write during a migration answered {status}: {body}")),
            }
        }
    }
    for (status, report) in &migrations {
        if *status != StatusCode::OK {
            problems.push(format!("a migration answered {status}: {report}"));
        }
    }
    let mut applied = migrations.iter().filter(|(s, _)| *s == StatusCode::OK).count() as i64;
    for (status, body) in [&a, &b] {
        match *status {
            StatusCode::OK => applied += 1,
            StatusCode::CONFLICT if body["error"]["code"] == "schema_changed" => {}
            other => problems.push(format!("a concurrent migration answered {other}: {body}")),
        }
    }
    let schema = schema_of(&t, "busy").await;
    if schema["version"] != 1 + applied {
        problems.push(format!("version {} after {applied} applied migrations", schema["version"]));
    }
    let (_, total) = t.list_with("busy", &[("total", "true"), ("limit", "1")]).await;
    if total["total"] != json!(5000 + created_ids.len()) {
        problems.push(format!("{} rows, expected 5000 + {} created", total["total"], created_ids.len()));
    }
    let mut missing = Vec::new();
    for id in &created_ids {
        let (status, row) = t.get(&format!("/api/tables/busy/rows/{id}")).await;
        if status != StatusCode::OK || !row["n"].is_i64() || row["extra"] != 1 {
            missing.push(format!("{id}: {status} {row}"));
        }
    }
    if !missing.is_empty() {
        problems.push(format!(
            "{} of {} rows created during the migrations are missing, or lack the required `extra` (default 1) \
             that every row must hold: {:?}",
            missing.len(),
            created_ids.len(),
            &missing[..missing.len().min(3)]
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
