//! Errors of the services; each variant is one kind of answer (the HTTP layer maps them
//! to statuses in one place).

use tessera_query::filter::FilterError;
use tessera_query::sort::SortError;
use tessera_schema::plan::PlanError;
use tessera_schema::validate::FieldError;
use tessera_schema::{FieldsError, IdentError};
use tessera_store::{FailingRow, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoreError {
    #[error("table '{0}' does not exist")]
    TableNotFound(String),
    #[error("{table} row {id} does not exist")]
    RowNotFound { table: String, id: String },
    #[error("a table named '{0}' already exists")]
    TableExists(String),
    #[error(transparent)]
    InvalidName(#[from] IdentError),
    #[error(transparent)]
    InvalidFields(#[from] FieldsError),
    #[error(transparent)]
    InvalidPlan(#[from] PlanError),
    /// Field errors of a row; `row_index` is set for bulk writes.
    #[error("{}", invalid_row_message(.errors, *.row_index))]
    InvalidRow { errors: Vec<FieldError>, row_index: Option<usize> },
    #[error("invalid filter: {0}")]
    InvalidFilter(#[from] FilterError),
    #[error("invalid sort: {0}")]
    InvalidSort(#[from] SortError),
    /// A body (or one NDJSON line of it) that is not valid JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// A malformed request parameter or body, with what is wrong.
    #[error("{message}")]
    BadRequest { parameter: String, message: String },
    #[error("field '{field}' must be unique: the value is already used by another row")]
    Duplicate { field: String, row_index: Option<usize> },
    #[error("{failing} row(s) cannot be converted to the new schema; nothing was changed")]
    MigrationRefused { failing: u64, rows: Vec<FailingRow> },
    #[error("table '{0}' was changed by another request meanwhile; reload it and retry")]
    Stale(String),
    /// No credentials, for something that needs them (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Credentials that do not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// A bearer token that is malformed, forged, expired or revoked (401).
    #[error("{0}")]
    InvalidToken(String),
    /// Login with a wrong identity or password; one message for both (401).
    #[error("invalid identity or password")]
    InvalidCredentials,
    #[error("the refresh token is invalid, expired or already used")]
    InvalidRefreshToken,
    #[error("{0}")]
    InvalidPassword(String),
    #[error("invalid rules: {0}")]
    InvalidRules(String),
    /// Too many attempts; retry after this many seconds (429).
    #[error("too many attempts; retry in {retry_after} seconds")]
    RateLimited { retry_after: i64 },
    /// Something else that does not exist (an API token).
    #[error("{0}")]
    NotFound(String),
    /// A row others still point at through a relation with `on_delete: restrict` (409).
    #[error("{table} row {id} is still referenced by {}; delete or re-link those rows first", describe_referrers(.by))]
    Referenced { table: String, id: String, by: Vec<Referrer> },
    /// A table others point at through relations (409).
    #[error("table '{table}' is the target of {}; drop or change those fields first", .by.join(", "))]
    TableReferenced { table: String, by: Vec<String> },
    /// A relation field whose target is not a table, or a change relations cannot take.
    #[error("{0}")]
    InvalidRelation(String),
    /// An upload larger than its field's `max_size` (413).
    #[error("field '{field}': the file is larger than the field's max_size of {max} bytes")]
    FileTooLarge { field: String, max: u64 },
    /// A request body larger than the server takes for uploads (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// An upload whose detected type the field's `mime_types` does not allow (415).
    #[error("field '{field}': files of type '{detected}' are not allowed (allowed: {})", .allowed.join(", "))]
    FileTypeRefused { field: String, detected: String, allowed: Vec<String> },
    /// A write naming a file the row does not hold and the request did not upload.
    #[error("field '{field}': '{name}' is not a file of this row; upload files with a multipart/form-data request")]
    UnknownFile { field: String, name: String },
    #[error("file uploads are not configured on this server")]
    FilesNotConfigured,
    #[error(transparent)]
    File(#[from] tessera_files::FileError),
    #[error("internal error: {0}")]
    Internal(StoreError),
}

/// Rows of one relation that point at a row — or, with `via`, at rows of that table the
/// delete would remove through `cascade` relations.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Referrer {
    pub table: String,
    pub field: String,
    pub rows: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

fn describe_referrers(by: &[Referrer]) -> String {
    if by.is_empty() {
        return "rows of other tables".into();
    }
    let parts: Vec<String> = by
        .iter()
        .map(|r| match &r.via {
            None => format!("{} row(s) of '{}' (field '{}')", r.rows, r.table, r.field),
            Some(via) => format!(
                "{} row(s) of '{}' (field '{}', pointing at '{via}' rows the delete would cascade to)",
                r.rows, r.table, r.field
            ),
        })
        .collect();
    parts.join(", ")
}

fn invalid_row_message(errors: &[FieldError], row_index: Option<usize>) -> String {
    let first = errors.first().map_or_else(String::new, |e| {
        if e.field.is_empty() {
            e.message.clone()
        } else {
            format!("field '{}': {}", e.field, e.message)
        }
    });
    let more = if errors.len() > 1 { format!(" (and {} more)", errors.len() - 1) } else { String::new() };
    match row_index {
        Some(index) => format!("row {index} is invalid: {first}{more}"),
        None => format!("invalid row: {first}{more}"),
    }
}

impl CoreError {
    pub fn bad_request(parameter: &str, message: impl Into<String>) -> CoreError {
        CoreError::BadRequest { parameter: parameter.to_string(), message: message.into() }
    }
}

impl From<StoreError> for CoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TableNotFound(name) => CoreError::TableNotFound(name),
            StoreError::TableExists(name) => CoreError::TableExists(name),
            StoreError::RowNotFound { table, id } => CoreError::RowNotFound { table, id: id.to_string() },
            StoreError::Duplicate { field, row_index } => CoreError::Duplicate { field, row_index },
            StoreError::MigrationRefused { failing, rows } => CoreError::MigrationRefused { failing, rows },
            StoreError::Stale(name) => CoreError::Stale(name),
            StoreError::MissingReference { field, target, id, row_index } => CoreError::InvalidRow {
                errors: vec![FieldError {
                    field,
                    code: "missing_reference",
                    message: format!("refers to row {id} of table '{target}', which does not exist"),
                }],
                row_index,
            },
            other => CoreError::Internal(other),
        }
    }
}
