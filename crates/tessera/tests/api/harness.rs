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
use std::sync::Arc;
use tessera_core::auth::{AuthConfig, Clock, ManualClock, SystemClock};
use tessera_core::{App, AppOptions};
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

/// The admin every TestApp starts with (created through the same service as
/// `tessera admin create`); its token is sent by default.
pub const ADMIN_EMAIL: &str = "admin@tessera.test";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// A running tessera and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub kind: StoreKind,
    pub app: App,
    pub location: StoreLocation,
    /// The admin's access token, sent as `Authorization: Bearer` by `call` and friends.
    pub token: Option<String>,
    pub admin_id: i64,
    /// The app's clock: tests move it instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// Where uploaded files go: a temporary directory unless the scenario chose storage.
    pub storage: tessera_files::FileStorage,
    pub files_dir: Option<tempfile::TempDir>,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn start(kind: StoreKind) -> TestApp {
        TestApp::start_with(kind, HttpConfig::default()).await
    }

    pub async fn start_with(kind: StoreKind, config: HttpConfig) -> TestApp {
        let location = StoreLocation::new(kind).await;
        TestApp::start_on(location, config, AuthConfig::default()).await
    }

    /// A TestApp on an existing store location (e.g. a restart on the same store).
    pub async fn start_on(location: StoreLocation, config: HttpConfig, auth: AuthConfig) -> TestApp {
        TestApp::start_with_storage(location, config, auth, None).await
    }

    /// A TestApp with the given file storage (`None`: a fresh temporary directory).
    pub async fn start_with_storage(
        location: StoreLocation,
        config: HttpConfig,
        auth: AuthConfig,
        storage: Option<tessera_files::StorageConfig>,
    ) -> TestApp {
        let (storage_config, files_dir) = match storage {
            Some(storage) => (storage, None),
            None => {
                let dir = tempfile::tempdir().expect("files dir");
                (tessera_files::StorageConfig::Local { dir: dir.path().to_path_buf() }, Some(dir))
            }
        };
        let storage = tessera_files::FileStorage::open(&storage_config).expect("open file storage");
        let store = Store::open(&location.config).await.expect("open store");
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let options = AppOptions { auth, clock: clock.clone(), files: Some(storage.clone()) };
        let app = App::with_options(store, options).await.expect("load catalog");
        let admin_id = match app.create_admin(ADMIN_EMAIL, ADMIN_PASSWORD).await {
            Ok(id) => id,
            Err(tessera_core::CoreError::Duplicate { .. }) => {
                app.login(ADMIN_EMAIL, ADMIN_PASSWORD, "harness").await.expect("admin login").user["id"]
                    .as_i64()
                    .expect("admin id")
            }
            Err(other) => panic!("create the test admin: {other}"),
        };
        let session = app.login(ADMIN_EMAIL, ADMIN_PASSWORD, "harness").await.expect("admin login");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = tessera_http::router(app.clone(), &config);
        let server = tokio::spawn(async move {
            tessera_http::serve(listener, router, std::future::pending()).await.expect("serve");
        });
        TestApp {
            base,
            client: reqwest::Client::new(),
            kind: location.kind,
            app,
            location,
            token: Some(session.access_token),
            admin_id,
            clock,
            storage,
            files_dir,
            server,
        }
    }

    /// Adds the default token, if any.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request with an optional JSON body; returns status and parsed body
    /// (`Value::Null` for an empty body).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.authorized(self.client.request(method, format!("{}{}", self.base, path)));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        read(response).await
    }

    /// Sends raw bytes with a content type.
    pub async fn send_raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .authorized(self.client.request(method, format!("{}{}", self.base, path)))
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

    /// Creates a table without the managed `owner` field (`"owner": false`) and asserts it
    /// worked: for scenarios that compare exact field lists and have no use for owners.
    pub async fn create_unowned_table(&self, name: &str, fields: Value) -> Value {
        let body = serde_json::json!({"name": name, "fields": fields, "owner": false});
        let (status, body) = self.post("/api/tables", body).await;
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

// ---------------------------------------------------------------------------------------
// Helpers of the row, query, migration, error and legacy scenarios.
// ---------------------------------------------------------------------------------------

/// What a refused request must leave untouched: a table's schema, its rows and its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub schema: Value,
    pub rows: Vec<Value>,
    pub history: Value,
}

