//! `/api/tables/{table}/rows`: create (one, array or NDJSON), list, get, update, replace,
//! delete.

use super::raw_json;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody, RowsBody};
use crate::form::{read_form, Form, FormLimits};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Extension;
use axum::Router;
use serde_json::json;
use tessera_core::{App, GetParams, ListParams, WriteResult};
use tessera_schema::Action;

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
    Extension(limits): Extension<FormLimits>,
    body: Form<RowsBody>,
) -> Result<Response, ApiError> {
    let body = match body {
        Form::Json(body) => body,
        Form::Multipart(request) => {
            let (body, uploads) = read_form(&app, &table, Action::Create, &caller, *request, limits).await?;
            return Ok(raw_json(StatusCode::CREATED, app.create_row_with_files(body, uploads, &caller).await?));
        }
    };
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
    Extension(limits): Extension<FormLimits>,
    body: Form<JsonBody>,
) -> Result<Response, ApiError> {
    write_row(app, caller, table, id, limits, body, false).await
}

async fn replace_row(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath((table, id)): ApiPath<(String, String)>,
    Extension(limits): Extension<FormLimits>,
    body: Form<JsonBody>,
) -> Result<Response, ApiError> {
    write_row(app, caller, table, id, limits, body, true).await
}

/// PATCH (`replace` false) or PUT of one row, from JSON or from a form with files.
async fn write_row(
    app: App,
    caller: tessera_core::auth::Caller,
    table: String,
    id: String,
    limits: FormLimits,
    body: Form<JsonBody>,
    replace: bool,
) -> Result<Response, ApiError> {
    let row = match body {
        Form::Json(JsonBody(body)) => app.update_row(&table, &id, &body, replace, &caller).await?,
        Form::Multipart(request) => {
            let (body, uploads) = read_form(&app, &table, Action::Update, &caller, *request, limits).await?;
            app.update_row_with_files(&id, body, replace, uploads, &caller).await?
        }
    };
    Ok(raw_json(StatusCode::OK, row))
}

async fn delete_row(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath((table, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.delete_row(&table, &id, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
