//! The one place errors become HTTP answers: `{"error": {"code", "message", "details"}}`.
//! Client errors say what is wrong and name the field, row or position; anything else is
//! an opaque 500 carrying a request id that is logged with the real cause.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value as Json};
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_core::CoreError;
use tessera_schema::plan::PlanError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Json>,
    /// Extra members of the error object (e.g. `failing_rows`).
    pub extra: Option<Box<(&'static str, Json)>>,
    /// A header the answer needs (`Retry-After`, `WWW-Authenticate`).
    pub header: Option<Box<(axum::http::HeaderName, String)>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: Vec::new(), extra: None, header: None }
    }

    pub fn with_header(mut self, name: axum::http::HeaderName, value: String) -> ApiError {
        self.header = Some(Box::new((name, value)));
        self
    }

    pub fn with_details(mut self, details: Vec<Json>) -> ApiError {
        self.details = details;
        self
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message, "details": self.details});
        if let Some(extra) = self.extra {
            let (key, value) = *extra;
            error[key] = value;
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if let Some((name, value)) = self.header.map(|header| *header) {
            if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> ApiError {
        let message = error.to_string();
        match error {
            CoreError::TableNotFound(name) => ApiError::new(StatusCode::NOT_FOUND, "table_not_found", message)
                .with_details(vec![json!({"table": name})]),
            CoreError::RowNotFound { table, id } => ApiError::new(StatusCode::NOT_FOUND, "row_not_found", message)
                .with_details(vec![json!({"table": table, "id": id})]),
            CoreError::TableExists(name) => {
                ApiError::new(StatusCode::CONFLICT, "table_exists", message).with_details(vec![json!({"table": name})])
            }
            CoreError::InvalidJson(_) => ApiError::bad_request("invalid_json", message),
            CoreError::InvalidName(_) => ApiError::bad_request("invalid_name", message),
            CoreError::InvalidFields(e) => {
                ApiError::bad_request("invalid_fields", message).with_details(field_detail(e.field()))
            }
            CoreError::InvalidPlan(e) => plan_error(e, message),
            CoreError::InvalidRow { errors, row_index } => ApiError::bad_request("validation_failed", message)
                .with_details(
                    errors
                        .iter()
                        .map(|e| {
                            let mut detail = json!({"field": e.field, "code": e.code, "message": e.message});
                            if let Some(index) = row_index {
                                detail["row"] = json!(index);
                            }
                            detail
                        })
                        .collect(),
                ),
            CoreError::InvalidFilter(e) => ApiError::bad_request("invalid_filter", message)
                .with_details(vec![json!({"parameter": "filter", "position": e.position, "message": e.message})]),
            CoreError::InvalidSort(_) => {
                ApiError::bad_request("invalid_sort", message).with_details(vec![json!({"parameter": "sort"})])
            }
            CoreError::BadRequest { parameter, .. } => {
                ApiError::bad_request("bad_request", message).with_details(vec![json!({"parameter": parameter})])
            }
            CoreError::Duplicate { field, row_index } => {
                let mut detail = json!({"field": field, "code": "unique"});
                if let Some(index) = row_index {
                    detail["row"] = json!(index);
                }
                ApiError::new(StatusCode::CONFLICT, "duplicate_value", message).with_details(vec![detail])
            }
            CoreError::MigrationRefused { failing, rows } => {
                let mut error = ApiError::new(StatusCode::CONFLICT, "migration_refused", message)
                    .with_details(rows.iter().map(|r| json!(r)).collect());
                error.extra = Some(Box::new(("failing_rows", json!(failing))));
                error
            }
            CoreError::Stale(_) => ApiError::new(StatusCode::CONFLICT, "schema_changed", message),
            CoreError::Referenced { by, .. } => ApiError::new(StatusCode::CONFLICT, "row_referenced", message)
                .with_details(by.iter().map(|r| json!(r)).collect()),
            CoreError::TableReferenced { by, .. } => ApiError::new(StatusCode::CONFLICT, "table_referenced", message)
                .with_details(by.iter().map(|field| json!({"field": field})).collect()),
            CoreError::InvalidRelation(_) => ApiError::bad_request("invalid_relation", message),
            CoreError::Unauthenticated(_) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
                .with_header(header::WWW_AUTHENTICATE, "Bearer".into()),
            CoreError::InvalidToken(_) => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
                .with_header(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"".into()),
            CoreError::InvalidCredentials => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message),
            CoreError::InvalidRefreshToken => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_refresh_token", message),
            CoreError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            CoreError::InvalidPassword(_) => {
                ApiError::bad_request("invalid_password", message).with_details(vec![json!({"field": "password"})])
            }
            CoreError::InvalidRules(_) => ApiError::bad_request("invalid_rules", message),
            CoreError::RateLimited { retry_after } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
                    .with_header(header::RETRY_AFTER, retry_after.to_string())
            }
            CoreError::NotFound(_) => ApiError::not_found(message),
            CoreError::FileTooLarge { field, max } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", message)
                    .with_details(vec![json!({"field": field, "max_size": max})])
            }
            CoreError::PayloadTooLarge(_) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message),
            CoreError::FileTypeRefused { field, detected, allowed } => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "file_type_not_allowed", message)
                    .with_details(vec![json!({"field": field, "detected": detected, "allowed": allowed})])
            }
            CoreError::UnknownFile { field, name } => {
                ApiError::bad_request("unknown_file", message).with_details(vec![json!({"field": field, "name": name})])
            }
            CoreError::File(tessera_files::FileError::Missing(_)) => ApiError::not_found("file not found"),
            CoreError::File(cause) => internal(&cause),
            CoreError::FilesNotConfigured => internal(&message),
            CoreError::Internal(cause) => internal(&cause),
        }
    }
}

fn field_detail(field: Option<&str>) -> Vec<Json> {
    field.map(|f| vec![json!({"field": f})]).unwrap_or_default()
}

fn plan_error(error: PlanError, message: String) -> ApiError {
    let details = field_detail(error.field());
    let (status, code) = match error {
        PlanError::FieldExists(_) => (StatusCode::CONFLICT, "field_exists"),
        PlanError::Refused { .. } => (StatusCode::BAD_REQUEST, "conversion_refused"),
        PlanError::UnknownField(_) => (StatusCode::BAD_REQUEST, "unknown_field"),
        PlanError::Managed(_) => (StatusCode::FORBIDDEN, "managed_field"),
        PlanError::BadRules(_) => (StatusCode::BAD_REQUEST, "invalid_rules"),
        _ => (StatusCode::BAD_REQUEST, "invalid_schema_change"),
    };
    ApiError::new(status, code, message).with_details(details)
}

/// An opaque 500; the cause is logged with the request id the client sees.
pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
    let request_id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    tracing::error!(request_id, "internal error: {cause}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("internal error (request id {request_id}); the server log has the cause"),
    )
}
