//! The GraphQL API as clients outside this project see it: the schema introspected and
//! checked by graphql-core (the Python port of the reference implementation), documents
//! validated by it and executed on the server; introspection turned off; and the schema
//! swapped under a steady load of queries while tables change.

use crate::harness::{StoreKind, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_http::HttpConfig;

crate::both_stores!(a_standard_client_validates_and_runs_the_schema, the_schema_swaps_under_concurrent_load);

mod introspection_can_be_turned_off {
    use crate::harness::StoreKind;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::introspection_can_be_turned_off(StoreKind::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::introspection_can_be_turned_off(StoreKind::Postgres).await;
    }
}

/// POSTs a GraphQL request with `token` (`None`: anonymous); asserts HTTP 200 and returns
/// the answer (`{data, errors}`).
async fn graphql(client: &reqwest::Client, base: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = client.post(format!("{base}/graphql")).json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("POST /graphql {query}: {e}"));
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "POST /graphql {query}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST /graphql {query}: not JSON ({e}): {text}"))
}

/// As the admin; asserts the answer has no errors and returns its `data`.
async fn data(t: &TestApp, query: &str) -> Value {
    let answer = graphql(&t.client, &t.base, t.token.as_deref(), query, json!({})).await;
    assert!(answer.get("errors").is_none(), "{query}: {answer}");
    answer["data"].clone()
}

