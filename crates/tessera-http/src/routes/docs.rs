//! `/health`, `/api/openapi.json` and Swagger UI at `/docs` (assets compiled into the
//! binary by the `swagger-ui-dist` crate; nothing is fetched from a CDN).

use crate::error::ApiError;
use crate::openapi;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use swagger_ui_dist::{ApiDefinition, OpenApiSource};
use tessera_core::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/health", get(health))
        .route("/api/openapi.json", get(openapi_document))
        .route("/docs", get(swagger_index))
        .route("/docs/", get(swagger_index))
}

/// Swagger UI's assets, from the `swagger-ui-dist` crate, under `/docs/assets/` (the
/// crate's own index pages there are unused: ours below links the assets absolutely, so
/// `/docs` and `/docs/` both work).
pub fn swagger_ui() -> Router {
    swagger_ui_dist::generate_routes(ApiDefinition {
        uri_prefix: "/docs/assets",
        api_definition: OpenApiSource::Uri("/api/openapi.json"),
        title: Some("tessera API"),
    })
}

async fn swagger_index() -> Html<&'static str> {
    Html(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>tessera API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css" />
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
  window.onload = () => {
    window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
  };
</script>
</body>
</html>
"##,
    )
}

async fn health(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    match app.store().ping().await {
        Ok(()) => Ok(Json(json!({"status": "ok", "store": format!("{:?}", app.store().dialect()).to_lowercase()}))),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("the store does not answer: {e}"),
        )),
    }
}

async fn openapi_document(State(app): State<App>) -> Json<Value> {
    Json(openapi::document(&app.catalog()))
}
