//! Swagger UI in a real browser: headless Chromium (Debian's `chromium`) loads `/docs`
//! from a running tessera, runs Swagger UI's JavaScript, fetches `/api/openapi.json`,
//! and renders one operation per path of every table. This is what a person opening
//! `/docs` sees; fetching the assets with an HTTP client cannot show that the page works.
//! The same for GraphiQL at `/graphql`: `tests/browser/graphiql.sh` checks it renders
//! from the binary's own assets and talks to nothing else, and the page must show the
//! schema loaded (its introspection answered without errors).

use crate::both_stores;
use crate::harness::TestApp;
use serde_json::json;
use std::process::Command;

both_stores!(swagger_ui_renders_every_table_in_chromium, graphiql_renders_and_loads_the_schema_in_chromium);

/// The DOM of `url` after its scripts ran, from headless Chromium.
fn rendered_dom(url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let output = Command::new(std::env::var("TESSERA_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into()))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("Chromium is required for this test (Debian package `chromium`; .ci/run installs it)");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn swagger_ui_renders_every_table_in_chromium(t: TestApp) {
    t.create_table("animals", json!({"name": {"type": "string", "required": true}, "age": "integer"})).await;
    t.create_table("zoos", json!({"name": "string"})).await;
    let url = format!("{}/docs", t.base);
    let dom = tokio::task::spawn_blocking(move || rendered_dom(&url)).await.expect("chromium thread");
    for path in ["/api/tables", "/api/tables/animals/rows", "/api/tables/animals/rows/{id}", "/api/tables/zoos/rows"] {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "Swagger UI rendered an operation for {path}; DOM starts: {}",
            &dom.chars().take(2000).collect::<String>()
        );
    }
    for schema in ["row.animals", "input.animals", "row.zoos"] {
        assert!(dom.contains(schema), "Swagger UI lists the component schema {schema}");
    }
    assert!(!dom.contains("Failed to load API definition"), "the definition loaded");
}

/// GraphiQL at `/graphql`: `tests/browser/graphiql.sh` opens it in headless Chromium with
/// every other host unresolvable and checks the editor rendered from `/graphql/ide/`, the
/// page's requests (its assets, the schema introspection POSTed to `/graphql`) and the
/// console. GraphiQL shows a failed introspection in its result pane (the request itself
/// answers 200), so the rendered page's result pane must be empty of errors too.
async fn graphiql_renders_and_loads_the_schema_in_chromium(t: TestApp) {
    t.create_table("zoos", json!({"name": "string"})).await;
    t.create_table("animals", json!({"name": "string", "zoo": {"type": "relation", "target": "zoos"}})).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/graphiql.sh");
    let base = t.base.clone();
    let output = tokio::task::spawn_blocking(move || Command::new("bash").arg(script).arg(&base).output())
        .await
        .expect("graphiql.sh thread")
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed ({}):\n{stderr}\n{stdout}", output.status);

    let url = format!("{}/graphql", t.base);
    let dom = tokio::task::spawn_blocking(move || rendered_dom(&url)).await.expect("chromium thread");
    let result = dom.find("class=\"result-window\"").map(|at| &dom[at..]).unwrap_or_else(|| {
        panic!("GraphiQL's result pane is in the DOM; it starts: {}", dom.chars().take(2000).collect::<String>())
    });
    assert!(
        !result.contains("\"errors\"") && !result.contains("\"message\""),
        "GraphiQL's schema introspection failed; its result pane shows: {}",
        text_of(result).chars().take(500).collect::<String>()
    );
}

/// The text of an HTML fragment (tags dropped), for messages.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&nbsp;", " ").split_whitespace().collect::<Vec<_>>().join(" ")
}
