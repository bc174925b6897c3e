//! The embedded SQLite backend.
//!
//! One writer connection (SQLite allows one writer at a time anyway) and a small pool of
//! reader connections in WAL mode, so reads never wait for writes. Every call runs on
//! tokio's blocking pool. Page caches are capped per connection, so memory stays bounded
//! whatever the concurrency. `synchronous=FULL`: an acknowledged write survives power
//! loss, not just a process crash.

use crate::error::{classify_sqlite, StoreError};
use crate::migrate::{self, MigrationReport, RowConverter, PAGE_ROWS};
use crate::row_queries::Returning;
use crate::{now_text, row_queries, table_queries, HistoryEntry, Inserted, NewRow};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tessera_query::{quote_ident, Dialect};
use tessera_schema::plan::Plan;
use tessera_schema::{FieldType, TableSchema, Value};

/// Page cache per connection, in KiB (negative `cache_size` means KiB).
const CACHE_KIB: i64 = 4096;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: std::sync::mpsc::Sender<WriterMessage>,
    readers: std::sync::mpsc::Sender<ReadJob>,
    /// The background checkpoint thread and what stops it (dropping the sender, also when
    /// the store is dropped); [`SqliteStore::close`] stops it and waits for it, so that the
    /// final checkpoint does not meet one of its own.
    checkpointer: Mutex<Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
    /// Row statements run (see [`crate::Store::statements_executed`]).
    statements: std::sync::atomic::AtomicU64,
}

/// Binds a [`Value`] as a SQLite parameter.
pub struct Param<'a>(pub &'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Integer(i) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
            Value::Float(f) => ToSqlOutput::Owned(rusqlite::types::Value::Real(*f)),
            Value::Boolean(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*b))),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Json(j) => ToSqlOutput::Owned(rusqlite::types::Value::Text(j.to_string())),
        })
    }
}

pub fn params(values: &[Value]) -> impl rusqlite::Params + '_ {
    rusqlite::params_from_iter(values.iter().map(Param))
}

fn open_connection(path: &PathBuf, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(256);
    crate::sqlite_functions::register(&conn)?;
    Ok(conn)
}