impl TestApp {
    /// GET with query parameters encoded by the client (filters hold spaces, quotes, `&`).
    pub async fn get_with(&self, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .authorized(self.client.get(format!("{}{}", self.base, path)))
            .query(params)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// Lists rows with encoded query parameters; returns status and the whole answer.
    pub async fn list_with(&self, table: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
        self.get_with(&format!("/api/tables/{table}/rows"), params).await
    }

    /// Every row of a table in id order (at most 1000), asserting 200.
    pub async fn all_rows(&self, table: &str) -> Vec<Value> {
        self.list(table, "limit=1000").await
    }

    /// The names of the tables `GET /api/tables` lists, in its order (the built-in `users`
    /// table, id 1, first).
    pub async fn table_names(&self) -> Vec<String> {
        let (status, list) = self.get("/api/tables").await;
        assert_eq!(status, StatusCode::OK, "list tables: {list}");
        let items = list["items"].as_array().unwrap_or_else(|| panic!("items in {list}"));
        items
            .iter()
            .map(|table| table["name"].as_str().unwrap_or_else(|| panic!("name in {table}")).to_string())
            .collect()
    }

    /// The schema, every row and the history of a table.
    pub async fn snapshot(&self, table: &str) -> Snapshot {
        let (status, schema) = self.get(&format!("/api/tables/{table}")).await;
        assert_eq!(status, StatusCode::OK, "snapshot of {table}: {schema}");
        let rows = self.all_rows(table).await;
        let (status, history) = self.get(&format!("/api/tables/{table}/history")).await;
        assert_eq!(status, StatusCode::OK, "history of {table}: {history}");
        Snapshot { schema, rows, history }
    }
}

/// Base64url without padding (cursor tokens), for crafting and reading cursors in tests.
pub fn base64url_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url without padding; `None` if the text is not base64url.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        if chunk.len() < 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// The real binary: `tessera` subcommands and `tessera serve` as a child process
// ---------------------------------------------------------------------------------------

/// The binary under test: `TESSERA_BIN` (test.sh sets it to the release build), else the
/// one cargo built for these tests.
pub fn tessera_bin() -> PathBuf {
    let bin = std::env::var_os("TESSERA_BIN")
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tessera")), PathBuf::from);
    assert!(bin.is_file(), "the tessera binary is missing at {} (TESSERA_BIN)", bin.display());
    bin
}

/// A `tessera` command with quiet logs and none of the caller's settings (`DATABASE_URL`,
/// `PORT`, ... would silently redirect it), and no store arguments.
pub fn bare_tessera_command() -> std::process::Command {
    let mut command = std::process::Command::new(tessera_bin());
    for variable in [
        "DATABASE_URL",
        "PORT",
        "TESSERA_ADDR",
        "TESSERA_DATA_DIR",
        "TESSERA_MAX_BODY_BYTES",
        "TESSERA_SQLITE_READERS",
        "TESSERA_PG_POOL_SIZE",
        // `tessera serve` gets the harness's admin explicitly (Server::start_with).
        "TESSERA_ADMIN_EMAIL",
        "TESSERA_ADMIN_PASSWORD",
        "TESSERA_FILES_DIR",
        "TESSERA_S3_BUCKET",
        "TESSERA_MAX_UPLOAD_BYTES",
    ] {
        command.env_remove(variable);
    }
    command.env("TESSERA_LOG", "warn").env("NO_COLOR", "1");
    command
}

/// A `tessera` command on a store (its `--data-dir` or `--database-url`).
pub fn tessera_command(location: &StoreLocation) -> std::process::Command {
    let mut command = bare_tessera_command();
    command.args(&location.cli_args);
    command
}

/// What a finished `tessera` command printed.
#[derive(Debug)]
pub struct CliOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    #[track_caller]
    pub fn assert_success(&self) -> &CliOutput {
        assert!(
            self.status.success(),
            "expected success, got {}:\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts a non-zero exit and returns stderr.
    #[track_caller]
    pub fn assert_failure(&self) -> &str {
        assert!(
            !self.status.success(),
            "expected a failure, got success:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert!(self.status.code().is_some_and(|code| code != 0), "expected an exit code, got {}", self.status);
        &self.stderr
    }
}

/// Runs `tessera <store> <args>` to completion (killed and failed after `timeout`).
pub async fn run_tessera(location: &StoreLocation, args: &[&str], timeout: std::time::Duration) -> CliOutput {
    let mut command = tessera_command(location);
    command.args(args);
    let description = format!("tessera {}", args.join(" "));
    tokio::task::spawn_blocking(move || run_with_timeout(command, &description, timeout)).await.expect("cli thread")
}

fn run_with_timeout(mut command: std::process::Command, description: &str, timeout: std::time::Duration) -> CliOutput {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} did not finish within {timeout:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    CliOutput { status, stdout: stdout.join().expect("stdout"), stderr: stderr.join().expect("stderr") }
}

/// A port nobody listens on (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `tessera serve` as a child process on a free port; killed (SIGKILL) when dropped.
///
/// The server bootstraps the harness's admin ([`ADMIN_EMAIL`], [`ADMIN_PASSWORD`]) from
/// `TESSERA_ADMIN_EMAIL`/`TESSERA_ADMIN_PASSWORD`; `client` sends that admin's token with
/// every request, `anonymous` sends none.
pub struct Server {
    pub base: String,
    /// Sends `Authorization: Bearer <the admin's access token>` by default.
    pub client: reqwest::Client,
    /// No `Authorization` header.
    pub anonymous: reqwest::Client,
    /// The admin's access token (what `client` sends).
    pub token: String,
    child: Option<std::process::Child>,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Server {
    /// Starts `tessera serve` on `location` and waits until `/health` answers 200.
    pub async fn start(location: &StoreLocation) -> Server {
        Server::start_with(location, &[]).await
    }

    pub async fn start_with(location: &StoreLocation, serve_args: &[&str]) -> Server {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let mut command = tessera_command(location);
            command.arg("serve").arg("--addr").arg(format!("127.0.0.1:{port}")).args(serve_args);
            Server::with_admin(&mut command);
            match Server::launch(command, port).await {
                Ok(server) => return server,
                // Someone took the port between our probe and the server's bind: try another.
                Err(log_text) if attempt < 3 && log_text.contains("cannot listen") => continue,
                Err(log_text) => panic!("tessera serve did not become healthy: {log_text}"),
            }
        }
    }

    /// Has `command` (a `tessera ... serve`) create the harness's admin at start-up if the
    /// store has no admin yet (on a store that has one already, it is simply there).
    pub fn with_admin(command: &mut std::process::Command) -> &mut std::process::Command {
        command.env("TESSERA_ADMIN_EMAIL", ADMIN_EMAIL).env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
    }

    /// Spawns a prepared `tessera ... serve` command that will listen on `port` (and knows
    /// the harness's admin: see [`Server::with_admin`]), waits until `/health` answers 200
    /// and signs the admin in; on failure, the server's log.
    pub async fn launch(mut command: std::process::Command, port: u16) -> Result<Server, String> {
        let log_dir = tempfile::tempdir().expect("temp dir");
        let log = log_dir.path().join("server.log");
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(std::fs::OpenOptions::new().append(true).open(&log).expect("log file"));
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start tessera serve: {e}"));
        let anonymous =
            reqwest::Client::builder().timeout(std::time::Duration::from_secs(180)).build().expect("client");
        let mut server = Server {
            base: format!("http://127.0.0.1:{port}"),
            client: anonymous.clone(),
            anonymous,
            token: String::new(),
            child: Some(child),
            log,
            _log_dir: log_dir,
        };
        server.wait_healthy(std::time::Duration::from_secs(60)).await?;
        server.sign_in_admin().await?;
        Ok(server)
    }

    /// Signs the harness's admin in and rebuilds `client` to send its token by default;
    /// on failure (the server is killed) returns the answer and the server's log.
    async fn sign_in_admin(&mut self) -> Result<(), String> {
        let body = serde_json::json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        let answer = match self.anonymous.post(format!("{}/api/auth/login", self.base)).json(&body).send().await {
            Ok(response) => read(response).await,
            Err(e) => {
                self.kill();
                return Err(format!("admin login failed: {e}:\n{}", self.log()));
            }
        };
        let token = match (&answer.0, answer.1["access_token"].as_str()) {
            (&StatusCode::OK, Some(token)) => token.to_string(),
            _ => {
                self.kill();
                return Err(format!("admin login answered {} {}:\n{}", answer.0, answer.1, self.log()));
            }
        };
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("token header");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        self.client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(180))
            .default_headers(headers)
            .build()
            .expect("client");
        self.token = token;
        Ok(())
    }

    /// Waits for `/health` to answer 200; on failure returns the server's log.
    async fn wait_healthy(&mut self, timeout: std::time::Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.as_mut().expect("running").try_wait().expect("wait") {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            let probe = self
                .client
                .get(format!("{}/health", self.base))
                .timeout(std::time::Duration::from_secs(2))
                .send()
                .await;
            if probe.is_ok_and(|response| response.status() == StatusCode::OK) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                self.kill();
                return Err(format!("no healthy answer within {timeout:?}:\n{}", self.log()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and reap the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM (the process keeps running until it shuts down by itself).
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for the process to exit by itself; SIGKILLs it and panics after `timeout`.
    pub async fn wait_exit(&mut self, timeout: std::time::Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.as_mut().expect("running").try_wait().expect("wait") {
                self.child = None;
                return status;
            }
            if tokio::time::Instant::now() > deadline {
                self.kill();
                panic!("tessera did not exit within {timeout:?}:\n{}", self.log());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap_or_else(|e| panic!("request {path}: {e}"))).await
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
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Percent-encodes a query-string value.
pub fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Reads the body of an answer as `(status, JSON or string)`.
pub async fn read_response(response: reqwest::Response) -> (StatusCode, Value) {
    read(response).await
}

/// Declares a scenario `async fn(StoreLocation)` (for tests that run the binary) as two
/// tests, one per store.
#[macro_export]
macro_rules! both_store_locations {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let location = $crate::harness::StoreLocation::new($crate::harness::StoreKind::Sqlite).await;
                    super::$name(location).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let location = $crate::harness::StoreLocation::new($crate::harness::StoreKind::Postgres).await;
                    super::$name(location).await;
                }
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------
// Users, tokens and access rules (auth.rs, rules.rs): calls as any caller, sign-ups and
// sign-ins.
// ---------------------------------------------------------------------------------------

/// The password [`TestApp::user_token`] registers its users with.
pub const USER_PASSWORD: &str = "password-123";

impl TestApp {
    /// Like [`TestApp::call`], with `token` as the bearer token (`None`: anonymous, no
    /// `Authorization` header) instead of the admin's.
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request")).await
    }

    /// Sends a request with exactly these extra headers (no automatic token); returns the
    /// status, the response headers and the parsed body.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.request(method, format!("{}{}", self.base, path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let headers = response.headers().clone();
        let (status, body) = read(response).await;
        (status, headers, body)
    }

    /// Registers a user anonymously, asserting 201; returns the user.
    pub async fn register(&self, email: &str, password: &str) -> Value {
        let body = serde_json::json!({"email": email, "password": password});
        let (status, user) = self.call_as(None, Method::POST, "/api/auth/register", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "register {email}: {user}");
        user
    }

    /// Signs in anonymously, asserting 200; returns the whole answer (tokens and user).
    pub async fn login(&self, identity: &str, password: &str) -> Value {
        let body = serde_json::json!({"identity": identity, "password": password});
        let (status, session) = self.call_as(None, Method::POST, "/api/auth/login", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "login {identity}: {session}");
        session
    }

    /// Registers `email` with [`USER_PASSWORD`] and signs in; returns the user's id and
    /// access token.
    pub async fn user_token(&self, email: &str) -> (i64, String) {
        let user = self.register(email, USER_PASSWORD).await;
        let id = user["id"].as_i64().unwrap_or_else(|| panic!("user id in {user}"));
        let session = self.login(email, USER_PASSWORD).await;
        let token = session["access_token"].as_str().unwrap_or_else(|| panic!("access_token in {session}"));
        (id, token.to_string())
    }
}
