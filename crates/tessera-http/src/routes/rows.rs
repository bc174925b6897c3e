//! `/api/tables/{table}/rows`: create (one, array or NDJSON), list, get, update, replace,
//! delete.

use super::raw_json;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody, RowsBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tessera_core::{App, GetParams, ListParams, WriteResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/tables/{table}/rows", get(list_rows).post(create_rows))
        .route("/api/tables/{table}/rows/{id}", get(get_row).patch(update_row).put(replace_row).delete(delete_row))
}

/// The answer to a create: the row, or `{"created": n, "ids": [...]}` for a bulk create.
pub fn created(result: WriteResult) -> Response {
    match result {
        WriteResult::One(row) => raw_json(StatusCode::CREATED, row),
        WriteResult::Many { ids } => {
            raw_json(StatusCode::CREATED, json!({"created": ids.len(), "ids": ids}).to_string())
        }
    }
}

pub(crate) async fn create_rows(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
    body: RowsBody,
) -> Result<Response, ApiError> {
    Ok(created({
        let single = body.is_single();
        app.create_rows(&table, body.into_rows(), single, &caller).await?
    }))
}

async fn list_rows(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    Ok(raw_json(StatusCode::OK, app.list_rows(&table, &params, &caller).await?.to_json_text()))
}

async fn get_row(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath((table, id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<GetParams>,
) -> Result<Response, ApiError> {
    Ok(raw_json(StatusCode::OK, app.get_row(&table, &id, &params, &caller).await?))
}

async fn update_row(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath((table, id)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    Ok(raw_json(StatusCode::OK, app.update_row(&table, &id, &body, false, &caller).await?))
}

async fn replace_row(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath((table, id)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    Ok(raw_json(StatusCode::OK, app.update_row(&table, &id, &body, true, &caller).await?))
}

async fn delete_row(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath((table, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.delete_row(&table, &id, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
