//! `/graphql`: GraphQL over HTTP (POST JSON; GET for queries), the in-browser IDE, and
//! the schema as SDL. Execution lives in `tessera-graphql`; this only adapts.

use super::graphiql;
use crate::error::ApiError;
use crate::extract::{Auth, ClientAddress, JsonBody};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use std::sync::Arc;
use tessera_core::{App, CoreError};
use tessera_graphql::{GraphqlService, MappedError};

pub fn router() -> Router<App> {
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/graphql/schema.graphql", get(sdl))
        .merge(graphiql::router())
}

/// Service errors read the same in GraphQL (`extensions.code`) as in REST.
pub fn map_error(error: CoreError) -> MappedError {
    let api = ApiError::from(error);
    MappedError { code: api.code.to_string(), message: api.message, details: api.details }
}

fn answer(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn post_graphql(
    State(_app): State<App>,
    Extension(service): Extension<Arc<GraphqlService>>,
    Auth(caller): Auth,
    ClientAddress(address): ClientAddress,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    if !body.get("query").is_some_and(serde_json::Value::is_string) {
        return Err(ApiError::bad_request(
            "invalid_graphql_request",
            "a GraphQL request is a JSON object with a 'query' string (and optional 'variables', 'operationName')",
        ));
    }
    let request: async_graphql::Request = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_graphql_request",
            format!("a GraphQL request is {{query, variables, operationName}}: {e}"),
        )
    })?;
    Ok(answer(service.execute(request, caller, address).await))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetRequest {
    query: Option<String>,
    variables: Option<String>,
    operation_name: Option<String>,
}

/// The IDE for browsers; a query from the URL for other clients (never a mutation: GET
/// must not change anything).
async fn get_graphql(
    State(_app): State<App>,
    headers: HeaderMap,
    Extension(service): Extension<Arc<GraphqlService>>,
    Auth(caller): Auth,
    ClientAddress(address): ClientAddress,
    Query(params): Query<GetRequest>,
) -> Result<Response, ApiError> {
    let wants_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    let Some(query) = params.query else {
        if wants_html {
            return Ok(graphiql::page());
        }
        return Err(ApiError::bad_request("invalid_graphql_request", "GET /graphql needs a 'query' parameter"));
    };
    if tessera_graphql::is_mutation(&query, params.operation_name.as_deref()) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "mutations are sent with POST",
        ));
    }
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        let variables: serde_json::Value = serde_json::from_str(&variables)
            .map_err(|e| ApiError::bad_request("invalid_graphql_request", format!("'variables' is not JSON: {e}")))?;
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    Ok(answer(service.execute(request, caller, address).await))
}

async fn sdl(Extension(service): Extension<Arc<GraphqlService>>) -> Result<Response, ApiError> {
    let sdl = service.sdl().map_err(|e| crate::error::internal(&e))?;
    let sdl = sdl.ok_or_else(|| ApiError::not_found("the GraphQL schema is not published: introspection is off"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], sdl).into_response())
}