impl SqliteStore {
    pub fn statements_executed(&self) -> u64 {
        self.inner.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn open(path: PathBuf, readers: usize) -> Result<SqliteStore, StoreError> {
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Pool(format!("cannot create {}: {e}", dir.display())))?;
            }
            let writer = open_connection(&path, OpenFlags::default())?;
            let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Pool(format!("SQLite refused WAL mode (got {mode})")));
            }
            writer.pragma_update(None, "synchronous", "FULL")?;
            // Checkpoints run on a thread of their own (below), not inside the commit of
            // whichever write crosses the threshold: that write would wait for them.
            writer.pragma_update(None, "wal_autocheckpoint", 0)?;
            // One transaction: one fsync instead of one per statement at first start.
            writer.execute_batch("BEGIN IMMEDIATE")?;
            for statement in table_queries::system_tables(Dialect::Sqlite) {
                writer.execute(statement, [])?;
            }
            writer.execute_batch("COMMIT")?;
            let readers = readers.max(1);
            let reader_flags =
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
            let (read_jobs, read_queue) = std::sync::mpsc::channel::<ReadJob>();
            let read_queue = Arc::new(Mutex::new(read_queue));
            for index in 0..readers {
                let conn = open_connection(&path, reader_flags)?;
                let queue = read_queue.clone();
                std::thread::Builder::new()
                    .name(format!("tessera-sqlite-reader-{index}"))
                    .spawn(move || reader_loop(conn, queue))
                    .map_err(|e| StoreError::Pool(format!("cannot start a reader thread: {e}")))?;
            }
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("tessera-sqlite-writer".into())
                .spawn(move || writer_loop(writer, receiver))
                .map_err(|e| StoreError::Pool(format!("cannot start the writer thread: {e}")))?;
            let (checkpoint_stop, checkpoint_wait) = std::sync::mpsc::channel::<()>();
            let checkpointer = open_connection(&path, OpenFlags::default())?;
            let checkpoint_thread = std::thread::Builder::new()
                .name("tessera-sqlite-checkpoint".into())
                .spawn(move || checkpoint_loop(checkpointer, checkpoint_wait))
                .map_err(|e| StoreError::Pool(format!("cannot start the checkpoint thread: {e}")))?;
            Ok(SqliteStore {
                inner: Arc::new(Inner {
                    writer: sender,
                    readers: read_jobs,
                    checkpointer: Mutex::new(Some((checkpoint_stop, checkpoint_thread))),
                    statements: Default::default(),
                }),
            })
        })
        .await
        .map_err(|e| StoreError::Pool(e.to_string()))?
    }

    /// Runs `work` in the writer's current transaction, inside a savepoint of its own,
    /// and answers once the transaction is durably committed (see [`writer_loop`]).
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match crate::atomic::sqlite_call(work, true).await {
            Ok(joined) => joined,
            Err(work) => self.send_write(work, WriterMessage::Write).await,
        }
    }

    /// Runs `work` with every store call it makes on its task in ONE transaction, held by
    /// a job on the writer (which runs those calls as they come); committed if `commit`
    /// says so of the outcome, rolled back otherwise.
    pub async fn atomic<T>(
        &self,
        work: impl std::future::Future<Output = T>,
        commit: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        use crate::atomic::{Connection as Held, Scope, SqliteMessage};
        let (sender, receiver) = std::sync::mpsc::channel::<SqliteMessage>();
        let store = self.clone();
        let holder = tokio::spawn(async move {
            let hold = move |conn: &Connection| {
                while let Ok(message) = receiver.recv() {
                    match message {
                        SqliteMessage::Run(call) => call(conn),
                        SqliteMessage::Finish(true) => return Ok(()),
                        SqliteMessage::Finish(false) => break,
                    }
                }
                Err(StoreError::Pool("rolled back".into()))
            };
            store.send_write(hold, WriterMessage::Write).await
        });
        let scope = Scope::new(Held::Sqlite(sender.clone()));
        let out = crate::atomic::within(scope.clone(), work).await;
        let keep = commit(&out);
        let _ = sender.send(SqliteMessage::Finish(keep));
        let held = holder.await.map_err(|e| StoreError::Pool(format!("the transaction holder failed: {e}")))?;
        if keep {
            held?;
            for job in scope.take_after_commit() {
                job.await;
            }
        }
        Ok(out)
    }

    /// Like [`SqliteStore::write`], in a transaction of its own with foreign keys off
    /// (they cannot be switched inside a transaction): how a table that others reference
    /// is rebuilt, since dropping the old copy would otherwise delete or null every row
    /// that points at it. `work` checks the keys itself before it returns.
    pub(crate) async fn write_exclusive<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if crate::atomic::current().is_some() {
            return Err(StoreError::Pool("a schema change cannot run inside a request's transaction".into()));
        }
        self.send_write(work, WriterMessage::Exclusive).await
    }

    async fn send_write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        message: fn(Job) -> WriterMessage,
    ) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |slot: JobSlot<'_>| {
            let result = match slot {
                JobSlot::Shared(conn) => in_savepoint(conn, work),
                JobSlot::Alone(conn) => run_guarded(conn, work),
                JobSlot::NoTransaction => Err(StoreError::Pool("the writer could not start a transaction".into())),
            };
            let succeeded = result.is_ok();
            let completion = Box::new(move |committed: Result<(), String>| {
                let result = match (result, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Ok(_), Err(e)) => Err(StoreError::Pool(format!("commit failed: {e}"))),
                    (Err(e), _) => Err(e),
                };
                let _ = reply.send(result);
            }) as Completion;
            (succeeded, completion)
        });
        self.inner.writer.send(message(job)).map_err(|_| StoreError::Pool("the writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Pool("the writer dropped a request".into()))?
    }

    /// Runs `work` on one of the reader threads, each of which owns a connection. The
    /// number of threads is fixed, so memory and threads stay bounded whatever the load;
    /// a request that is dropped (client gone) lets its job finish and the answer is lost.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        // Inside a request's transaction, reads see its writes: they run on the writer.
        let work = match crate::atomic::sqlite_call(work, false).await {
            Ok(joined) => return joined,
            Err(work) => work,
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: ReadJob = Box::new(move |conn: &Connection| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(StoreError::Pool("a read panicked".into())));
            let _ = reply.send(result);
        });
        self.inner.readers.send(job).map_err(|_| StoreError::Pool("the readers have stopped".into()))?;
        answer.await.map_err(|_| StoreError::Pool("a reader dropped a request".into()))?
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    pub async fn load_tables(&self) -> Result<Vec<TableSchema>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT schema FROM _tessera_tables ORDER BY id")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            rows.map(|text| {
                let text = text?;
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("catalog entry: {e}")))
            })
            .collect()
        })
        .await
    }

    pub async fn create_table(&self, draft: TableSchema) -> Result<TableSchema, StoreError> {
        let name = draft.name.clone();
        self.write(move |conn| {
            let tx = conn;
            let key = name.to_ascii_lowercase();
            let exists: Option<i64> =
                tx.query_row("SELECT id FROM _tessera_tables WHERE name_key = ?", [&key], |r| r.get(0)).optional()?;
            if exists.is_some() {
                return Err(StoreError::TableExists(name));
            }
            let now = now_text();
            tx.execute(
                "INSERT INTO _tessera_tables (name, name_key, version, schema, created_at, updated_at) VALUES (?, ?, 1, '{}', ?, ?)",
                rusqlite::params![name, key, now, now],
            )?;
            let schema = TableSchema { id: tx.last_insert_rowid(), version: 1, ..draft };
            let schema_json = serde_json::to_string(&schema).expect("schema serializes");
            tx.execute("UPDATE _tessera_tables SET schema = ? WHERE id = ?", rusqlite::params![schema_json, schema.id])?;
            tx.execute(&table_queries::create_table(Dialect::Sqlite, &schema.name, &schema.fields), [])?;
            for statement in table_queries::create_indexes(&schema).into_iter().chain(table_queries::create_junctions(Dialect::Sqlite, &schema)) {
                tx.execute(&statement, [])?;
            }
            insert_history(tx, schema.id, schema.version, "create", None, Some(&schema_json), "[]", &now)?;
            Ok(schema)
        })
        .await
    }

    pub async fn drop_table(&self, schema: TableSchema) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn;
            let deleted = tx.execute(
                "DELETE FROM _tessera_tables WHERE id = ? AND version = ?",
                rusqlite::params![schema.id, schema.version],
            )?;
            if deleted == 0 {
                return Err(StoreError::Stale(schema.name));
            }
            for statement in table_queries::drop_junctions(&schema) {
                tx.execute(&statement, [])?;
            }
            tx.execute(&table_queries::drop_table(&schema.name), []).map_err(classify_sqlite)?;
            let before = serde_json::to_string(&schema).expect("schema serializes");
            insert_history(tx, schema.id, schema.version + 1, "drop", Some(&before), None, "[]", &now_text())?;
            Ok(())
        })
        .await
    }

    pub async fn history(&self, table_id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT version, action, before, after, steps, at FROM _tessera_history WHERE table_id = ? ORDER BY version, id",
            )?;
            let rows = stmt.query_map([table_id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })?;
            rows.map(|row| {
                let (version, action, before, after, steps, at) = row?;
                crate::postgres::history_entry(version, action, before, after, steps, at)
            })
            .collect()
        })
        .await
    }

    /// Rows of one column of JSON text (built by SQLite).
    pub async fn query_strings(&self, sql: String, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        self.query_rows(sql, values, |row| row.get::<_, String>(0)).await
    }

    /// Rows of typed columns, each written as JSON text by [`crate::typed_rows::render_row`].
    pub async fn query_rendered(
        &self,
        sql: String,
        values: Vec<Value>,
        layout: crate::typed_rows::RowLayout,
    ) -> Result<Vec<String>, StoreError> {
        self.query_rows(sql, values, move |row| crate::typed_rows::render_row(row, &layout)).await
    }

    /// Every row of one read statement, each turned into a `T` on the reader thread.
    async fn query_rows<T: Send + 'static>(
        &self,
        sql: String,
        values: Vec<Value>,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<Vec<T>, StoreError> {
        self.inner.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(classify_sqlite)?;
            let rows = stmt.query_map(params(&values), map)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn query_count(&self, sql: String, values: Vec<Value>) -> Result<i64, StoreError> {
        self.inner.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.read(move |conn| {
            Ok(conn.prepare_cached(&sql).map_err(classify_sqlite)?.query_row(params(&values), |row| row.get(0))?)
        })
        .await
    }

    /// Runs one writing statement that returns JSON rows.
    pub async fn write_strings(&self, sql: String, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        self.inner.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(classify_sqlite)?;
            let rows = stmt.query_map(params(&values), |row| row.get::<_, String>(0)).map_err(classify_sqlite)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(classify_sqlite)
        })
        .await
    }

    pub async fn execute(&self, sql: String, values: Vec<Value>) -> Result<u64, StoreError> {
        self.inner.statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(&sql)
                .map_err(classify_sqlite)?
                .execute(params(&values))
                .map_err(classify_sqlite)?;
            Ok(changed as u64)
        })
        .await
    }

    pub async fn insert_rows(
        &self,
        schema: TableSchema,
        rows: Vec<NewRow>,
        return_rows: bool,
    ) -> Result<Inserted, StoreError> {
        self.write(move |conn| {
            let tx = conn;
            check_version(tx, &schema)?;
            let now = now_text();
            let mut json_rows = Vec::new();
            let mut ids = Vec::with_capacity(rows.len());
            let returning = if return_rows { Returning::Json } else { Returning::Nothing };
            let mut stmt = tx
                .prepare_cached(&row_queries::insert_sql(Dialect::Sqlite, &schema, returning))
                .map_err(classify_sqlite)?;
            for (index, row) in rows.into_iter().enumerate() {
                let values = row_queries::insert_params(Dialect::Sqlite, &schema, row, &now);
                let result = if return_rows {
                    stmt.query_row(params(&values), |r| r.get::<_, String>(0)).map(|json| json_rows.push(json))
                } else {
                    // No RETURNING: it makes SQLite buffer each row (about twice the cost).
                    stmt.execute(params(&values)).map(|_| ids.push(tx.last_insert_rowid()))
                };
                result.map_err(|e| classify_sqlite(e).at_row(index))?;
            }
            Ok(if return_rows { Inserted::Rows(json_rows) } else { Inserted::Ids(ids) })
        })
        .await
    }

    /// Writes rows with their junction-table links in one transaction (see
    /// [`crate::LinkedWrite`]): each row statement returns the id, links are replaced,
    /// and the row is read back with its links when `read_back`.
    pub async fn write_linked(
        &self,
        schema: TableSchema,
        writes: Vec<crate::LinkedWrite>,
        read_back: bool,
    ) -> Result<Vec<Option<(i64, Option<String>)>>, StoreError> {
        self.write(move |tx| {
            check_version(tx, &schema)?;
            let mut out = Vec::with_capacity(writes.len());
            for (index, write) in writes.into_iter().enumerate() {
                let at = |e: rusqlite::Error| classify_sqlite(e).at_row(index);
                let id: Option<i64> = tx
                    .prepare_cached(&write.row_sql)
                    .map_err(classify_sqlite)?
                    .query_row(params(&write.row_params), |r| r.get(0))
                    .optional()
                    .map_err(at)?;
                let Some(id) = id else {
                    out.push(None);
                    continue;
                };
                for link in &write.links {
                    tx.prepare_cached(&row_queries::unlink_sql(Dialect::Sqlite, &link.junction))?.execute([id])?;
                    let mut insert = tx.prepare_cached(&row_queries::link_sql(Dialect::Sqlite, &link.junction))?;
                    for (position, target) in link.ids.iter().enumerate() {
                        insert.execute([id, *target, position as i64]).map_err(at)?;
                    }
                }
                let json = if read_back {
                    let sql = row_queries::select_written(Dialect::Sqlite, &schema);
                    Some(tx.prepare_cached(&sql)?.query_row([id], |r| r.get::<_, String>(0))?)
                } else {
                    None
                };
                out.push(Some((id, json)));
            }
            Ok(out)
        })
        .await
    }

    /// A dry run reads a snapshot on a reader connection; a real migration runs in the
    /// writer's transaction, so no write can slip in between the check and the swap.
    pub async fn migrate(&self, plan: Plan, dry_run: bool) -> Result<MigrationReport, StoreError> {
        if dry_run {
            return self
                .read(move |conn| {
                    conn.execute_batch("BEGIN")?;
                    let report = migrate_in(conn, plan, true);
                    conn.execute_batch("ROLLBACK")?;
                    report
                })
                .await;
        }
        self.write_exclusive(move |conn| migrate_in(conn, plan, false)).await
    }
}

