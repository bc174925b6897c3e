//! A table's schema as the catalog keeps it, and parsing of the `fields` map of a request.

use crate::field::FieldDef;
use crate::ident::{validate_field_name, IdentError};
use crate::rules::Rules;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use thiserror::Error;

/// Most user fields a table may have; keeps generated SQL and JSON objects bounded.
pub const MAX_FIELDS: usize = 200;

/// One version of a table's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Stable numeric id; survives renames.
    pub id: i64,
    pub name: String,
    /// Starts at 1, +1 per applied migration.
    pub version: i64,
    /// User fields in the order they were declared (system fields are implicit).
    pub fields: IndexMap<String, FieldDef>,
    /// What the table is for: ordinary data, or the users who sign in.
    #[serde(default, skip_serializing_if = "TableKind::is_base")]
    pub kind: TableKind,
    /// Who may list, view, create, update and delete its rows.
    #[serde(default)]
    pub rules: Rules,
}

/// What a table is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// A table of user data.
    #[default]
    Base,
    /// The built-in users table: its `email`, `username`, `password` and `role` fields
    /// are managed by tessera's auth service.
    Auth,
}

impl TableKind {
    fn is_base(&self) -> bool {
        *self == TableKind::Base
    }
}

/// The field tessera sets to the creating user on tables that opt in.
pub const OWNER_FIELD: &str = "owner";

impl TableSchema {
    /// A base table with the default rules (as planners and tests build them).
    pub fn new(id: i64, name: impl Into<String>, version: i64, fields: IndexMap<String, FieldDef>) -> TableSchema {
        TableSchema { id, name: name.into(), version, fields, kind: TableKind::Base, rules: Rules::default() }
    }

    /// Whether rows carry an `owner` set by the server.
    pub fn has_owner(&self) -> bool {
        self.fields.get(OWNER_FIELD).is_some_and(|def| def.system)
    }

    /// Looks a user field up by name, case-insensitively (as SQL does).
    pub fn field(&self, name: &str) -> Option<(&str, &FieldDef)> {
        self.fields
            .iter()
            .find(|(field_name, _)| field_name.eq_ignore_ascii_case(name))
            .map(|(field_name, def)| (field_name.as_str(), def))
    }
}

/// A problem with one entry of a `fields` map.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FieldsError {
    #[error("'fields' must be an object mapping field names to types")]
    NotAnObject,
    #[error("a table may have at most {MAX_FIELDS} fields, got {0}")]
    TooMany(usize),
    #[error(transparent)]
    BadName(#[from] IdentError),
    #[error("field '{0}' is declared twice (names are case-insensitive)")]
    Duplicate(String),
    #[error("field '{field}' {message}")]
    BadField { field: String, message: String },
}

impl FieldsError {
    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            FieldsError::BadField { field, .. } | FieldsError::Duplicate(field) => Some(field),
            FieldsError::BadName(error) => error.name(),
            _ => None,
        }
    }
}

/// Parses a `fields` object (short or long form per field), validating names and options.
pub fn parse_fields(json: &Json) -> Result<IndexMap<String, FieldDef>, FieldsError> {
    let map = json.as_object().ok_or(FieldsError::NotAnObject)?;
    if map.len() > MAX_FIELDS {
        return Err(FieldsError::TooMany(map.len()));
    }
    let mut fields: IndexMap<String, FieldDef> = IndexMap::with_capacity(map.len());
    for (name, spec) in map {
        validate_field_name(name)?;
        if fields.keys().any(|existing| existing.eq_ignore_ascii_case(name)) {
            return Err(FieldsError::Duplicate(name.clone()));
        }
        let def =
            FieldDef::from_json(spec).map_err(|message| FieldsError::BadField { field: name.clone(), message })?;
        crate::validate::check_default(&def)
            .map_err(|message| FieldsError::BadField { field: name.clone(), message })?;
        fields.insert(name.clone(), def);
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_seed_style_fields() {
        let fields = parse_fields(&json!({"first_name": "string", "age": "integer", "ok": "boolean"})).unwrap();
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["first_name", "age", "ok"]);
    }

    #[test]
    fn names_the_bad_field() {
        let err = parse_fields(&json!({"age": "integr"})).unwrap_err();
        assert_eq!(err.field(), Some("age"));
        assert!(parse_fields(&json!({"a": "integer", "A": "text"})).is_err());
        assert!(parse_fields(&json!({"id": "integer"})).is_err());
        assert!(parse_fields(&json!(["a"])).is_err());
    }
}
