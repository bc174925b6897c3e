//! `sort=-age,name`: a comma-separated list of fields, `-` for descending.

use crate::resolve::{FieldResolver, ResolvedField};
use thiserror::Error;

/// Most sort keys accepted in one request.
pub const MAX_SORT_KEYS: usize = 8;

/// One resolved sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: ResolvedField,
    pub descending: bool,
}

/// Why a sort specification was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SortError {
    #[error("sort names unknown field '{0}'")]
    UnknownField(String),
    #[error("sort has an empty key")]
    EmptyKey,
    #[error("sort names field '{0}' twice")]
    Duplicate(String),
    #[error("sort may name at most {MAX_SORT_KEYS} fields")]
    TooMany,
    #[error("cannot sort by json field '{0}'")]
    Unsortable(String),
}

/// Parses and resolves a sort specification.
pub fn parse_sort(spec: &str, resolver: &dyn FieldResolver) -> Result<Vec<SortKey>, SortError> {
    let mut keys: Vec<SortKey> = Vec::new();
    for raw in spec.split(',') {
        let raw = raw.trim();
        let (name, descending) = match raw.strip_prefix('-') {
            Some(name) => (name, true),
            None => (raw.strip_prefix('+').unwrap_or(raw), false),
        };
        if name.is_empty() {
            return Err(SortError::EmptyKey);
        }
        let field = resolver.resolve(name).ok_or_else(|| SortError::UnknownField(name.to_string()))?;
        if field.field_type == tessera_schema::FieldType::Json {
            return Err(SortError::Unsortable(name.to_string()));
        }
        if keys.iter().any(|k| k.field == field) {
            return Err(SortError::Duplicate(name.to_string()));
        }
        keys.push(SortKey { field, descending });
        if keys.len() > MAX_SORT_KEYS {
            return Err(SortError::TooMany);
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tessera_schema::{parse_fields, TableSchema};

    fn animals() -> TableSchema {
        TableSchema {
            id: 1,
            name: "animals".into(),
            version: 1,
            fields: parse_fields(&json!({"name": "string", "age": "integer", "doc": "json"})).unwrap(),
            kind: Default::default(),
            rules: Default::default(),
        }
    }

    #[test]
    fn parses_keys() {
        let keys = parse_sort("-age,name", &animals()).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].descending);
        assert_eq!(keys[1].field.column, "name");
        assert!(!keys[1].descending);
    }

    #[test]
    fn refuses_bad_keys() {
        for bad in ["", "-", "nope", "age,age", "doc", "age,,name", "name;drop"] {
            assert!(parse_sort(bad, &animals()).is_err(), "{bad}");
        }
    }
}