/// Checks a plan against the data and, unless `dry_run`, applies it, on a connection that
/// is inside a transaction.
fn migrate_in(tx: &Connection, plan: Plan, dry_run: bool) -> Result<MigrationReport, StoreError> {
    let current: Option<i64> =
        tx.query_row("SELECT version FROM _tessera_tables WHERE id = ?", [plan.before.id], |r| r.get(0)).optional()?;
    if current != Some(plan.before.version) {
        return Err(StoreError::Stale(plan.before.name.clone()));
    }
    if let Some(taken) = renamed_to_existing(tx, &plan)? {
        return Err(StoreError::TableExists(taken));
    }
    let rows: i64 =
        tx.query_row(&format!("SELECT count(*) FROM {}", quote_ident(&plan.before.name)), [], |r| r.get(0))?;
    let mut report = MigrationReport::new(Dialect::Sqlite, &plan, rows, dry_run);
    let columns = plan.columns_only();
    if migrate::needs_scan(&columns) && rows > 0 {
        let mut converter = RowConverter::new(&columns);
        scan_rows(tx, &columns.before, |id, old| {
            converter.convert_row(id, &old);
            Ok(())
        })?;
        report.failing_rows = converter.failing;
        report.failures = converter.failures;
    }
    if dry_run {
        return Ok(report);
    }
    if report.failing_rows > 0 {
        return Err(StoreError::MigrationRefused { failing: report.failing_rows, rows: report.failures });
    }
    apply(tx, &plan)?;
    let now = now_text();
    for other in &plan.retargeted {
        let json = serde_json::to_string(other).expect("schema serializes");
        tx.execute("UPDATE _tessera_tables SET schema = ? WHERE id = ?", rusqlite::params![json, other.id])?;
    }
    let after_json = serde_json::to_string(&plan.after).expect("schema serializes");
    tx.execute(
        "UPDATE _tessera_tables SET name = ?, name_key = ?, version = ?, schema = ?, updated_at = ? WHERE id = ?",
        rusqlite::params![
            plan.after.name,
            plan.after.name.to_ascii_lowercase(),
            plan.after.version,
            after_json,
            now,
            plan.after.id
        ],
    )?;
    let before_json = serde_json::to_string(&plan.before).expect("schema serializes");
    let steps = serde_json::to_string(&report.steps).expect("steps serialize");
    insert_history(
        tx,
        plan.after.id,
        plan.after.version,
        "migrate",
        Some(&before_json),
        Some(&after_json),
        &steps,
        &now,
    )?;
    report.applied = true;
    Ok(report)
}

