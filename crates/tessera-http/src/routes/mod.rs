//! Route groups; each module's `router()` sits beside its handlers.

pub mod auth;
pub mod docs;
pub mod files;
pub mod graphiql;
pub mod graphql;
pub mod legacy;
pub mod rows;
pub mod tables;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A JSON answer whose text was already built (rows come from the database as JSON).
pub fn raw_json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
