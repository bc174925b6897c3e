//! `tessera admin create`: the first admin from the command line, on both stores.

use crate::harness::{run_tessera, StoreKind, StoreLocation, TestApp};
use std::time::Duration;
use tessera_core::auth::AuthConfig;
use tessera_http::HttpConfig;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn admin_create_makes_an_admin_who_can_sign_in(kind: StoreKind) {
    let location = StoreLocation::new(kind).await;
    let args = ["admin", "create", "--email", " Root@Example.COM ", "--password", "long-password-1"];
    let output = run_tessera(&location, &args, TIMEOUT).await;
    output.assert_success();
    assert!(output.stdout.contains("created admin root@example.com"), "{}", output.stdout);

    // The same email again is refused, naming the problem; a weak password too.
    let again = run_tessera(&location, &args, TIMEOUT).await;
    assert!(again.assert_failure().contains("email"), "{}", again.stderr);
    let weak =
        run_tessera(&location, &["admin", "create", "--email", "b@example.com", "--password", "short"], TIMEOUT).await;
    assert!(weak.assert_failure().contains("at least 8 characters"), "{}", weak.stderr);

    // The admin signs in over HTTP and may manage tables.
    let t = TestApp::start_on(location, HttpConfig::default(), AuthConfig::default()).await;
    let session = t.login("root@example.com", "long-password-1").await;
    assert_eq!(session["user"]["role"], "admin");
    let token = session["access_token"].as_str().expect("token").to_string();
    let (status, body) = t
        .call_as(
            Some(&token),
            reqwest::Method::POST,
            "/api/tables",
            Some(serde_json::json!({"name": "zoos", "fields": {"name": "string"}})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_sqlite() {
    admin_create_makes_an_admin_who_can_sign_in(StoreKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_postgres() {
    admin_create_makes_an_admin_who_can_sign_in(StoreKind::Postgres).await;
}
