//! `/api/tables`: create, list, show, migrate (PUT/PATCH, with dry runs), drop, history.

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth, DryRun, JsonBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_core::auth::Caller;
use tessera_core::tables::{CreateTable, ReplaceTable};
use tessera_core::App;
use tessera_schema::plan::TablePatch;
use tessera_schema::TableSchema;

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/tables", get(list_tables).post(create_table))
        .route("/api/tables/{table}", get(show_table).put(replace_table).patch(patch_table).delete(drop_table))
        .route("/api/tables/{table}/history", get(history))
}

/// Deserializes a request body into `T`, answering 400 with serde's explanation.
pub fn from_body<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("invalid request body: {e}")))
}

/// A schema as a caller sees it: rules only for admins, who alone may read and change them.
pub fn schema_json(schema: &TableSchema, caller: &Caller) -> Value {
    let mut value = json!(schema);
    if !caller.is_admin() {
        if let Some(map) = value.as_object_mut() {
            map.remove("rules");
        }
    }
    value
}

async fn list_tables(State(app): State<App>, Auth(caller): Auth) -> Json<Value> {
    let tables: Vec<Value> = app.catalog().tables().iter().map(|t| schema_json(&t.schema, &caller)).collect();
    Json(json!({ "items": tables }))
}

async fn create_table(
    State(app): State<App>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let schema = app.create_table(from_body::<CreateTable>(body)?, &caller).await?;
    Ok((StatusCode::CREATED, Json(schema_json(&schema, &caller))).into_response())
}

async fn show_table(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(schema_json(&app.table(&table)?.schema, &caller)))
}

async fn replace_table(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
    ApiQuery(dry_run): ApiQuery<DryRun>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    app.table(&table)?; // an unknown table is a 404 whatever the body says
    let report = app.replace_table(&table, from_body::<ReplaceTable>(body)?, dry_run.enabled()?, &caller).await?;
    Ok(Json(json!(report)))
}

async fn patch_table(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
    ApiQuery(dry_run): ApiQuery<DryRun>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    app.table(&table)?; // an unknown table is a 404 whatever the body says
    let report = app.patch_table(&table, from_body::<TablePatch>(body)?, dry_run.enabled()?, &caller).await?;
    Ok(Json(json!(report)))
}

async fn drop_table(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.drop_table(&table, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn history(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": app.table_history(&table, &caller).await? })))
}