impl SqliteStore {
    pub async fn close(&self) {
        let checkpointer = self.inner.checkpointer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((stop, thread)) = checkpointer {
            drop(stop);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        let (reply, done) = tokio::sync::oneshot::channel();
        if self.inner.writer.send(WriterMessage::Close(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies the WAL into the database file in the background (PASSIVE: never waits for, or
/// blocks, readers and the writer), until the store is dropped.
fn checkpoint_loop(conn: Connection, stop: std::sync::mpsc::Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
    }
}

/// A read, run on a reader thread's connection.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Takes reads from the shared queue, one at a time, until the store is dropped.
fn reader_loop(conn: Connection, queue: Arc<Mutex<std::sync::mpsc::Receiver<ReadJob>>>) {
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        job(&conn);
    }
}

/// A write: runs against the open transaction (or is told there is none) and returns
/// what to do once the commit outcome is known.
type Job = Box<dyn FnOnce(JobSlot<'_>) -> (bool, Completion) + Send>;

/// How a write runs within the writer's transaction.
enum JobSlot<'a> {
    /// With other writes: in a savepoint of its own, so its failure undoes only itself.
    Shared(&'a Connection),
    /// Alone in the transaction: no savepoint (SQLite then needs no statement journal
    /// per statement, which made bulk inserts several times slower); if it fails, the
    /// whole transaction is rolled back.
    Alone(&'a Connection),
    /// The transaction could not start.
    NoTransaction,
}
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

enum WriterMessage {
    Write(Job),
    /// A write that runs alone, with foreign keys off.
    Exclusive(Job),
    /// Checkpoint the WAL and stop.
    Close(tokio::sync::oneshot::Sender<()>),
}

/// Most writes committed together.
const MAX_GROUP: usize = 256;

/// Group commit. Each fsync costs milliseconds, so committing every write alone would cap
/// writes at a few hundred per second. The writer takes every write waiting in the queue,
/// runs each in its own savepoint inside ONE transaction (a failing write rolls back only
/// its savepoint), commits once, and only then answers them all: an acknowledged write is
/// durable (`synchronous=FULL`), and a batch costs one fsync.
fn writer_loop(conn: Connection, queue: std::sync::mpsc::Receiver<WriterMessage>) {
    let mut closing = None;
    while let Ok(first) = queue.recv() {
        let mut jobs = Vec::new();
        let mut exclusive = None;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                WriterMessage::Write(job) => jobs.push(job),
                WriterMessage::Exclusive(job) => exclusive = Some(job),
                WriterMessage::Close(reply) => closing = Some(reply),
            }
            if jobs.len() < MAX_GROUP && closing.is_none() && exclusive.is_none() {
                next = queue.try_recv().ok();
            }
        }
        if !jobs.is_empty() {
            run_group(&conn, jobs);
        }
        if let Some(job) = exclusive {
            run_without_foreign_keys(&conn, job);
        }
        if let Some(reply) = closing.take() {
            checkpoint_at_close(&conn);
            let _ = reply.send(());
            return;
        }
    }
}

/// Copies the whole WAL into the database and empties it, so a cleanly stopped store is
/// one file. `TRUNCATE` reports "busy" (first column 1) while a reader still holds an old
/// snapshot, and fails while another checkpoint runs: it is tried again for up to a second.
fn checkpoint_at_close(conn: &Connection) {
    let mut outcome = String::from("readers kept the log busy");
    for _ in 0..50 {
        match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get::<_, i64>(0)) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => outcome = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tracing::warn!("WAL checkpoint at close failed ({outcome}); the log is applied at the next start");
}

/// Runs one job alone with foreign keys off, switching them back on afterwards.
fn run_without_foreign_keys(conn: &Connection, job: Job) {
    if let Err(e) = conn.pragma_update(None, "foreign_keys", false) {
        job(JobSlot::NoTransaction).1(Err(e.to_string()));
        return;
    }
    run_group(conn, vec![job]);
    if let Err(e) = conn.pragma_update(None, "foreign_keys", true) {
        // Every later write would go unchecked: stop rather than corrupt links.
        panic!("cannot switch SQLite foreign keys back on: {e}");
    }
}

fn run_group(conn: &Connection, jobs: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let message = e.to_string();
        for job in jobs {
            job(JobSlot::NoTransaction).1(Err(message.clone()));
        }
        return;
    }
    let alone = jobs.len() == 1;
    let mut all_succeeded = true;
    let completions: Vec<Completion> = jobs
        .into_iter()
        .map(|job| {
            let (succeeded, completion) = job(if alone { JobSlot::Alone(conn) } else { JobSlot::Shared(conn) });
            all_succeeded &= succeeded;
            completion
        })
        .collect();
    let committed = if alone && !all_succeeded {
        // The only write failed: nothing to keep.
        let _ = conn.execute_batch("ROLLBACK");
        Ok(())
    } else {
        conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        })
    };
    for completion in completions {
        completion(committed.clone());
    }
}

/// Runs `work` directly in the transaction, turning a panic into an error.
pub(crate) fn run_guarded<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)))
        .unwrap_or_else(|_| Err(StoreError::Pool("a write panicked; it was rolled back".into())))
}

