//! One transaction around many store calls: [`crate::Store::atomic`] runs a piece of work
//! (a GraphQL mutation request) so that every store call it makes on its task joins one
//! transaction, committed only if the work says so.
//!
//! The scope travels as a task-local, so the services keep calling the store as they
//! always do. On SQLite the writer thread runs a job that holds the transaction open and
//! executes the scope's calls (reads included, so they see the scope's writes) as they
//! arrive; on Postgres one pooled connection holds the transaction and every call uses it.
//! Each call runs in a savepoint of its own, so a refused call (a missing reference, a
//! unique value) leaves the transaction usable for the lookups that name the culprit.

use crate::StoreError;
use deadpool_postgres::Object;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Work to run once the transaction has committed (deleting stored files).
pub type AfterCommit = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A call the SQLite writer runs inside the scope's transaction.
pub(crate) type SqliteCall = Box<dyn FnOnce(&rusqlite::Connection) + Send>;

pub(crate) enum SqliteMessage {
    Run(SqliteCall),
    /// End the transaction: commit (`true`) or roll back.
    Finish(bool),
}

/// Where the scope's transaction lives.
pub(crate) enum Connection {
    Sqlite(std::sync::mpsc::Sender<SqliteMessage>),
    Postgres(Arc<tokio::sync::Mutex<Object>>),
}

pub(crate) struct Scope {
    pub connection: Connection,
    after_commit: Mutex<Vec<AfterCommit>>,
}

impl Scope {
    pub fn new(connection: Connection) -> Arc<Scope> {
        Arc::new(Scope { connection, after_commit: Mutex::new(Vec::new()) })
    }

    pub fn take_after_commit(&self) -> Vec<AfterCommit> {
        std::mem::take(&mut *self.after_commit.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// The scope the current task runs in, if any.
pub(crate) fn current() -> Option<Arc<Scope>> {
    SCOPE.try_with(Arc::clone).ok()
}

/// Runs `work` inside `scope`.
pub(crate) async fn within<T>(scope: Arc<Scope>, work: impl Future<Output = T>) -> T {
    SCOPE.scope(scope, work).await
}

/// Keeps `job` for after the commit when inside a scope; otherwise hands it back to run now.
pub(crate) fn defer(job: AfterCommit) -> Option<AfterCommit> {
    match current() {
        Some(scope) => {
            scope.after_commit.lock().unwrap_or_else(|e| e.into_inner()).push(job);
            None
        }
        None => Some(job),
    }
}

/// The Postgres connection of the current scope.
pub(crate) fn postgres_connection() -> Option<Arc<tokio::sync::Mutex<Object>>> {
    current().and_then(|scope| match &scope.connection {
        Connection::Postgres(client) => Some(client.clone()),
        Connection::Sqlite(_) => None,
    })
}

/// Runs one SQLite call inside the scope's transaction, if the task is in one; otherwise
/// gives the call back.
pub(crate) async fn sqlite_call<T: Send + 'static, W>(work: W, savepoint: bool) -> Result<Result<T, StoreError>, W>
where
    W: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
{
    let Some(scope) = current() else { return Err(work) };
    let Connection::Sqlite(sender) = &scope.connection else { return Err(work) };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let call: SqliteCall = Box::new(move |conn| {
        let result =
            if savepoint { crate::sqlite::in_savepoint(conn, work) } else { crate::sqlite::run_guarded(conn, work) };
        let _ = reply.send(result);
    });
    if sender.send(SqliteMessage::Run(call)).is_err() {
        return Ok(Err(StoreError::Pool("the transaction of this request has ended".into())));
    }
    Ok(answer.await.unwrap_or_else(|_| Err(StoreError::Pool("the transaction of this request has ended".into()))))
}

/// Rolls a Postgres scope's transaction back if the work is dropped before it finished
/// (a client that went away), so the connection returns to the pool clean.
pub(crate) struct RollbackOnDrop(pub Option<Arc<tokio::sync::Mutex<Object>>>);

impl Drop for RollbackOnDrop {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            tokio::spawn(async move {
                if let Err(e) = client.lock().await.batch_execute("ROLLBACK").await {
                    tracing::warn!("rolling back an abandoned transaction failed: {e}");
                }
            });
        }
    }
}
