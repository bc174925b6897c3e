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
    let keys: Vec<&str> = sort.iter().map(|key| key.field.column.as_str()).chain(["id"]).collect();
    let mut deserializer = serde_json::Deserializer::from_str(last_row);
    let picked = serde::Deserializer::deserialize_map(&mut deserializer, PickVisitor { keys: &keys }).ok()?;
    let values = keys.iter().map(|key| picked.get(*key).cloned()).collect::<Option<Vec<Json>>>()?;
    let token = json!({"s": sort_spec, "v": values});
    Some(URL_SAFE_NO_PAD.encode(token.to_string()))
}

/// Reads the values of some top-level keys of a JSON object and skips the rest unbuilt: a
/// row with its expansions is much larger than the few sort keys a cursor needs.
struct PickVisitor<'k> {
    keys: &'k [&'k str],
}

impl<'de> serde::de::Visitor<'de> for PickVisitor<'_> {
    type Value = serde_json::Map<String, Json>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = serde_json::Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if self.keys.contains(&key.as_ref()) {
                picked.insert(key.into_owned(), map.next_value::<Json>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(picked)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_query::resolve::ResolvedField;

    fn by(column: &str, field_type: FieldType) -> SortKey {
        SortKey { field: ResolvedField::own(column, field_type), descending: false }
    }

    #[test]
    fn a_cursor_holds_the_sort_keys_and_id_of_the_last_row() {
        let sort = [by("name", FieldType::Text), by("age", FieldType::Integer)];
        let row = r#"{"id":7,"name":"Leo","tags":["a",{"x":[1,2]}],"age":4,"expand":{"zoo":{"id":1,"name":"Z"}}}"#;
        let token = encode(row, "name,age", &sort).expect("a cursor");
        let values = decode(&token, "name,age", &sort).unwrap();
        assert_eq!(values, vec![Value::Text("Leo".into()), Value::Integer(4), Value::Integer(7)]);
        assert!(decode(&token, "-name", &sort).is_err(), "another sort");
        // A row without a sort field (a `fields=` selection) has no cursor.
        assert_eq!(encode(r#"{"id":7,"age":4}"#, "name,age", &sort), None);
        assert_eq!(encode("not json", "name,age", &sort), None);
    }
}