/// The model `tests/graphql/validate_schema.py` expects: zoos, animals (a relation to
/// zoos) and specimens (every other column type, a `multiple` relation and a file), with
/// one specimen holding a photo.
async fn client_model(t: &TestApp) {
    t.create_table("zoos", json!({"name": "string", "city": "string"})).await;
    t.create_table(
        "animals",
        json!({"name": "string", "age": "integer", "zoo": {"type": "relation", "target": "zoos"}}),
    )
    .await;
    t.create_table(
        "specimens",
        json!({
            "label": {"type": "string", "required": true},
            "price": "decimal",
            "born": "date",
            "seen_at": "datetime",
            "meta": "json",
            "tag": "uuid",
            "alive": "boolean",
            "weight": "float",
            "kind": {"type": "enum", "values": ["mammal", "bird", "fish"]},
            "visited": {"type": "relation", "target": "zoos", "multiple": true},
            "photo": {"type": "file"}
        }),
    )
    .await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let form = Form::new()
        .part("@json", Part::text(json!({"label": "with-photo"}).to_string()).mime_str("application/json").unwrap())
        .part("photo", Part::bytes(png).file_name("photo.png").mime_str("image/png").unwrap());
    let response = t
        .client
        .post(format!("{}/api/tables/specimens/rows", t.base))
        .bearer_auth(t.token.as_deref().expect("admin token"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, StatusCode::CREATED, "upload a specimen's photo: {body}");
}

/// graphql-core introspects the schema, builds a client schema from it and checks it;
/// builds the SDL and compares the two; validates realistic documents (nested queries,
/// filters and sorts through relations, aggregates, every mutation, the auth mutations)
/// and runs them on the server; and sees invalid documents refused by both. What the
/// script checks is listed at its top.
async fn a_standard_client_validates_and_runs_the_schema(t: TestApp) {
    client_model(&t).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/graphql/validate_schema.py");
    let base = t.base.clone();
    let token = t.token.clone().expect("admin token");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").arg(script).arg(&base).env("TESSERA_TOKEN", token).output()
    })
    .await
    .expect("python thread")
    .unwrap_or_else(|e| panic!("python3 is required to run {script} (and `pip install graphql-core`): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() != Some(2),
        "{script} could not run (graphql-core is required: python3 -m pip install graphql-core):\n{stderr}"
    );
    assert!(
        output.status.success(),
        "graphql-core's checks of the GraphQL API failed ({}):\n{stderr}\n--- what passed:\n{stdout}",
        output.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

/// With introspection off, `__schema` and `__type` are refused (and the SDL is not served,
/// or it would give away what introspection hides), while queries, mutations and
/// `__typename` (which clients such as Apollo add to every selection) still work.
async fn introspection_can_be_turned_off(kind: StoreKind) {
    let config = HttpConfig {
        graphql: tessera_graphql::Limits { introspection: false, ..Default::default() },
        ..Default::default()
    };
    let t = TestApp::start_with(kind, config).await;
    t.create_table("animals", json!({"name": "string", "age": "integer"})).await;
    t.insert("animals", json!([{"name": "Leo", "age": 7}])).await;

    for query in [
        "{ __schema { types { name } } }",
        "{ __schema { queryType { name } } }",
        r#"{ __type(name: "animals") { name fields { name } } }"#,
        r#"{ animals { name } __type(name: "animals") { name } }"#,
    ] {
        let answer = graphql(&t.client, &t.base, t.token.as_deref(), query, json!({})).await;
        let errors = answer["errors"].as_array().unwrap_or_else(|| panic!("{query} is refused: {answer}"));
        assert!(!errors.is_empty() && errors[0]["message"].is_string(), "{query}: {answer}");
        assert!(answer["data"].is_null(), "{query} answers no data: {answer}");
    }
    // The same through GET.
    let (status, answer) = t.get_with("/graphql", &[("query", "{ __schema { queryType { name } } }")]).await;
    assert!(answer["errors"].as_array().is_some_and(|e| !e.is_empty()), "GET: {status} {answer}");
    assert!(answer["data"].is_null(), "GET: {answer}");

    // Everything else works.
    assert_eq!(
        data(&t, "{ animals { __typename name age } }").await,
        json!({"animals": [{"__typename": "animals", "name": "Leo", "age": 7}]})
    );
    assert_eq!(data(&t, "{ __typename }").await, json!({"__typename": "Query"}));
    let inserted = data(&t, r#"mutation { insert_animals_one(object: {name: "Mia", age: 3}) { name } }"#).await;
    assert_eq!(inserted, json!({"insert_animals_one": {"name": "Mia"}}));
    let count = data(&t, "{ animals_aggregate { aggregate { count } } }").await;
    assert_eq!(count["animals_aggregate"]["aggregate"]["count"], 2);

    // What the schema would give away is not served as SDL either.
    let (status, sdl) = t.get("/graphql/schema.graphql").await;
    assert!(
        status != StatusCode::OK && !sdl.to_string().contains("animals"),
        "with introspection off, GET /graphql/schema.graphql must not serve the schema; got {status}: {}",
        &sdl.to_string().chars().take(300).collect::<String>()
    );
}

/// What the load saw.
#[derive(Default)]
struct LoadReport {
    requests: AtomicU64,
    failures: AtomicU64,
    /// The first few failures, as `request n: what`.
    first_failures: Mutex<Vec<String>>,
}

impl LoadReport {
    fn failed(&self, what: String) {
        self.failures.fetch_add(1, Ordering::SeqCst);
        let mut first = self.first_failures.lock().unwrap();
        if first.len() < 10 {
            first.push(what);
        }
    }
}

/// The query every load task sends, and what it must answer while the schema changes.
const LOAD_QUERY: &str = r#"query Load($min: Int!) {
  animals(where: {age: {_gte: $min}}, order_by: {id: asc}) { id name age zoo { name city } }
  animals_aggregate { aggregate { count max { age } } }
}"#;

/// No bigger than this, however the machine runs.
const LOAD_TASKS: usize = 4;
const MAX_REQUESTS_PER_TASK: u64 = 50_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(120);

/// Waits until the load has sent `more` further requests (or the time is up).
async fn let_load_run(report: &LoadReport, more: u64) {
    let target = report.requests.load(Ordering::SeqCst) + more;
    let deadline = Instant::now() + Duration::from_secs(20);
    while report.requests.load(Ordering::SeqCst) < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The fields of an object type and the root query fields, by introspection.
async fn introspected(t: &TestApp, type_name: &str) -> (Vec<String>, Vec<String>) {
    let query = format!(
        r#"{{ __type(name: "{type_name}") {{ fields {{ name }} }} __schema {{ queryType {{ fields {{ name }} }} }} }}"#
    );
    let data = data(t, &query).await;
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap_or_else(|| panic!("fields in {data}"))
            .iter()
            .map(|f| f["name"].as_str().expect("name").to_string())
            .collect()
    };
    (names(&data["__type"]["fields"]), names(&data["__schema"]["queryType"]["fields"]))
}

/// While LOAD_TASKS tasks keep querying `animals` (each answer checked against the data),
/// tables change over REST: fields added to `animals` and `zoos`, a table created,
/// another renamed and changed several times. No request may fail, and once the load is
/// over the schema (introspection and SDL) shows every change. A watcher checks that the
/// schema moves forward only: a field of `animals`, once seen, never disappears again.
async fn the_schema_swaps_under_concurrent_load(t: TestApp) {
    t.create_table("zoos", json!({"name": "string", "city": "string"})).await;
    t.create_table(
        "animals",
        json!({"name": "string", "age": "integer", "zoo": {"type": "relation", "target": "zoos"}}),
    )
    .await;
    t.create_table("keepers", json!({"name": "string"})).await;
    let zoos =
        t.insert("zoos", json!([{"name": "Berlin Zoo", "city": "Berlin"}, {"name": "Bioparco", "city": "Rome"}])).await;
    t.insert(
        "animals",
        json!([
            {"name": "Leo", "age": 7, "zoo": zoos[0]},
            {"name": "Mia", "age": 3, "zoo": zoos[0]},
            {"name": "Kit", "age": 12, "zoo": zoos[1]},
            {"name": "Bo", "age": 1}
        ]),
    )
    .await;
    t.insert("keepers", json!([{"name": "Ann"}])).await;
    let expected = graphql(&t.client, &t.base, t.token.as_deref(), LOAD_QUERY, json!({"min": 2})).await;
    assert!(expected.get("errors").is_none(), "{expected}");
    let expected = expected["data"].clone();
    assert_eq!(expected["animals"].as_array().map(Vec::len), Some(3), "{expected}");
    assert_eq!(expected["animals"][2]["zoo"], json!({"name": "Bioparco", "city": "Rome"}), "{expected}");
    let (before, _) = introspected(&t, "animals").await;

    let report = Arc::new(LoadReport::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..LOAD_TASKS {
        let (report, stop, expected) = (report.clone(), stop.clone(), expected.clone());
        let (client, base, token) = (t.client.clone(), t.base.clone(), t.token.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..MAX_REQUESTS_PER_TASK {
                if stop.load(Ordering::SeqCst) || started.elapsed() > MAX_LOAD_TIME {
                    break;
                }
                let sent = client
                    .post(format!("{base}/graphql"))
                    .bearer_auth(token.as_deref().unwrap_or_default())
                    .json(&json!({"query": LOAD_QUERY, "variables": {"min": 2}}))
                    .send()
                    .await;
                report.requests.fetch_add(1, Ordering::SeqCst);
                let (status, text) = match sent {
                    Ok(response) => (response.status(), response.text().await.unwrap_or_default()),
                    Err(e) => {
                        report.failed(format!("task {task}, request {n}: {e}"));
                        continue;
                    }
                };
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if status != StatusCode::OK || answer.get("errors").is_some() || answer["data"] != expected {
                    report.failed(format!("task {task}, request {n}: {status} {text}"));
                }
            }
        }));
    }
    // The watcher: the fields of `animals` only ever grow while fields are only added.
    let watcher = {
        let (stop, client, base, token) = (stop.clone(), t.client.clone(), t.base.clone(), t.token.clone());
        let before = before.clone();
        tokio::spawn(async move {
            let mut seen = before;
            let mut problems = Vec::new();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < MAX_LOAD_TIME {
                let query = r#"{ __type(name: "animals") { fields { name } } }"#;
                let answer = graphql(&client, &base, token.as_deref(), query, json!({})).await;
                let Some(fields) = answer["data"]["__type"]["fields"].as_array() else {
                    problems.push(format!("introspection failed: {answer}"));
                    break;
                };
                let now: Vec<String> =
                    fields.iter().map(|f| f["name"].as_str().unwrap_or_default().to_string()).collect();
                if let Some(lost) = seen.iter().find(|name| !now.contains(name)) {
                    problems.push(format!("the field {lost} of animals disappeared again: {now:?}"));
                }
                if now.len() > seen.len() {
                    seen = now;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (seen, problems)
        })
    };

    let_load_run(&report, 20).await;
    let changes: [(&str, reqwest::Method, &str, Value); 9] = [
        (
            "add a field to animals",
            reqwest::Method::PATCH,
            "/api/tables/animals",
            json!({"add_fields": {"weight": "float"}}),
        ),
        (
            "create a table",
            reqwest::Method::POST,
            "/api/tables",
            json!({"name": "visitors", "fields": {"name": "string", "visits": "integer"}}),
        ),
        ("rename a table", reqwest::Method::PATCH, "/api/tables/keepers", json!({"name": "caretakers"})),
        ("add a field to zoos", reqwest::Method::PATCH, "/api/tables/zoos", json!({"add_fields": {"opened": "date"}})),
        (
            "add a field to the renamed table",
            reqwest::Method::PATCH,
            "/api/tables/caretakers",
            json!({"add_fields": {"shift": "string"}}),
        ),
        ("rename it again", reqwest::Method::PATCH, "/api/tables/caretakers", json!({"name": "wardens"})),
        (
            "rename one of its fields",
            reqwest::Method::PATCH,
            "/api/tables/wardens",
            json!({"rename_fields": {"shift": "rota"}}),
        ),
        (
            "add a relation to animals",
            reqwest::Method::PATCH,
            "/api/tables/animals",
            json!({"add_fields": {"warden": {"type": "relation", "target": "wardens"}}}),
        ),
        (
            "change a field's type",
            reqwest::Method::PATCH,
            "/api/tables/wardens",
            json!({"alter_fields": {"rota": "text"}}),
        ),
    ];
    for (what, method, path, body) in changes {
        let (status, answer) = t.call(method, path, Some(body)).await;
        assert!(status.is_success(), "{what}: {status} {answer}");
        let_load_run(&report, 50).await;
    }
    let_load_run(&report, 40).await;
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("load task");
    }
    let (seen, problems) = watcher.await.expect("watcher");

    let requests = report.requests.load(Ordering::SeqCst);
    let failures = report.failures.load(Ordering::SeqCst);
    println!("{requests} GraphQL requests by {LOAD_TASKS} tasks in {:?}, {failures} failed", started.elapsed());
    assert_eq!(
        failures,
        0,
        "{failures} of {requests} GraphQL requests failed while the schema changed; the first:\n{}",
        report.first_failures.lock().unwrap().join("\n")
    );
    assert!(requests >= 200, "the load ran: {requests} requests");
    assert!(problems.is_empty(), "the schema went back while it changed:\n{}", problems.join("\n"));
    for field in ["weight", "warden", "warden_id"] {
        assert!(seen.contains(&field.to_string()), "the watcher saw animals.{field} arrive: {seen:?}");
    }

    // The schema swapped: introspection, the SDL and queries see every change.
    let (animals, roots) = introspected(&t, "animals").await;
    for field in ["id", "name", "age", "zoo", "zoo_id", "weight", "warden", "warden_id"] {
        assert!(animals.contains(&field.to_string()), "animals.{field} in {animals:?}");
    }
    for root in ["visitors", "visitors_by_pk", "visitors_aggregate", "wardens", "animals", "zoos"] {
        assert!(roots.contains(&root.to_string()), "Query.{root} in {roots:?}");
    }
    for gone in ["keepers", "caretakers", "keepers_by_pk", "caretakers_aggregate"] {
        assert!(!roots.contains(&gone.to_string()), "Query.{gone} is gone: {roots:?}");
    }
    let (wardens, _) = introspected(&t, "wardens").await;
    assert!(wardens.contains(&"rota".to_string()) && !wardens.contains(&"shift".to_string()), "{wardens:?}");
    let (zoo_fields, _) = introspected(&t, "zoos").await;
    assert!(zoo_fields.contains(&"opened".to_string()), "{zoo_fields:?}");

    let (status, sdl) = t.get("/graphql/schema.graphql").await;
    assert_eq!(status, StatusCode::OK);
    let sdl = sdl.as_str().expect("SDL text");
    for needle in
        ["type visitors {", "type wardens {", "weight: Float", "warden: wardens", "rota: String", "opened: Date"]
    {
        assert!(sdl.contains(needle), "the SDL has `{needle}`");
    }
    assert!(!sdl.contains("type keepers") && !sdl.contains("type caretakers"), "the old names are gone from the SDL");

    let warden = data(&t, r#"mutation { insert_wardens_one(object: {name: "Bea", rota: "nights"}) { id } }"#).await;
    let warden_id = warden["insert_wardens_one"]["id"].as_i64().expect("warden id");
    let set = format!(
        r#"mutation {{ update_animals(where: {{name: {{_eq: "Leo"}}}}, _set: {{weight: 190.5, warden: {warden_id}}}) {{ affected_rows }} }}"#
    );
    assert_eq!(data(&t, &set).await, json!({"update_animals": {"affected_rows": 1}}));
    let read = data(&t, r#"{ animals(where: {weight: {_is_null: false}}) { name weight warden { __typename name rota } } visitors { name visits } }"#).await;
    assert_eq!(
        read,
        json!({
            "animals": [{"name": "Leo", "weight": 190.5, "warden": {"__typename": "wardens", "name": "Bea", "rota": "nights"}}],
            "visitors": []
        })
    );
    let reverse = data(&t, "{ wardens(order_by: {id: asc}) { name animals { name } } }").await;
    assert_eq!(
        reverse,
        json!({"wardens": [{"name": "Ann", "animals": []}, {"name": "Bea", "animals": [{"name": "Leo"}]}]})
    );
}
