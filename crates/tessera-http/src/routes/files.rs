//! `/api/files`: downloads (with ETags, byte ranges and thumbnails) and file tokens.
//! Which object, and whether the caller may have it, is decided by core; this module only
//! speaks HTTP.

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::TryStreamExt;
use tessera_core::App;
use tessera_files::range::{etag, none_match, parse_range, RangeRequest};
use tessera_files::sniff::is_inline_image;

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/files/token", post(file_token))
        .route("/api/files/{table}/{id}/{field}/{name}", get(download))
}

/// `?thumb=WxH&download=1&token=...`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    pub thumb: Option<String>,
    pub download: Option<String>,
    pub token: Option<String>,
}

async fn file_token(State(app): State<App>, Auth(caller): Auth) -> Result<Response, ApiError> {
    Ok(Json(app.issue_file_token(&caller)?).into_response())
}

async fn download(
    State(app): State<App>,
    Auth(header_caller): Auth,
    ApiPath((table, id, field, name)): ApiPath<(String, String, String, String)>,
    ApiQuery(params): ApiQuery<DownloadParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = match params.token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => app.file_token_caller(token)?,
        None => header_caller,
    };
    let object = app.locate_file(&table, &id, &field, &name, params.thumb.as_deref(), &caller).await?;
    let tag = etag(&object.key, object.size);
    let attachment = matches!(params.download.as_deref(), Some("1" | "true" | ""));
    let disposition = if attachment || !is_inline_image(&object.content_type) { "attachment" } else { "inline" };
    let mut response_headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response_headers.insert(name, value);
        }
    };
    set(header::ETAG, tag.clone());
    // Access can change (rules, tokens): caches must ask again, which a 304 makes cheap.
    set(header::CACHE_CONTROL, "private, no-cache".into());
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox".into());
    set(header::CONTENT_DISPOSITION, format!("{disposition}; filename=\"{}\"", object.file_name));
    let header_text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if header_text(header::IF_NONE_MATCH).is_some_and(|h| none_match(h, &tag)) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let range = match header_text(header::RANGE) {
        Some(range) => parse_range(range, object.size),
        None => RangeRequest::Full,
    };
    let (status, range) = match range {
        RangeRequest::Full => (StatusCode::OK, None),
        RangeRequest::Partial(range) => {
            set(header::CONTENT_RANGE, format!("bytes {}-{}/{}", range.start, range.end - 1, object.size));
            (StatusCode::PARTIAL_CONTENT, Some(range))
        }
        RangeRequest::Unsatisfiable => {
            set(header::CONTENT_RANGE, format!("bytes */{}", object.size));
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response());
        }
    };
    let length = range.as_ref().map_or(object.size, |r| r.end - r.start);
    set(header::CONTENT_TYPE, object.content_type.clone());
    set(header::CONTENT_LENGTH, length.to_string());
    let storage = app.file_storage()?;
    let body = if length == 0 {
        Body::empty()
    } else {
        let stream = storage.read(&object.key, range).await.map_err(tessera_core::CoreError::from)?;
        Body::from_stream(stream.map_err(std::io::Error::other))
    };
    Ok((status, response_headers, body).into_response())
}
