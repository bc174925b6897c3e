//! `/api/openapi.json` (OpenAPI 3.1 from the live schema, checked by a standard validator),
//! Swagger UI at `/docs` with its assets served by the binary, and `/health`.

use crate::harness::{Server, StoreLocation, TestApp};
use crate::{both_store_locations, both_stores};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

both_stores!(
    health_answers_ok,
    openapi_describes_every_table_and_validates,
    openapi_follows_schema_changes,
    openapi_validates_whatever_the_table_names,
    swagger_ui_is_served_from_the_binary,
    swagger_ui_with_a_trailing_slash_loads_its_assets,
);
both_store_locations!(binary_serves_health_docs_and_openapi);

const VALIDATE: &str =
    "import sys, json\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\n";

/// Runs openapi-spec-validator (PyPI) on a document; `Err` with its complaint.
/// A missing python3 or validator is a failure, never a skip.
async fn run_validator(document: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(document).unwrap()).expect("write the document");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").arg("-c").arg(VALIDATE).arg(&path).output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!("python3 is required to validate the OpenAPI document (and `pip install openapi-spec-validator`): {e}")
    });
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("ModuleNotFoundError") && !stderr.contains("ImportError"),
        "openapi-spec-validator is required: python3 -m pip install openapi-spec-validator\n{stderr}"
    );
    if output.status.success() {
        Ok(())
    } else {
        Err(stderr.lines().rfind(|line| !line.trim().is_empty()).unwrap_or("(no message)").to_string())
    }
}

#[track_caller]
fn assert_valid(result: Result<(), String>, document: &Value) {
    if let Err(complaint) = result {
        panic!("the OpenAPI document does not validate: {complaint}\n{document:#}");
    }
}

async fn openapi(t: &TestApp) -> Value {
    let response = t.client.get(format!("{}/api/openapi.json", t.base)).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    response.json().await.expect("the document is JSON")
}

/// Follows a `$ref` into `#/components/schemas/...` (asserting it is one).
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("a component reference, got {reference}"));
            let target = &document["components"]["schemas"][name];
            assert!(target.is_object(), "{reference} resolves");
            target
        }
        None => schema,
    }
}

/// The JSON Schema `type` as a list (`"string"` or `["string", "null"]`).
fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// The schema of one row of `table`, as the GET-by-id answer declares it (a component).
fn row_schema<'a>(document: &'a Value, table: &str) -> &'a Value {
    let path = &document["paths"][format!("/api/tables/{table}/rows/{{id}}")];
    let schema = &path["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema["$ref"].is_string(), "the row of {table} is a component schema: {schema}");
    resolve(document, schema)
}

/// The object schema of a create body of `table` (one row).
fn input_schema<'a>(document: &'a Value, table: &str) -> &'a Value {
    let path = &document["paths"][format!("/api/tables/{table}/rows")];
    let schema = resolve(document, &path["post"]["requestBody"]["content"]["application/json"]["schema"]);
    let candidates: Vec<&Value> = match schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        Some(Value::Array(options)) => options.iter().map(|option| resolve(document, option)).collect(),
        _ => vec![schema],
    };
    candidates
        .into_iter()
        .find(|candidate| types(candidate).contains(&"object"))
        .unwrap_or_else(|| panic!("an object schema for one {table} row in {schema}"))
}

/// The tables that have row paths in the document.
fn tables_in(document: &Value) -> BTreeSet<String> {
    document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .filter_map(|path| path.strip_prefix("/api/tables/"))
        .filter_map(|rest| rest.strip_suffix("/rows").or_else(|| rest.strip_suffix("/rows/{id}")))
        .filter(|table| !table.starts_with('{'))
        .map(str::to_string)
        .collect()
}