/// Runs `work` in a savepoint: kept if it succeeds, rolled back if it fails or panics.
pub(crate) fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("SAVEPOINT tessera_write")?;
    let result = run_guarded(conn, work);
    let end = if result.is_ok() { "RELEASE tessera_write" } else { "ROLLBACK TO tessera_write; RELEASE tessera_write" };
    conn.execute_batch(end)?;
    result
}

/// Fails with `Stale` if the table is no longer at the version `schema` was read at: the
/// write was validated against a catalog snapshot a migration has since replaced.
/// Writes and migrations run one at a time on the writer, so one check covers a write.
fn check_version(conn: &Connection, schema: &TableSchema) -> Result<(), StoreError> {
    let current: Option<i64> = conn
        .prepare_cached("SELECT version FROM _tessera_tables WHERE id = ?")?
        .query_row([schema.id], |r| r.get(0))
        .optional()?;
    if current == Some(schema.version) {
        Ok(())
    } else {
        Err(StoreError::Stale(schema.name.clone()))
    }
}

/// If the plan renames the table onto a name another table has, that name.
fn renamed_to_existing(tx: &Connection, plan: &Plan) -> Result<Option<String>, StoreError> {
    if plan.after.name.eq_ignore_ascii_case(&plan.before.name) {
        return Ok(None);
    }
    let taken: Option<i64> = tx
        .query_row(
            "SELECT id FROM _tessera_tables WHERE name_key = ? AND id != ?",
            rusqlite::params![plan.after.name.to_ascii_lowercase(), plan.after.id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(taken.map(|_| plan.after.name.clone()))
}

#[allow(clippy::too_many_arguments)]
fn insert_history(
    tx: &Connection,
    table_id: i64,
    version: i64,
    action: &str,
    before: Option<&str>,
    after: Option<&str>,
    steps: &str,
    at: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO _tessera_history (table_id, version, action, before, after, steps, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rusqlite::params![table_id, version, action, before, after, steps, at],
    )?;
    Ok(())
}

/// Reads a stored value of a field back into a [`Value`].
fn read_value(row: &rusqlite::Row<'_>, index: usize, field_type: FieldType) -> Result<Value, StoreError> {
    Ok(match row.get_ref(index)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if field_type == FieldType::Boolean => Value::Boolean(i != 0),
        ValueRef::Integer(i) if field_type == FieldType::Float => Value::Float(i as f64),
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(bytes) if field_type == FieldType::Json => {
            Value::Json(serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("stored json: {e}")))?)
        }
        ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(_) => return Err(StoreError::Corrupt("unexpected blob".into())),
    })
}

