//! Crash safety of the real binary: SIGKILL in the middle of a large migration and of a
//! large bulk insert, restart on the same store, and find the old state or the new one
//! complete, never half; SIGTERM lets the requests in flight finish and exits 0.

use crate::both_store_locations;
use crate::harness::{encode_query, read_response, Server, StoreKind, StoreLocation};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

both_store_locations!(
    migration_killed_midway_is_all_or_nothing,
    bulk_insert_killed_midway_is_all_or_nothing,
    sigterm_finishes_requests_in_flight,
);

const TABLE: &str = "herd";

/// The value of `n` of the row loaded `i`-th: spread, negative and positive, integral.
fn n_of(i: usize) -> i64 {
    ((i as i64 * 7919) % 1_000_003) - 500_000
}

fn label_of(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:06}")
}

fn ndjson_rows(prefix: &str, range: std::ops::Range<usize>) -> Vec<u8> {
    let mut body = String::with_capacity(range.len() * 40);
    for i in range {
        body.push_str(&format!("{{\"n\":{},\"label\":\"{}\"}}\n", n_of(i), label_of(prefix, i)));
    }
    body.into_bytes()
}

/// Sends an NDJSON bulk create in the background; the answer (or the transport error).
fn post_rows_in_background(server: &Server, body: Vec<u8>) -> JoinHandle<Result<(StatusCode, Value), String>> {
    let request = server
        .client
        .post(format!("{}/api/tables/{TABLE}/rows", server.base))
        .header("content-type", "application/x-ndjson")
        .body(body);
    tokio::spawn(async move {
        match request.send().await {
            Ok(response) => Ok(read_response(response).await),
            Err(e) => Err(e.to_string()),
        }
    })
}

fn put_schema_in_background(server: &Server, fields: Value) -> JoinHandle<Result<(StatusCode, Value), String>> {
    let request = server.client.put(format!("{}/api/tables/{TABLE}", server.base)).json(&json!({ "fields": fields }));
    tokio::spawn(async move {
        match request.send().await {
            Ok(response) => Ok(read_response(response).await),
            Err(e) => Err(e.to_string()),
        }
    })
}

/// Loads `rows` rows (`label` prefix `prefix`) in NDJSON requests of 50,000; returns the ids in order.
async fn bulk_load(server: &Server, prefix: &str, rows: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(rows);
    let mut start = 0;
    while start < rows {
        let end = (start + 50_000).min(rows);
        let (status, body) =
            post_rows_in_background(server, ndjson_rows(prefix, start..end)).await.unwrap().expect("bulk load");
        assert_eq!(status, StatusCode::CREATED, "bulk load: {body}");
        ids.extend(body["ids"].as_array().expect("ids").iter().map(|id| id.as_i64().unwrap()));
        start = end;
    }
    assert_eq!(ids.len(), rows);
    ids
}

/// The number of rows matching `filter` (all rows when `None`).
async fn count(server: &Server, filter: Option<&str>) -> i64 {
    let mut path = format!("/api/tables/{TABLE}/rows?limit=1&total=true");
    if let Some(filter) = filter {
        path.push_str(&format!("&filter={}", encode_query(filter)));
    }
    let (status, body) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "count {filter:?}: {body}");
    body["total"].as_i64().unwrap_or_else(|| panic!("total in {body}"))
}

/// The two schemas the migration test moves between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `n` integer, `label` string(max_length 40): versions 1, 3, 5, ...
    Integer,
    /// `n` float, `label` text: versions 2, 4, 6, ...
    Float,
}

impl Shape {
    fn fields(self) -> Value {
        match self {
            Shape::Integer => json!({"n": "integer", "label": {"type": "string", "max_length": 40}}),
            Shape::Float => json!({"n": "float", "label": "text"}),
        }
    }
    fn other(self) -> Shape {
        match self {
            Shape::Integer => Shape::Float,
            Shape::Float => Shape::Integer,
        }
    }
}

