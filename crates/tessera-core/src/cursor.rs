//! Keyset cursors: an opaque token holding the sort specification and the last row's
//! sort-key values and id, so the next page starts right after it with an index seek
//! instead of skipping `offset` rows.

use crate::CoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value as Json};
use tessera_query::sort::SortKey;
use tessera_schema::validate::coerce;
use tessera_schema::{FieldDef, FieldType, Value};

/// The cursor after `last_row` (row JSON text), or `None` if the row lacks a key field
/// (a `fields=` selection without the sort fields).
pub fn encode(last_row: &str, sort_spec: &str, sort: &[SortKey]) -> Option<String> {
    let row: Json = serde_json::from_str(last_row).ok()?;
    let mut values = Vec::with_capacity(sort.len() + 1);
    for key in sort {
        values.push(row.get(&key.field.column)?.clone());
    }
    values.push(row.get("id")?.clone());
    let token = json!({"s": sort_spec, "v": values});
    Some(URL_SAFE_NO_PAD.encode(token.to_string()))
}

/// The keyset values of a cursor, checked against the request's sort.
pub fn decode(token: &str, sort_spec: &str, sort: &[SortKey]) -> Result<Vec<Value>, CoreError> {
    let invalid = || CoreError::bad_request("cursor", "'cursor' is not a cursor returned by this list (next_cursor)");
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| invalid())?;
    let token: Json = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.get("s").and_then(Json::as_str) != Some(sort_spec) {
        return Err(CoreError::bad_request(
            "cursor",
            "'cursor' was made for a different 'sort'; use the same sort for every page",
        ));
    }
    let values = token.get("v").and_then(Json::as_array).ok_or_else(invalid)?;
    if values.len() != sort.len() + 1 {
        return Err(invalid());
    }
    let types = sort.iter().map(|k| k.field.field_type).chain([FieldType::Integer]);
    values
        .iter()
        .zip(types)
        .map(|(value, field_type)| coerce(&FieldDef::new(field_type), value).map_err(|_| invalid()))
        .collect()
}