/// Calls `visit(id, values of the schema's fields)` for every row, in id order, page by page.
fn scan_rows(
    tx: &Connection,
    schema: &TableSchema,
    mut visit: impl FnMut(i64, Vec<Value>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    scan_rows_with_stamps(tx, schema, |id, values, _| visit(id, values))
}

/// Like [`scan_rows`], also passing `(created_at, updated_at)`.
fn scan_rows_with_stamps(
    tx: &Connection,
    schema: &TableSchema,
    mut visit: impl FnMut(i64, Vec<Value>, (String, String)) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut sql = String::from("SELECT \"id\"");
    for name in schema.fields.keys() {
        sql.push_str(", ");
        sql.push_str(&quote_ident(name));
    }
    sql.push_str(&format!(
        ", \"created_at\", \"updated_at\" FROM {} WHERE \"id\" > ? ORDER BY \"id\" LIMIT {PAGE_ROWS}",
        quote_ident(&schema.name)
    ));
    let types: Vec<FieldType> = schema.fields.values().map(|d| d.field_type).collect();
    let mut last_id = i64::MIN;
    loop {
        let mut page = Vec::new();
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query([last_id])?;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let values =
                    types.iter().enumerate().map(|(i, t)| read_value(row, i + 1, *t)).collect::<Result<Vec<_>, _>>()?;
                let stamps = (row.get(types.len() + 1)?, row.get(types.len() + 2)?);
                page.push((id, values, stamps));
            }
        }
        let Some(&(id, _, _)) = page.last() else {
            return Ok(());
        };
        last_id = id;
        let full = page.len() as i64 == PAGE_ROWS;
        for (id, values, stamps) in page {
            visit(id, values, stamps)?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// Applies a checked plan inside the caller's transaction.
fn apply(tx: &Connection, full_plan: &Plan) -> Result<(), StoreError> {
    if !full_plan.changes_table() {
        return Ok(());
    }
    let plan = &full_plan.columns_only();
    let (junctions_before, junctions_after) = migrate::junction_statements(Dialect::Sqlite, full_plan);
    for statement in table_queries::drop_indexes(&plan.before).into_iter().chain(junctions_before) {
        tx.execute(&statement, [])?;
    }
    if migrate::needs_rebuild(Dialect::Sqlite, plan) {
        rebuild(tx, plan)?;
        // Foreign keys are off (see `write_exclusive`): the copy must keep every link.
        let broken: Option<String> =
            tx.query_row("SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1", [], |r| r.get(0)).optional()?;
        if let Some(table) = broken {
            return Err(StoreError::Corrupt(format!("the rebuild would break links from table '{table}'")));
        }
    } else {
        for statement in migrate::alter_statements(Dialect::Sqlite, plan) {
            tx.execute(&statement, [])?;
        }
        fill_defaults(tx, plan)?;
    }
    for statement in table_queries::create_indexes(&plan.after).into_iter().chain(junctions_after) {
        tx.execute(&statement, []).map_err(classify_sqlite)?;
    }
    Ok(())
}

/// Gives existing rows the default of each new field that has one.
fn fill_defaults(tx: &Connection, plan: &Plan) -> Result<(), StoreError> {
    for step in &plan.steps {
        if let tessera_schema::plan::Step::AddField { name, field } = step {
            let default = migrate::default_value(field);
            if !default.is_null() {
                let sql = format!("UPDATE {} SET {} = ?", quote_ident(&plan.after.name), quote_ident(name));
                tx.execute(&sql, params(std::slice::from_ref(&default)))?;
            }
        }
    }
    Ok(())
}

/// Copies the table into a new one with the new layout, converting every row, then swaps
/// it in. Runs inside the caller's transaction, so a failure leaves the old table.
fn rebuild(tx: &Connection, plan: &Plan) -> Result<(), StoreError> {
    let temp = migrate::rebuild_name(plan.after.id);
    tx.execute(&table_queries::create_table(Dialect::Sqlite, &temp, &plan.after.fields), [])?;
    let mut insert = format!("INSERT INTO {} (\"id\"", quote_ident(&temp));
    for name in plan.after.fields.keys() {
        insert.push_str(", ");
        insert.push_str(&quote_ident(name));
    }
    insert.push_str(", \"created_at\", \"updated_at\") VALUES (?");
    insert.push_str(&", ?".repeat(plan.after.fields.len() + 2));
    insert.push(')');
    let mut converter = RowConverter::new(plan);
    scan_rows_with_stamps(tx, &plan.before, |id, old, (created_at, updated_at)| {
        let Some(new_row) = converter.convert_row(id, &old) else {
            return Err(StoreError::MigrationRefused { failing: converter.failing, rows: converter.failures.clone() });
        };
        let mut values = Vec::with_capacity(new_row.len() + 3);
        values.push(Value::Integer(id));
        values.extend(new_row);
        values.push(Value::Text(created_at));
        values.push(Value::Text(updated_at));
        tx.prepare_cached(&insert)?.execute(params(&values)).map_err(classify_sqlite)?;
        Ok(())
    })?;
    // Keep AUTOINCREMENT's high-water mark so ids of deleted rows are never reused.
    let sequence: Option<i64> =
        tx.query_row("SELECT seq FROM sqlite_sequence WHERE name = ?", [&plan.before.name], |r| r.get(0)).optional()?;
    tx.execute(&table_queries::drop_table(&plan.before.name), [])?;
    tx.execute(&table_queries::rename_table(&temp, &plan.after.name), [])?;
    if let Some(sequence) = sequence {
        tx.execute("DELETE FROM sqlite_sequence WHERE name = ?", [&plan.after.name])?;
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
            rusqlite::params![plan.after.name, sequence],
        )?;
    }
    Ok(())
}
