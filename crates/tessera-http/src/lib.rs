//! tessera's HTTP surface. Handlers only adapt: extract, call one `tessera_core`
//! function, map the result; errors become HTTP in `error.rs` alone.

pub mod error;
pub mod extract;
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
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { max_body_bytes: 32 * 1024 * 1024 }
    }
}

/// The whole application as a plain router (tests serve it on port 0).
pub fn router(app: App, config: &HttpConfig) -> Router {
    Router::new()
        .merge(routes::tables::router())
        .merge(routes::rows::router())
        .merge(routes::legacy::router())
        .merge(routes::docs::router())
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
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
