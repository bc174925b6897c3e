//! Rules for user-chosen names (tables and fields).
//!
//! A user name must start with a letter, so it can never collide with tessera's own
//! system tables, which all start with `_tessera_` (and SQLite's, which start with
//! `sqlite_`, are refused explicitly). Names are compared case-insensitively because
//! SQLite identifiers are case-insensitive even when quoted.

use thiserror::Error;

/// Longest accepted name; Postgres truncates identifiers past 63 bytes.
pub const MAX_NAME_LEN: usize = 63;

/// Fields every table has, maintained by tessera; users may not define them.
pub const SYSTEM_FIELDS: [&str; 3] = ["id", "created_at", "updated_at"];

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentError {
    #[error("{kind} name must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} name '{name}' is too long ({len} characters; at most {MAX_NAME_LEN})")]
    TooLong { kind: &'static str, name: String, len: usize },
    #[error("{kind} name '{name}' must start with a letter and contain only letters, digits and underscores")]
    BadCharacters { kind: &'static str, name: String },
    #[error("{kind} name '{name}' is reserved")]
    Reserved { kind: &'static str, name: String },
}

impl IdentError {
    /// The refused name (absent when it was empty).
    pub fn name(&self) -> Option<&str> {
        match self {
            IdentError::Empty { .. } => None,
            IdentError::TooLong { name, .. }
            | IdentError::BadCharacters { name, .. }
            | IdentError::Reserved { name, .. } => Some(name),
        }
    }
}

fn validate_name(kind: &'static str, name: &str) -> Result<(), IdentError> {
    if name.is_empty() {
        return Err(IdentError::Empty { kind });
    }
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(IdentError::TooLong { kind, name: truncate_for_message(name), len });
    }
    let mut chars = name.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_is_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(IdentError::BadCharacters { kind, name: truncate_for_message(name) });
    }
    Ok(())
}

/// Validates a table name.
pub fn validate_table_name(name: &str) -> Result<(), IdentError> {
    validate_name("table", name)?;
    if name.to_ascii_lowercase().starts_with("sqlite_") {
        return Err(IdentError::Reserved { kind: "table", name: name.to_string() });
    }
    Ok(())
}

/// Words of the filter language; a field named like one could never be filtered on.
pub const FILTER_KEYWORDS: [&str; 4] = ["in", "true", "false", "null"];

/// Validates a user field name (system fields and filter keywords are refused).
pub fn validate_field_name(name: &str) -> Result<(), IdentError> {
    validate_name("field", name)?;
    if SYSTEM_FIELDS.iter().chain(FILTER_KEYWORDS.iter()).any(|reserved| reserved.eq_ignore_ascii_case(name)) {
        return Err(IdentError::Reserved { kind: "field", name: name.to_string() });
    }
    Ok(())
}

fn truncate_for_message(name: &str) -> String {
    name.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        assert!(validate_table_name("Person").is_ok());
        assert!(validate_table_name("zoo_animals2").is_ok());
        assert!(validate_field_name("first_name").is_ok());
    }

    #[test]
    fn refuses_bad_names() {
        for bad in ["", "_tessera_tables", "1abc", "a-b", "a b", "a;drop table x", "é", "sqlite_master"] {
            assert!(validate_table_name(bad).is_err(), "{bad} should be refused");
        }
        assert!(validate_table_name(&"a".repeat(64)).is_err());
        assert!(validate_table_name(&"a".repeat(63)).is_ok());
        for reserved in ["id", "ID", "created_at", "Updated_At", "null", "TRUE", "in"] {
            assert!(validate_field_name(reserved).is_err());
        }
    }
}
