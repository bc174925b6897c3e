//! `multipart/form-data` row writes: JSON values and files in one request.
//!
//! The form's parts:
//! - a part with a file name is a file for the field the part is named after (repeat the
//!   part for a `multiple` field); it streams to storage as it arrives;
//! - a part named `@json` holds a JSON object of field values;
//! - any other part is one field's value as text (`42`, `true`, a JSON list for a
//!   `multiple` field; empty is null). It overrides the same field in `@json`.
//!
//! The whole request is bounded by `--max-upload-bytes` as it streams, each file by its
//! field's `max_size`; text parts by `--max-body-bytes`.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use futures_util::StreamExt;
use serde_json::{Map, Value as Json};
use tessera_core::auth::Caller;
use tessera_core::files::Uploads;
use tessera_core::{App, CoreError};
use tessera_schema::Action;

/// The part that carries a JSON object of field values.
pub const JSON_PART: &str = "@json";

/// Size limits of forms (from [`crate::HttpConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    /// A whole multipart request.
    pub max_upload_bytes: u64,
    /// One text or `@json` part.
    pub max_text_bytes: usize,
}

/// A write body: JSON (`T`, as its own extractor reads it) or a multipart form, which is
/// left unread for [`read_form`] so its files can stream.
pub enum Form<T> {
    Json(T),
    Multipart(Box<Request>),
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

impl<T, S> FromRequest<S> for Form<T>
where
    T: FromRequest<S, Rejection = ApiError>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if is_multipart(request.headers()) {
            Ok(Form::Multipart(Box::new(request)))
        } else {
            Ok(Form::Json(T::from_request(request, state).await?))
        }
    }
}

/// Reads a form for a write on `table`: stores its files and returns the row body with
/// them. On any error the files stored so far are deleted before answering.
pub async fn read_form(
    app: &App,
    table: &str,
    action: Action,
    caller: &Caller,
    request: Request,
    limits: FormLimits,
) -> Result<(Json, Uploads), ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| ApiError::bad_request("bad_multipart", format!("invalid multipart Content-Type: {e}")))?;
    let mut uploads = app.begin_upload(table, action, caller)?;
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limits.max_upload_bytes));
    let mut multipart =
        multer::Multipart::with_constraints(request.into_body().into_data_stream(), boundary, constraints);
    match read_parts(&mut multipart, &mut uploads, limits).await {
        Ok(body) => Ok((body, uploads)),
        Err(error) => {
            uploads.discard().await;
            Err(error.into())
        }
    }
}

async fn read_parts(
    multipart: &mut multer::Multipart<'static>,
    uploads: &mut Uploads,
    limits: FormLimits,
) -> Result<Json, CoreError> {
    let mut body = Map::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    while let Some(mut part) = multipart.next_field().await.map_err(multipart_error)? {
        let name = part.name().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(CoreError::bad_request("body", "every part of the form needs a name"));
        }
        match part.file_name().map(str::to_string) {
            // A file input left empty: browsers send a part with no name and no bytes.
            Some(file_name) if file_name.is_empty() => while part.chunk().await.map_err(multipart_error)?.is_some() {},
            Some(file_name) => {
                let declared = part.content_type().map(|m| m.essence_str().to_string());
                let stream = part.map(|chunk| chunk.map_err(multipart_error)).boxed();
                uploads.receive(&name, &file_name, declared.as_deref(), stream).await?;
            }
            None => {
                let mut bytes = Vec::new();
                while let Some(chunk) = part.chunk().await.map_err(multipart_error)? {
                    if bytes.len() + chunk.len() > limits.max_text_bytes {
                        return Err(CoreError::PayloadTooLarge(format!(
                            "the form part '{name}' is larger than {} bytes (see --max-body-bytes)",
                            limits.max_text_bytes
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(bytes)
                    .map_err(|_| CoreError::bad_request(&name, format!("the form part '{name}' is not UTF-8 text")))?;
                if name == JSON_PART {
                    match serde_json::from_str::<Json>(&text) {
                        Ok(Json::Object(map)) => body.extend(map),
                        Ok(_) => {
                            return Err(CoreError::InvalidJson(format!("the '{JSON_PART}' part must be a JSON object")))
                        }
                        Err(e) => {
                            return Err(CoreError::InvalidJson(format!(
                                "the '{JSON_PART}' part is not valid JSON: {e}"
                            )))
                        }
                    }
                } else {
                    texts.push((name, text));
                }
            }
        }
    }
    for (name, text) in texts {
        let value = uploads.text_value(&name, &text)?;
        body.retain(|key, _| !key.eq_ignore_ascii_case(&name));
        body.insert(name, value);
    }
    Ok(Json::Object(body))
}

fn multipart_error(error: multer::Error) -> CoreError {
    match error {
        multer::Error::StreamSizeExceeded { limit } | multer::Error::FieldSizeExceeded { limit, .. } => {
            CoreError::PayloadTooLarge(format!(
                "the request body is larger than the {limit} bytes the server takes for uploads (see --max-upload-bytes)"
            ))
        }
        other => CoreError::bad_request("body", format!("malformed multipart/form-data body: {other}")),
    }
}
