//! Request extractors that answer malformed input in tessera's error shape: wrong
//! content type (415), oversized body (413), malformed JSON or UTF-8 (400, with the line
//! and column), and malformed query strings (400).

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use tessera_core::CoreError;

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    /// Newline-delimited JSON: one value per line.
    NdJson,
}

fn body_format(parts_content_type: Option<&str>) -> Result<BodyFormat, ApiError> {
    let Some(content_type) = parts_content_type else {
        return Ok(BodyFormat::Json);
    };
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "" => Ok(BodyFormat::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/jsonlines" => {
            Ok(BodyFormat::NdJson)
        }
        other if other.ends_with("+json") => Ok(BodyFormat::Json),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "expected a JSON body (Content-Type: application/json), got '{}'",
                other.chars().take(100).collect::<String>()
            ),
        )),
    }
}

async fn read_body(request: Request) -> Result<(BodyFormat, Bytes), ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("invalid"));
    let format = body_format(content_type)?;
    let bytes = Bytes::from_request(request, &()).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "payload_too_large",
                "the request body is larger than the server accepts (see --max-body-bytes)",
            )
        } else {
            ApiError::new(status, "bad_body", format!("could not read the request body: {rejection}"))
        }
    })?;
    Ok((format, bytes))
}

fn parse_json(bytes: &[u8]) -> Result<Json, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("invalid_json", "the request body is empty; expected JSON"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the request body is not valid JSON: {e}")))
}

/// A JSON body.
pub struct JsonBody(pub Json);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        match read_body(request).await? {
            (BodyFormat::Json, bytes) => Ok(JsonBody(parse_json(&bytes)?)),
            (BodyFormat::NdJson, _) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "this endpoint takes one JSON document (application/json), not NDJSON",
            )),
        }
    }
}

/// The rows of a create: one object, a JSON array, or NDJSON lines (kept as bytes and
/// parsed one line at a time by [`RowsBody::into_rows`]).
pub enum RowsBody {
    Single(Json),
    Many(Vec<Json>),
    NdJson(Bytes),
}

impl RowsBody {
    /// Whether a single object was sent (the answer is then that row).
    pub fn is_single(&self) -> bool {
        matches!(self, RowsBody::Single(_))
    }

    /// The rows, parsed lazily for NDJSON.
    pub fn into_rows(self) -> Box<dyn Iterator<Item = Result<Json, CoreError>> + Send> {
        match self {
            RowsBody::Single(row) => Box::new(std::iter::once(Ok(row))),
            RowsBody::Many(rows) => Box::new(rows.into_iter().map(Ok)),
            RowsBody::NdJson(bytes) => {
                let lines: Vec<(usize, std::ops::Range<usize>)> = line_ranges(&bytes).collect();
                Box::new(lines.into_iter().map(move |(line_number, range)| {
                    serde_json::from_slice(&bytes[range]).map_err(|e| {
                        CoreError::InvalidJson(format!("NDJSON line {line_number} is not valid JSON: {e}"))
                    })
                }))
            }
        }
    }
}

/// `(line number, byte range)` of every non-blank line.
fn line_ranges(bytes: &[u8]) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + '_ {
    let mut start = 0;
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(move |(index, line)| {
            let range = start..start + line.len();
            start += line.len() + 1;
            (index + 1, range)
        })
        .filter(|(_, range)| !bytes[range.clone()].iter().all(u8::is_ascii_whitespace))
}

impl<S: Send + Sync> FromRequest<S> for RowsBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        match read_body(request).await? {
            (BodyFormat::Json, bytes) => match parse_json(&bytes)? {
                Json::Array(rows) => Ok(RowsBody::Many(rows)),
                row => Ok(RowsBody::Single(row)),
            },
            (BodyFormat::NdJson, bytes) => Ok(RowsBody::NdJson(bytes)),
        }
    }
}

/// Query parameters deserialized into `T`, with a 400 naming the problem otherwise.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(value)| ApiQuery(value)).map_err(|rejection| {
            ApiError::bad_request("invalid_query", format!("invalid query string: {}", rejection.body_text()))
        })
    }
}

/// Path parameters, with a 400 in the error shape when they cannot be read (for example
/// percent-encoded bytes that are not UTF-8).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(value)| ApiPath(value)).map_err(|rejection| {
            ApiError::bad_request("invalid_path", format!("invalid path: {}", rejection.body_text()))
        })
    }
}

/// `?dry_run=true`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRun {
    #[serde(default)]
    pub dry_run: Option<String>,
}

impl DryRun {
    pub fn enabled(&self) -> Result<bool, ApiError> {
        match self.dry_run.as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") | Some("") => Ok(true),
            Some(other) => Err(ApiError::bad_request(
                "invalid_query",
                format!("'dry_run' must be true or false, got '{}'", other.chars().take(20).collect::<String>()),
            )),
        }
    }
}

/// The caller of a request, from its `Authorization: Bearer <token>` header (absent:
/// anonymous). A token that is present but not valid is a 401, never "anonymous": a
/// client whose token expired must learn it.
pub struct Auth(pub tessera_core::auth::Caller);

impl FromRequestParts<tessera_core::App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &tessera_core::App) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Auth(tessera_core::auth::Caller::Anonymous));
        };
        let text = value.to_str().map_err(|_| invalid_authorization())?;
        let (scheme, token) = text.trim().split_once(' ').ok_or_else(invalid_authorization)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(invalid_authorization());
        }
        Ok(Auth(app.authenticate(Some(token)).await?))
    }
}

fn invalid_authorization() -> ApiError {
    ApiError::from(CoreError::InvalidToken("the Authorization header must be 'Bearer <token>'".into()))
}

/// The client's address, for per-address login limits ("unknown" when the server was
/// not started with connection info, e.g. in some tests).
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |info| info.0.ip().to_string());
        Ok(ClientAddress(address))
    }
}
