//! The calls of the service tessera grew from, kept working exactly as its users wrote
//! them: trailing slashes, `{"name", "fields"}` bodies, and field types in short form.
//!
//! | call | answer |
//! |---|---|
//! | `POST /api/table/` | 201 `{"id", "name", "fields": {...}}` |
//! | `PUT /api/table/{id}/` | 200 `{"id", "name", "schema": {...}}` |
//! | `POST /api/table/{id}/row/` | 201 the row |
//! | `GET /api/table/{id}/rows/` | 200 a JSON array of rows |

use super::raw_json;
use super::tables::from_body;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tessera_core::tables::{CreateTable, ReplaceTable};
use tessera_core::{App, ListParams};
use tessera_schema::{FieldDef, TableSchema};

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/table/", post(create_table))
        .route("/api/table/{table}/", put(replace_table))
        .route("/api/table/{table}/row/", post(super::rows::create_rows))
        .route("/api/table/{table}/rows/", get(list_rows))
}

/// Fields in the short form where a field has no options (`"age": "integer"`); the
/// fields tessera manages (`owner`) are not the client's and are left out.
fn short_fields(schema: &TableSchema) -> Value {
    let fields: Map<String, Value> = schema
        .fields
        .iter()
        .filter(|(_, def)| !def.system)
        .map(|(name, def)| {
            let short = *def == FieldDef::new(def.field_type);
            (name.clone(), if short { json!(def.field_type.name()) } else { json!(def) })
        })
        .collect();
    Value::Object(fields)
}

async fn create_table(
    State(app): State<App>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let schema = app.create_table(from_body::<CreateTable>(body)?, &caller).await?;
    let answer =
        json!({"id": schema.id, "name": schema.name, "fields": short_fields(&schema), "version": schema.version});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn replace_table(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let report = app.replace_table(&table, from_body::<ReplaceTable>(body)?, false, &caller).await?;
    let schema = &report.schema;
    Ok(Json(json!({"id": schema.id, "name": schema.name, "schema": short_fields(schema), "version": schema.version})))
}

async fn list_rows(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(table): ApiPath<String>,
    ApiQuery(mut params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    // The original answered every row; keep that up to the largest page.
    params.limit.get_or_insert_with(|| tessera_core::rows::MAX_LIMIT.to_string());
    Ok(raw_json(StatusCode::OK, app.list_rows(&table, &params, &caller).await?.items_json_array()))
}