#[track_caller]
fn assert_row_paths(document: &Value, table: &str) {
    let rows = &document["paths"][format!("/api/tables/{table}/rows")];
    for method in ["get", "post"] {
        assert!(rows[method].is_object(), "{method} /api/tables/{table}/rows is described");
    }
    let row = &document["paths"][format!("/api/tables/{table}/rows/{{id}}")];
    for method in ["get", "patch", "put", "delete"] {
        assert!(row[method].is_object(), "{method} /api/tables/{table}/rows/{{id}} is described");
    }
}

/// Every operationId of the document, with how often it appears.
fn operation_ids(document: &Value) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                *ids.entry(id.to_string()).or_insert(0) += 1;
            }
        }
    }
    ids
}

async fn health_answers_ok(t: TestApp) {
    let response = t.client.get(format!("{}/health", t.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
}

async fn openapi_describes_every_table_and_validates(t: TestApp) {
    // The validator really judges: a broken document is refused.
    assert!(run_validator(&json!({"openapi": "3.1.0", "paths": {}})).await.is_err(), "no info: invalid");

    t.create_table(
        "animals",
        json!({
            "name": {"type": "string", "max_length": 50, "required": true},
            "species": {"type": "enum", "values": ["cat", "dog", "bird"], "required": true},
            "age": {"type": "integer", "min": 0, "max": 200},
            "weight": {"type": "float", "min": 0.5, "max": 1000.5},
            "price": {"type": "decimal", "min": 0},
            "vaccinated": {"type": "boolean", "default": false},
            "born": "date",
            "seen_at": "datetime",
            "tags": "json",
            "tag_id": {"type": "uuid", "unique": true},
            "keeper_email": "email",
            "photo": "url",
            "notes": "text",
            "code": {"type": "string", "pattern": "[A-Z]{3}", "indexed": true},
            "legs": {"type": "integer", "required": true, "default": 4}
        }),
    )
    .await;
    t.create_table("keepers", json!({"name": {"type": "string", "required": true}})).await;
    t.create_table("zoos", json!({})).await;

    let document = openapi(&t).await;
    assert_valid(run_validator(&document).await, &document);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "OpenAPI 3.1: {}", document["openapi"]);

    // One path set per table (the built-in users table too), and no other row paths.
    assert_eq!(tables_in(&document), ["animals", "keepers", "users", "zoos"].map(String::from).into());
    for table in ["animals", "keepers", "users", "zoos"] {
        assert_row_paths(&document, table);
        let row = row_schema(&document, table);
        for system in ["id", "created_at", "updated_at"] {
            assert!(row["properties"][system].is_object(), "{table}.{system} in {row}");
        }
    }
    let ids = operation_ids(&document);
    assert!(ids.values().all(|&n| n == 1), "operationIds are unique: {ids:?}");

    // Types, formats, enums and limits of every field.
    let row = &row_schema(&document, "animals")["properties"];
    let expect = |field: &str, type_name: &str| {
        assert!(types(&row[field]).contains(&type_name), "{field} is a {type_name}: {}", row[field]);
    };
    expect("id", "integer");
    expect("name", "string");
    expect("species", "string");
    expect("age", "integer");
    expect("weight", "number");
    expect("vaccinated", "boolean");
    expect("notes", "string");
    expect("legs", "integer");
    assert!(row["tags"].is_object(), "json fields are described (any value)");
    assert!(row["price"].is_object(), "decimals are described");
    assert_eq!(row["name"]["maxLength"], 50);
    assert_eq!(row["age"]["minimum"].as_f64(), Some(0.0));
    assert_eq!(row["age"]["maximum"].as_f64(), Some(200.0));
    assert_eq!(row["weight"]["minimum"].as_f64(), Some(0.5));
    assert_eq!(row["weight"]["maximum"].as_f64(), Some(1000.5));
    let values: Vec<&Value> =
        row["species"]["enum"].as_array().expect("enum").iter().filter(|v| !v.is_null()).collect();
    assert_eq!(values, [&json!("cat"), &json!("dog"), &json!("bird")]);
    for (field, format) in [
        ("born", "date"),
        ("seen_at", "date-time"),
        ("created_at", "date-time"),
        ("tag_id", "uuid"),
        ("keeper_email", "email"),
        ("photo", "uri"),
    ] {
        assert_eq!(row[field]["format"], format, "{field}: {}", row[field]);
    }
    assert!(row["code"]["pattern"].as_str().is_some_and(|p| p.contains("[A-Z]{3}")), "{}", row["code"]);

    // The create body: what is required (required without a default), nothing unknown.
    let input = input_schema(&document, "animals");
    let required: BTreeSet<&str> =
        input["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
    assert_eq!(required, ["name", "species"].into(), "required fields without a default: {input}");
    assert!(input["properties"]["age"].is_object() && input["properties"]["id"].is_null(), "{input}");
    assert_eq!(input_schema(&document, "keepers")["required"], json!(["name"]));
}

async fn openapi_follows_schema_changes(t: TestApp) {
    t.create_table("animals", json!({"name": "string"})).await;
    let document = openapi(&t).await;
    // The built-in users table is always there.
    assert_eq!(tables_in(&document), ["animals", "users"].map(String::from).into());
    assert!(row_schema(&document, "animals")["properties"]["age"].is_null());

    // Created.
    t.create_table("birds", json!({"wingspan": "float"})).await;
    let document = openapi(&t).await;
    assert_eq!(tables_in(&document), ["animals", "birds", "users"].map(String::from).into());
    assert!(types(&row_schema(&document, "birds")["properties"]["wingspan"]).contains(&"number"));

    // Migrated: new field, changed type, new limits.
    let (status, body) = t
        .put(
            "/api/tables/animals",
            json!({"fields": {"name": "text", "age": {"type": "integer", "min": 1, "required": true}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let document = openapi(&t).await;
    let age = &row_schema(&document, "animals")["properties"]["age"];
    assert!(types(age).contains(&"integer") && age["minimum"].as_f64() == Some(1.0), "{age}");
    assert_eq!(input_schema(&document, "animals")["required"], json!(["age"]));

    // Renamed: the old name is gone everywhere, the new one has the fields.
    let (status, body) = t.patch("/api/tables/animals", json!({"name": "creatures"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let document = openapi(&t).await;
    assert_eq!(tables_in(&document), ["birds", "creatures", "users"].map(String::from).into());
    assert!(row_schema(&document, "creatures")["properties"]["age"].is_object());

    // Dropped.
    let (status, _) = t.delete("/api/tables/birds").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let document = openapi(&t).await;
    assert_eq!(tables_in(&document), ["creatures", "users"].map(String::from).into());
    let components: Vec<&String> = document["components"]["schemas"].as_object().unwrap().keys().collect();
    assert!(
        !components.iter().any(|name| name.starts_with("animals") || name.starts_with("birds")),
        "no component of a renamed or dropped table remains: {components:?}"
    );
    assert_valid(run_validator(&document).await, &document);
}

async fn openapi_validates_whatever_the_table_names(t: TestApp) {
    // Valid table names that meet names the document itself uses: operationIds
    // (`create_table`, `replace_table`, ...) and component schemas (`Error`,
    // `TableDefinition`, `<table>Input`).
    let mut created = Vec::new();
    for name in ["table", "Error", "TableDefinition", "Person", "PersonInput", "tables"] {
        let field = format!("only_in_{}", name.to_lowercase());
        let (status, body) = t.post("/api/tables", json!({"name": name, "fields": {field.clone(): "integer"}})).await;
        match status {
            StatusCode::CREATED => created.push((name, field)),
            // Refusing a reserved name is an acceptable answer too.
            StatusCode::BAD_REQUEST => assert_eq!(body["error"]["code"], "invalid_name", "{body}"),
            other => panic!("create {name}: {other} {body}"),
        }
    }
    let document = openapi(&t).await;
    // Every problem is collected, so one run names them all.
    let mut problems = Vec::new();
    let ids = operation_ids(&document);
    let duplicates: Vec<&String> = ids.iter().filter(|(_, &n)| n > 1).map(|(id, _)| id).collect();
    if !duplicates.is_empty() {
        problems.push(format!("operationIds must be unique; duplicated: {duplicates:?}"));
    }
    // Each table's row and create-body schemas describe that table, not another.
    for (name, field) in &created {
        assert_row_paths(&document, name);
        let row = row_schema(&document, name);
        if !row["properties"][field].is_object() {
            problems.push(format!("the row schema of {name} lacks {field}: {row}"));
        }
        let input = input_schema(&document, name);
        if !input["properties"][field].is_object() {
            problems.push(format!("the create body of {name} lacks {field}: {input}"));
        }
    }
    // The shared error shape is still the error shape.
    let not_found =
        &document["paths"]["/api/tables/{table}"]["get"]["responses"]["404"]["content"]["application/json"]["schema"];
    let error = resolve(&document, not_found);
    if !error["properties"]["error"].is_object() {
        problems.push(format!("errors lost their schema: {error}"));
    }
    let create_body = &document["paths"]["/api/tables"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let definition = resolve(&document, create_body);
    if !definition["properties"]["fields"].is_object() {
        problems.push(format!("the create-table body lost its schema: {definition}"));
    }
    if let Err(complaint) = run_validator(&document).await {
        problems.push(format!("the document does not validate: {complaint}"));
    }
    assert!(problems.is_empty(), "tables {created:?}:\n{}", problems.join("\n"));
}

/// The `src` and `href` attribute values of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\"", "src='", "href='"] {
        let quote = attribute.chars().last().unwrap();
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find(quote).expect("closed attribute");
            found.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    found
}

/// Loads a Swagger UI page and every asset it references; asserts they all come from
/// this server under /docs/ with the right content types.
async fn check_swagger_page(client: &reqwest::Client, base: &str, page: &str) {
    let response = client.get(format!("{base}{page}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {page}");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/html"), "GET {page}: {content_type}");
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(html.contains("/api/openapi.json"), "the page loads the live document: {html}");
    let references = references(&html);
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        assert!(references.iter().any(|r| r.ends_with(asset)), "{page} references {asset}: {references:?}");
    }
    for reference in &references {
        assert!(!reference.contains("://") && !reference.starts_with("//"), "no CDN: {reference} in {page}");
        assert!(reference.starts_with("/docs/"), "{page}: assets are served under /docs/: {reference}");
        let response = client.get(format!("{base}{reference}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{page} references {reference}, which must load");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        let body = response.text().await.unwrap();
        if reference.ends_with(".js") {
            assert!(content_type.contains("javascript"), "{reference}: {content_type}");
            assert!(body.contains("SwaggerUIBundle"), "{reference} is the Swagger UI bundle");
        } else if reference.ends_with(".css") {
            assert!(content_type.starts_with("text/css"), "{reference}: {content_type}");
            assert!(body.contains(".swagger-ui"), "{reference} is the Swagger UI stylesheet");
        }
        assert!(body.len() > 10_000, "{reference} is the real asset, {} bytes", body.len());
    }
}

async fn swagger_ui_is_served_from_the_binary(t: TestApp) {
    t.create_table("animals", json!({"name": "string"})).await;
    check_swagger_page(&t.client, &t.base, "/docs").await;
    for asset in ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"] {
        let response = t.client.get(format!("{}{asset}", t.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
}

async fn swagger_ui_with_a_trailing_slash_loads_its_assets(t: TestApp) {
    check_swagger_page(&t.client, &t.base, "/docs/").await;
}

async fn binary_serves_health_docs_and_openapi(location: StoreLocation) {
    let server = Server::start(&location).await;
    let (status, health) = server.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok", "{health}");
    let (status, _) = server.post("/api/tables", json!({"name": "animals", "fields": {"name": "string"}})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, document) = server.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tables_in(&document), ["animals", "users"].map(String::from).into());
    assert_valid(run_validator(&document).await, &document);
    check_swagger_page(&server.client, &server.base, "/docs").await;
}
