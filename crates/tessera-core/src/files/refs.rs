//! Which stored names a write may put in a row. A row may only hold names it already
//! holds or that this very request uploaded: a client can keep, reorder or drop its own
//! files, but never point a row at another row's objects (or at a name it guessed).
//! Also works out which names a write drops, to delete their objects once it commits.

use crate::CoreError;
use serde_json::Value as Json;
use tessera_schema::{FieldType, TableSchema};

/// The files one request uploaded: (field, stored name), fields in their schema spelling.
pub type Uploaded = [(String, String)];

/// The stored names a file value holds: a name, a list of names, or nothing.
pub fn names_in(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(name)) => vec![name.clone()],
        Some(Json::Array(items)) => items.iter().filter_map(|item| item.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The file fields of a schema (visible ones: a hidden field is never written by clients).
fn file_fields(schema: &TableSchema) -> impl Iterator<Item = (&str, bool)> {
    schema
        .fields
        .iter()
        .filter(|(_, def)| def.field_type == FieldType::File && !def.hidden)
        .map(|(name, def)| (name.as_str(), def.multiple))
}

/// The body key that names `field` (any case), if the body has one.
fn body_key(body: &Json, field: &str) -> Option<String> {
    body.as_object()?.keys().find(|key| key.eq_ignore_ascii_case(field)).cloned()
}

/// Puts this request's uploads into the body and checks every file name the body holds
/// against `old` (the row before the write; `None` for a create). Returns, per file
/// field the write sets, the names it drops from `old`.
pub fn prepare(
    schema: &TableSchema,
    body: &mut Json,
    old: Option<&Json>,
    uploaded: &Uploaded,
    replace: bool,
) -> Result<Vec<String>, CoreError> {
    let mut dropped = Vec::new();
    if !body.is_object() {
        // Not a row: the validator says so.
        return Ok(dropped);
    }
    for (field, multiple) in file_fields(schema) {
        let new_names: Vec<&str> = uploaded.iter().filter(|(f, _)| f == field).map(|(_, name)| name.as_str()).collect();
        let key = body_key(body, field);
        let old_names = names_in(old.and_then(|row| row.get(field)));
        if let Some(key) = &key {
            for name in names_in(body.get(key)) {
                if !old_names.contains(&name) && !new_names.contains(&name.as_str()) {
                    return Err(CoreError::UnknownFile { field: field.to_string(), name });
                }
            }
        }
        if !new_names.is_empty() {
            let value = if multiple {
                let mut list: Vec<Json> = match key.as_ref().map(|k| &body[k]) {
                    Some(Json::Array(items)) => items.clone(),
                    Some(_) => Vec::new(),
                    None => old_names.iter().cloned().map(Json::String).collect(),
                };
                list.extend(new_names.iter().map(|name| Json::String(name.to_string())));
                Json::Array(list)
            } else {
                Json::String(new_names[0].to_string())
            };
            let map = body.as_object_mut().expect("checked above");
            if let Some(key) = &key {
                map.remove(key);
            }
            map.insert(field.to_string(), value);
        }
        let touched = replace || !new_names.is_empty() || key.is_some();
        if touched {
            let kept = names_in(body.get(field).or_else(|| key.as_ref().and_then(|k| body.get(k))));
            dropped.extend(old_names.into_iter().filter(|name| !kept.contains(name)));
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tessera_schema::{parse_fields, TableSchema};

    fn schema() -> TableSchema {
        let fields = parse_fields(&json!({
            "title": "string",
            "photo": {"type": "file"},
            "docs": {"type": "file", "multiple": true}
        }))
        .unwrap();
        TableSchema::new(1, "posts", 1, fields)
    }

    fn uploads(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(f, n)| (f.to_string(), n.to_string())).collect()
    }

    #[test]
    fn a_create_takes_only_its_uploads() {
        let mut body = json!({"title": "t"});
        let up = uploads(&[("photo", "p_1.png"), ("docs", "a_1.pdf"), ("docs", "b_1.pdf")]);
        assert!(prepare(&schema(), &mut body, None, &up, false).unwrap().is_empty());
        assert_eq!(body, json!({"title": "t", "photo": "p_1.png", "docs": ["a_1.pdf", "b_1.pdf"]}));
        let mut body = json!({"photo": "someone_elses.png"});
        let refused = prepare(&schema(), &mut body, None, &[], false).unwrap_err();
        assert!(
            matches!(refused, CoreError::UnknownFile { field, name } if field == "photo" && name == "someone_elses.png")
        );
    }

    #[test]
    fn an_update_keeps_drops_and_appends() {
        let old = json!({"photo": "p_1.png", "docs": ["a_1.pdf", "b_1.pdf"]});
        // Keep a, drop b.
        let mut body = json!({"docs": ["a_1.pdf"]});
        assert_eq!(prepare(&schema(), &mut body, Some(&old), &[], false).unwrap(), vec!["b_1.pdf"]);
        // An upload to a list appends to what the row holds.
        let mut body = json!({});
        let up = uploads(&[("docs", "c_1.pdf")]);
        assert!(prepare(&schema(), &mut body, Some(&old), &up, false).unwrap().is_empty());
        assert_eq!(body, json!({"docs": ["a_1.pdf", "b_1.pdf", "c_1.pdf"]}));
        // A new single file replaces the old one.
        let mut body = json!({});
        let up = uploads(&[("photo", "q_1.png")]);
        assert_eq!(prepare(&schema(), &mut body, Some(&old), &up, false).unwrap(), vec!["p_1.png"]);
        // Clearing drops everything; a whole-row PUT without the fields too.
        let mut body = json!({"PHOTO": null, "docs": null});
        assert_eq!(
            prepare(&schema(), &mut body, Some(&old), &[], false).unwrap(),
            vec!["p_1.png", "a_1.pdf", "b_1.pdf"]
        );
        let mut body = json!({"title": "x"});
        assert_eq!(prepare(&schema(), &mut body, Some(&old), &[], true).unwrap().len(), 3);
        // Untouched fields drop nothing; foreign names are refused.
        let mut body = json!({"title": "x"});
        assert!(prepare(&schema(), &mut body, Some(&old), &[], false).unwrap().is_empty());
        let mut body = json!({"docs": ["a_1.pdf", "../x"]});
        assert!(prepare(&schema(), &mut body, Some(&old), &[], false).is_err());
    }
}
