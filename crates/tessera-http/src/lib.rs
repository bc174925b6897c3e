//! tessera's HTTP surface. Handlers only adapt: extract, call one `tessera_core`
//! function, map the result; errors become HTTP in `error.rs` alone.

pub mod error;
pub mod extract;
pub mod form;
pub mod openapi;
pub mod routes;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use error::ApiError;
use std::future::Future;
use tessera_core::App;
use tokio::net::TcpListener;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from a browser (`*` for any). Empty: no
    /// cross-origin access, the safe default.
    pub cors_origins: Vec<String>,
    /// Largest multipart (file upload) request; larger ones get 413 while streaming.
    pub max_upload_bytes: u64,
    /// Limits of GraphQL queries, and whether introspection is on.
    pub graphql: tessera_graphql::Limits,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 32 * 1024 * 1024,
            cors_origins: Vec::new(),
            max_upload_bytes: 256 * 1024 * 1024,
            graphql: tessera_graphql::Limits::default(),
        }
    }
}

/// The CORS layer for the configured origins, if any. Credentials travel in the
/// `Authorization` header, never cookies, so no `Allow-Credentials` is needed.
fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, Any, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| axum::http::HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods(Any)
            .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE])
            .expose_headers([axum::http::header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The whole application as a plain router (tests serve it on port 0).
pub fn router(app: App, config: &HttpConfig) -> Router {
    let graphql = std::sync::Arc::new(tessera_graphql::GraphqlService::new(
        app.clone(),
        config.graphql.clone(),
        routes::graphql::map_error,
    ));
    Router::new()
        .merge(routes::auth::router())
        .merge(routes::tables::router())
        .merge(routes::rows::router())
        .merge(routes::files::router())
        .merge(routes::legacy::router())
        .merge(routes::docs::router())
        .merge(routes::graphql::router())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not support that method",
            )
        })
        .with_state(app)
        .merge(routes::docs::swagger_ui())
        .layer(axum::Extension(graphql))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::Extension(form::FormLimits {
            max_upload_bytes: config.max_upload_bytes,
            max_text_bytes: config.max_body_bytes,
        }))
        .layer(tower::util::option_layer(cors_layer(&config.cors_origins)))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
