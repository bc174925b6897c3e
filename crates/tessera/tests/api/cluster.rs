//! Several tessera copies on one Postgres behave as one: a schema change made through
//! any copy is seen by the others (LISTEN/NOTIFY), without restarts. Postgres only: the
//! embedded SQLite store has one server process by design.

use crate::harness::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tessera_core::App;
use tessera_http::HttpConfig;
use tessera_store::Store;

/// A second server on the first one's store.
async fn second_copy(first: &TestApp) -> (String, tokio::task::JoinHandle<()>) {
    let store = Store::open(&first.location.config).await.expect("open store");
    let app = App::new(store).await.expect("catalog");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = tessera_http::router(app, &HttpConfig::default());
    let server = tokio::spawn(async move {
        tessera_http::serve(listener, router, std::future::pending()).await.expect("serve");
    });
    (base, server)
}

/// Polls `url` until `accept` holds for the answer, for at most five seconds.
async fn eventually(url: &str, accept: impl Fn(StatusCode, &Value) -> bool) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = reqwest::get(url).await.expect("request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if accept(status, &body) || Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_follow_each_others_schema_changes() {
    let first = TestApp::start(StoreKind::Postgres).await;
    let (second, server) = second_copy(&first).await;

    first.create_table("zoos", json!({"name": "string"})).await;
    let (status, table) = eventually(&format!("{second}/api/tables/zoos"), |s, _| s == StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "the second copy sees the new table: {table}");

    let (status, _) = first.patch("/api/tables/zoos", json!({"add_fields": {"city": "string"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, table) = eventually(&format!("{second}/api/tables/zoos"), |_, b| b["version"] == 2).await;
    assert_eq!(table["fields"]["city"], json!({"type": "string"}), "{table}");
    // The second copy validates writes against the new schema (and accepts the admin's
    // token that the first copy issued: the copies share the store's signing secret).
    let response = reqwest::Client::new()
        .post(format!("{second}/api/tables/zoos/rows"))
        .bearer_auth(first.token.as_deref().expect("admin token"))
        .json(&json!({"name": "Berlin", "city": "Berlin"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);

    let (status, _) = first.delete("/api/tables/zoos").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = eventually(&format!("{second}/api/tables/zoos"), |s, _| s == StatusCode::NOT_FOUND).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the second copy forgets the dropped table");
    server.abort();
}