/// The table the tests load, at [`Shape::Integer`]; without the managed `owner` field (the
/// schema checks compare exact field lists).
fn create_herd() -> Value {
    json!({"name": TABLE, "fields": Shape::Integer.fields(), "owner": false})
}

/// Checks the table after a restart: a whole schema version (types, version number,
/// history), every row, and sampled values of the right type. Returns the shape found.
async fn check_table(server: &Server, ids: &[i64], expected_positive: i64) -> (Shape, i64) {
    let (status, schema) = server.get(&format!("/api/tables/{TABLE}")).await;
    assert_eq!(status, StatusCode::OK, "the table survives: {schema}");
    let fields = &schema["fields"];
    let shape = if fields == &json!({"n": {"type": "integer"}, "label": {"type": "string", "max_length": 40}}) {
        Shape::Integer
    } else if fields == &json!({"n": {"type": "float"}, "label": {"type": "text"}}) {
        Shape::Float
    } else {
        panic!("a half-migrated schema: {schema}");
    };
    let version = schema["version"].as_i64().expect("version");
    let expected_shape = if version % 2 == 1 { Shape::Integer } else { Shape::Float };
    assert_eq!(shape, expected_shape, "version {version} has the fields of its version: {schema}");
    let (status, history) = server.get(&format!("/api/tables/{TABLE}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["items"].as_array().map(Vec::len), Some(version as usize), "one history entry per version");

    assert_eq!(count(server, None).await, ids.len() as i64, "no row lost or duplicated ({shape:?} v{version})");
    assert_eq!(count(server, Some("n >= 0")).await, expected_positive, "the values of n are intact");
    let samples = 25;
    for k in 0..=samples {
        let i = (ids.len() - 1) * k / samples;
        let (status, row) = server.get(&format!("/api/tables/{TABLE}/rows/{}", ids[i])).await;
        assert_eq!(status, StatusCode::OK, "row {}: {row}", ids[i]);
        assert_eq!(row["label"], label_of("row-", i), "label of row {}: {row}", ids[i]);
        match shape {
            Shape::Integer => {
                assert!(row["n"].is_i64(), "n is an integer at v{version}: {row}");
                assert_eq!(row["n"].as_i64(), Some(n_of(i)), "n of row {}: {row}", ids[i]);
            }
            Shape::Float => assert_eq!(row["n"].as_f64(), Some(n_of(i) as f64), "n of row {}: {row}", ids[i]),
        }
    }
    (shape, version)
}

/// Where a kill landed, for the log.
fn outcome(answered: &Result<(StatusCode, Value), String>) -> String {
    match answered {
        Ok((status, _)) => format!("answered {status}"),
        Err(_) => "no answer".into(),
    }
}

/// The kill delays: fixed ones, and fractions of how long the uninterrupted operation took,
/// so that several kills land inside it whatever the machine's speed.
fn kill_delays(measured: Duration) -> Vec<Duration> {
    let mut delays: Vec<Duration> = [5, 50, 200, 1000].into_iter().map(Duration::from_millis).collect();
    delays.extend([0.15, 0.35, 0.55, 0.75, 0.95].into_iter().map(|fraction| measured.mul_f64(fraction)));
    delays
}

async fn migration_killed_midway_is_all_or_nothing(location: StoreLocation) {
    const ROWS: usize = 200_000;
    let started = Instant::now();
    let mut server = Server::start(&location).await;
    let (status, body) = server.post("/api/tables", create_herd()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ids = bulk_load(&server, "row-", ROWS).await;
    let expected_positive = (0..ROWS).filter(|&i| n_of(i) >= 0).count() as i64;
    eprintln!("[{:?}] loaded {ROWS} rows in {:?}", location.kind, started.elapsed());

    // An uninterrupted migration, timed: the kills below land at fractions of it.
    let begin = Instant::now();
    let (status, report) = put_schema_in_background(&server, Shape::Float.fields()).await.unwrap().expect("migrate");
    let measured = begin.elapsed();
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], true, "{report}");
    assert_eq!(report["rebuild"], true, "integer -> float and string -> text rewrite the table: {report}");
    eprintln!("[{:?}] a migration of {ROWS} rows takes {measured:?}", location.kind);
    let (mut shape, _) = check_table(&server, &ids, expected_positive).await;
    assert_eq!(shape, Shape::Float);

    let mut killed_before_commit = 0;
    for delay in kill_delays(measured) {
        let target = shape.other();
        let request = put_schema_in_background(&server, target.fields());
        tokio::time::sleep(delay).await;
        server.kill();
        let answered =
            tokio::time::timeout(Duration::from_secs(30), request).await.expect("the client notices the kill").unwrap();
        server = Server::start(&location).await;
        let (found, version) = check_table(&server, &ids, expected_positive).await;
        eprintln!(
            "[{:?}] SIGKILL after {delay:?} ({}): found {found:?} v{version} (was {shape:?}, migrating to {target:?})",
            location.kind,
            outcome(&answered)
        );
        match &answered {
            Ok((StatusCode::OK, report)) => {
                assert_eq!(found, target, "the migration was acknowledged, so it must have survived: {report}")
            }
            Ok((status, body)) => panic!("the migration failed without a kill: {status} {body}"),
            Err(_) => assert!(found == shape || found == target),
        }
        if found == shape {
            killed_before_commit += 1;
        }
        shape = found;
    }
    assert!(killed_before_commit > 0, "at least the early kills land before the migration commits");

    // The table is still fully usable: a last migration completes and writes work.
    let (status, report) =
        put_schema_in_background(&server, shape.other().fields()).await.unwrap().expect("final migration");
    assert_eq!(status, StatusCode::OK, "a migration after the crashes: {report}");
    let (found, _) = check_table(&server, &ids, expected_positive).await;
    assert_eq!(found, shape.other());
    let (status, row) = server.post(&format!("/api/tables/{TABLE}/rows"), json!({"n": 1, "label": "after"})).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    eprintln!("[{:?}] migration crash test took {:?}", location.kind, started.elapsed());
}

async fn bulk_insert_killed_midway_is_all_or_nothing(location: StoreLocation) {
    const BASE: usize = 10_000;
    const BATCH: usize = 100_000;
    let started = Instant::now();
    let mut server = Server::start(&location).await;
    let (status, body) = server.post("/api/tables", create_herd()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    bulk_load(&server, "base-", BASE).await;

    // An uninterrupted bulk insert, timed.
    let begin = Instant::now();
    let (status, body) = post_rows_in_background(&server, ndjson_rows("b00-", 0..BATCH)).await.unwrap().expect("bulk");
    let measured = begin.elapsed();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"], BATCH);
    eprintln!("[{:?}] a bulk insert of {BATCH} rows takes {measured:?}", location.kind);
    let mut expected = (BASE + BATCH) as i64;

    let mut killed_before_commit = 0;
    for (k, delay) in kill_delays(measured).into_iter().enumerate() {
        let prefix = format!("b{:02}-", k + 1);
        let request = post_rows_in_background(&server, ndjson_rows(&prefix, 0..BATCH));
        tokio::time::sleep(delay).await;
        server.kill();
        let answered =
            tokio::time::timeout(Duration::from_secs(30), request).await.expect("the client notices the kill").unwrap();
        server = Server::start(&location).await;
        let landed = count(&server, Some(&format!("label ~ \"{prefix}\""))).await;
        let total = count(&server, None).await;
        eprintln!(
            "[{:?}] SIGKILL after {delay:?} ({}): {landed} of {BATCH} rows of the batch, {total} rows in all",
            location.kind,
            outcome(&answered)
        );
        assert!(landed == 0 || landed == BATCH as i64, "a bulk insert is all or nothing, found {landed} of {BATCH}");
        assert_eq!(total, expected + landed, "no other row was lost or added");
        match &answered {
            Ok((StatusCode::CREATED, _)) => assert_eq!(landed, BATCH as i64, "an acknowledged insert survives"),
            Ok((status, body)) => panic!("the insert failed without a kill: {status} {body}"),
            Err(_) => {}
        }
        if landed == 0 {
            killed_before_commit += 1;
        } else {
            for i in [0, BATCH / 2, BATCH - 1] {
                let filter = format!("label = \"{}\"", label_of(&prefix, i));
                let (_, body) = server.get(&format!("/api/tables/{TABLE}/rows?filter={}", encode_query(&filter))).await;
                assert_eq!(body["items"][0]["n"], n_of(i), "row {i} of batch {prefix}: {body}");
            }
        }
        expected += landed;
    }
    assert!(killed_before_commit > 0, "at least the early kills land before the insert commits");
    eprintln!("[{:?}] bulk crash test took {:?}", location.kind, started.elapsed());
}

async fn sigterm_finishes_requests_in_flight(location: StoreLocation) {
    const BATCH: usize = 100_000;
    let started = Instant::now();
    let mut server = Server::start(&location).await;
    let (status, body) = server.post("/api/tables", create_herd()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let begin = Instant::now();
    let (status, body) = post_rows_in_background(&server, ndjson_rows("row-", 0..BATCH)).await.unwrap().expect("bulk");
    let measured = begin.elapsed();
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A slow bulk insert, then SIGTERM while it runs: it completes, then tessera exits 0.
    let request = post_rows_in_background(&server, ndjson_rows("term-", 0..BATCH));
    tokio::time::sleep((measured / 4).max(Duration::from_millis(50))).await;
    assert!(!request.is_finished(), "the request is still in flight when SIGTERM is sent");
    server.terminate();
    let answered = tokio::time::timeout(Duration::from_secs(120), request).await.expect("an answer").unwrap();
    let (status, body) = answered.expect("the request in flight is answered, not cut off");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"], BATCH);
    let exit = server.wait_exit(Duration::from_secs(60)).await;
    assert!(exit.success() && exit.code() == Some(0), "SIGTERM exits 0, got {exit}:\n{}", server.log());
    if location.kind == StoreKind::Sqlite {
        // Closed cleanly: the write-ahead log was checkpointed into the database.
        let dir = std::path::PathBuf::from(&location.cli_args[1]);
        let wal = std::fs::metadata(dir.join("tessera.db-wal")).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal, 0, "the WAL is checkpointed at a clean shutdown");
    }

    // A migration in flight is finished too.
    let mut server = Server::start(&location).await;
    assert_eq!(count(&server, None).await, 2 * BATCH as i64, "the rows of the finished request are there");
    assert_eq!(count(&server, Some("label ~ \"term-\"")).await, BATCH as i64);
    let request = put_schema_in_background(&server, Shape::Float.fields());
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!request.is_finished(), "the migration is still in flight when SIGTERM is sent");
    server.terminate();
    let (status, report) = tokio::time::timeout(Duration::from_secs(120), request)
        .await
        .expect("an answer")
        .unwrap()
        .expect("the migration in flight is answered");
    assert_eq!(status, StatusCode::OK, "{report}");
    let exit = server.wait_exit(Duration::from_secs(60)).await;
    assert!(exit.success(), "SIGTERM exits 0, got {exit}:\n{}", server.log());

    // Idle: SIGTERM exits 0 promptly.
    let mut server = Server::start(&location).await;
    let (_, schema) = server.get(&format!("/api/tables/{TABLE}")).await;
    assert_eq!(schema["version"], 2, "the migration finished before the exit: {schema}");
    assert_eq!(schema["fields"]["n"]["type"], "float");
    assert_eq!(count(&server, None).await, 2 * BATCH as i64);
    let begin = Instant::now();
    server.terminate();
    let exit = server.wait_exit(Duration::from_secs(10)).await;
    assert!(exit.success(), "an idle SIGTERM exits 0, got {exit}");
    assert!(begin.elapsed() < Duration::from_secs(5), "an idle shutdown is prompt: {:?}", begin.elapsed());
    eprintln!("[{:?}] SIGTERM test took {:?}", location.kind, started.elapsed());
}
