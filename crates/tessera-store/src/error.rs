//! Errors of the store, typed so the HTTP layer can map each to a status in one place.

use serde::Serialize;
use thiserror::Error;

/// A row that failed a migration check: its id and the offending value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailingRow {
    pub id: i64,
    pub field: String,
    pub value: serde_json::Value,
    pub reason: String,
}

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("table '{0}' does not exist")]
    TableNotFound(String),
    #[error("a table named '{0}' already exists")]
    TableExists(String),
    #[error("{table} row {id} does not exist")]
    RowNotFound { table: String, id: i64 },
    /// A unique field already holds this value.
    #[error("field '{field}' must be unique: the value is already used by another row")]
    Duplicate { field: String, row_index: Option<usize> },
    /// A value the database refused although validation let it through.
    #[error("field '{field}' was refused by the database: {message}")]
    Constraint { field: String, message: String },
    /// The database refused a link: a referenced row is missing, or a referenced row
    /// cannot be deleted (`restrict`). Narrowed down to the next two by the store.
    #[error("a link between rows was refused")]
    ForeignKey { row_index: Option<usize> },
    /// A relation names a row that does not exist.
    #[error("field '{field}' refers to row {id} of table '{target}', which does not exist")]
    MissingReference { field: String, target: String, id: i64, row_index: Option<usize> },
    /// The row is still referenced by rows of other tables whose relation restricts deletes.
    #[error("the row is still referenced")]
    Referenced,
    /// A migration was refused because existing data does not convert.
    #[error("{failing} row(s) cannot be migrated")]
    MigrationRefused { failing: u64, rows: Vec<FailingRow> },
    /// The schema changed under the request (another writer won).
    /// The table changed under the request (another writer won, or a statement was built
    /// from a catalog snapshot a migration replaced).
    #[error("table '{0}' was changed by another request; retry with the current schema")]
    Stale(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("database pool error: {0}")]
    Pool(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The server's own message and detail (the driver's Display says only "db error").
fn postgres_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} {} ({})", db.message(), db.detail().unwrap_or_default(), db.code().code()),
        None => error.to_string(),
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Pool(e.to_string())
    }
}

impl StoreError {
    /// Attaches the index of the bulk-insert row that caused the error.
    pub fn at_row(self, index: usize) -> StoreError {
        match self {
            StoreError::Duplicate { field, .. } => StoreError::Duplicate { field, row_index: Some(index) },
            StoreError::ForeignKey { .. } => StoreError::ForeignKey { row_index: Some(index) },
            other => other,
        }
    }
}

/// Maps a database unique-constraint error to [`StoreError::Duplicate`] naming the field.
pub(crate) fn classify_sqlite(error: rusqlite::Error) -> StoreError {
    // A statement built from a catalog snapshot that a concurrent migration replaced.
    let message = error.to_string();
    if message.starts_with("no such column")
        || message.starts_with("no such table")
        || message.contains("has no column named")
    {
        return StoreError::Stale(String::new());
    }
    if let rusqlite::Error::SqliteFailure(code, Some(message)) = &error {
        if code.code == rusqlite::ErrorCode::ConstraintViolation {
            // "UNIQUE constraint failed: table.column"
            if let Some(rest) = message.strip_prefix("UNIQUE constraint failed: ") {
                let field = rest.split(',').next().unwrap_or(rest);
                let field = field.rsplit('.').next().unwrap_or(field).trim().to_string();
                return StoreError::Duplicate { field, row_index: None };
            }
            if message.starts_with("FOREIGN KEY constraint failed") {
                return StoreError::ForeignKey { row_index: None };
            }
            return StoreError::Constraint { field: String::new(), message: message.clone() };
        }
    }
    StoreError::Sqlite(error)
}

/// Maps a Postgres unique-violation to [`StoreError::Duplicate`] naming the field.
pub(crate) fn classify_postgres(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        // A statement built from a catalog snapshot that a concurrent migration replaced.
        if db.code() == &tokio_postgres::error::SqlState::UNDEFINED_COLUMN
            || db.code() == &tokio_postgres::error::SqlState::UNDEFINED_TABLE
        {
            return StoreError::Stale(String::new());
        }
        if db.code() == &tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION {
            return StoreError::ForeignKey { row_index: None };
        }
        if db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION {
            // detail: Key (email)=(a@b.c) already exists.
            let field = db
                .detail()
                .and_then(|d| d.strip_prefix("Key ("))
                .and_then(|d| d.split(")=").next())
                .unwrap_or_default()
                .trim_matches('"')
                .to_string();
            return StoreError::Duplicate { field, row_index: None };
        }
        if db.code() == &tokio_postgres::error::SqlState::NOT_NULL_VIOLATION
            || db.code() == &tokio_postgres::error::SqlState::NUMERIC_VALUE_OUT_OF_RANGE
        {
            return StoreError::Constraint {
                field: db.column().unwrap_or_default().to_string(),
                message: db.message().to_string(),
            };
        }
    }
    StoreError::Postgres(error)
}
