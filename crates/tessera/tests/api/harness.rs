//! The test harness: a real tessera on a real socket (port 0) over a fresh store —
//! a temporary SQLite directory, or a fresh Postgres schema — and a small HTTP client.
//!
//! Postgres comes from `TESSERA_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). If it cannot be reached the Postgres tests
//! FAIL: the suite is only green when both stores pass.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_core::App;
use tessera_http::HttpConfig;
use tessera_store::{Store, StoreConfig};

/// Which store a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

pub fn postgres_base_url() -> String {
    std::env::var("TESSERA_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty store location.
pub struct StoreLocation {
    pub kind: StoreKind,
    pub config: StoreConfig,
    /// For the binary: `--database-url` or `--data-dir` arguments.
    pub cli_args: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl StoreLocation {
    pub async fn new(kind: StoreKind) -> StoreLocation {
        match kind {
            StoreKind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path: PathBuf = dir.path().join("tessera.db");
                StoreLocation {
                    kind,
                    config: StoreConfig::Sqlite { path, readers: 2 },
                    cli_args: vec!["--data-dir".into(), dir.path().display().to_string()],
                    _dir: Some(dir),
                    pg_schema: None,
                }
            }
            StoreKind::Postgres => {
                let schema = format!(
                    "tt_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
                );
                let base = postgres_base_url();
                let (client, connection) =
                    tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
                        panic!("Postgres at {base} is required for the Postgres half of the suite: {e}")
                    });
                tokio::spawn(connection);
                client.batch_execute(&format!("CREATE SCHEMA \"{schema}\"")).await.expect("create test schema");
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
                StoreLocation {
                    kind,
                    config: StoreConfig::Postgres { url: url.clone(), pool_size: 8 },
                    cli_args: vec!["--database-url".into(), url],
                    _dir: None,
                    pg_schema: Some(schema),
                }
            }
        }
    }
}

impl Drop for StoreLocation {
    fn drop(&mut self) {
        if let Some(schema) = self.pg_schema.take() {
            // Drop is synchronous: clean the schema up on a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    if let Ok((client, connection)) =
                        tokio_postgres::connect(&postgres_base_url(), tokio_postgres::NoTls).await
                    {
                        tokio::spawn(connection);
                        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running tessera and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub kind: StoreKind,
    pub app: App,
    pub location: StoreLocation,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn start(kind: StoreKind) -> TestApp {
        TestApp::start_with(kind, HttpConfig::default()).await
    }

    pub async fn start_with(kind: StoreKind, config: HttpConfig) -> TestApp {
        let location = StoreLocation::new(kind).await;
        let store = Store::open(&location.config).await.expect("open store");
        let app = App::new(store).await.expect("load catalog");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = tessera_http::router(app.clone(), &config);
        let server = tokio::spawn(async move {
            tessera_http::serve(listener, router, std::future::pending()).await.expect("serve");
        });
        TestApp { base, client: reqwest::Client::new(), kind, app, location, server }
    }

    /// Sends a request with an optional JSON body; returns status and parsed body
    /// (`Value::Null` for an empty body).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        read(response).await
    }

    /// Sends raw bytes with a content type.
    pub async fn send_raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a table and asserts it worked.
    pub async fn create_table(&self, name: &str, fields: Value) -> Value {
        let (status, body) = self.post("/api/tables", serde_json::json!({"name": name, "fields": fields})).await;
        assert_eq!(status, StatusCode::CREATED, "create table {name}: {body}");
        body
    }

    /// Creates rows (array) and returns their ids.
    pub async fn insert(&self, table: &str, rows: Value) -> Vec<i64> {
        let (status, body) = self.post(&format!("/api/tables/{table}/rows"), rows).await;
        assert_eq!(status, StatusCode::CREATED, "insert into {table}: {body}");
        body["ids"].as_array().expect("ids").iter().map(|id| id.as_i64().expect("id")).collect()
    }

    /// Lists rows with a raw query string, asserting 200; returns the items.
    pub async fn list(&self, table: &str, query: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/tables/{table}/rows?{query}")).await;
        assert_eq!(status, StatusCode::OK, "list {table}?{query}: {body}");
        body["items"].as_array().expect("items").clone()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}

/// Asserts an error answer: status, code, and the one error shape.
#[track_caller]
pub fn assert_error(result: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (actual, body) = result;
    assert_eq!(*actual, status, "expected {status} {code}, got {actual}: {body}");
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "message in {body}");
    assert!(body["error"]["details"].is_array(), "details in {body}");
}

/// Declares a scenario `async fn(TestApp)` as two tests, one per store.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::TestApp::start($crate::harness::StoreKind::Sqlite).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::harness::TestApp::start($crate::harness::StoreKind::Postgres).await).await;
                }
            }
        )*
    };
}
