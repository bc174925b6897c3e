//! `/api/auth`: register, login, refresh, logout, me, and API tokens.

use super::raw_json;
use super::tables::from_body;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth, ClientAddress, JsonBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_core::auth::NewApiTokenRequest;
use tessera_core::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
        .route("/api/auth/tokens", get(list_tokens).post(create_token))
        .route("/api/auth/tokens/{id}", delete(revoke_token))
}

/// `{identity, password}`; `email` or `username` may stand for `identity`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    #[serde(alias = "email", alias = "username")]
    identity: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokenListQuery {
    #[serde(default)]
    all: Option<bool>,
}

async fn register(State(app): State<App>, Auth(caller): Auth, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    Ok(raw_json(StatusCode::CREATED, app.register(body, &caller).await?))
}

async fn login(
    State(app): State<App>,
    ClientAddress(address): ClientAddress,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let request = from_body::<LoginRequest>(body)?;
    Ok(Json(json!(app.login(&request.identity, &request.password, &address).await?)))
}

async fn refresh(State(app): State<App>, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    let request = from_body::<RefreshRequest>(body)?;
    Ok(Json(json!(app.refresh(&request.refresh_token).await?)))
}

async fn logout(State(app): State<App>, JsonBody(body): JsonBody) -> Result<StatusCode, ApiError> {
    let request = from_body::<RefreshRequest>(body)?;
    app.logout(&request.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(app): State<App>, Auth(caller): Auth) -> Result<Response, ApiError> {
    Ok(raw_json(StatusCode::OK, app.me(&caller).await?))
}

async fn create_token(
    State(app): State<App>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let created = app.create_api_token(from_body::<NewApiTokenRequest>(body)?, &caller).await?;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

async fn list_tokens(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiQuery(query): ApiQuery<TokenListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.list_api_tokens(&caller, query.all.unwrap_or(false)).await?))
}

async fn revoke_token(
    State(app): State<App>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    app.revoke_api_token(&id, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
