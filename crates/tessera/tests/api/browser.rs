//! Swagger UI in a real browser: headless Chromium (Debian's `chromium`) loads `/docs`
//! from a running tessera, runs Swagger UI's JavaScript, fetches `/api/openapi.json`,
//! and renders one operation per path of every table. This is what a person opening
//! `/docs` sees; fetching the assets with an HTTP client cannot show that the page works.

use crate::both_stores;
use crate::harness::TestApp;
use serde_json::json;
use std::process::Command;

both_stores!(swagger_ui_renders_every_table_in_chromium);

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
