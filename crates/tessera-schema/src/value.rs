//! A validated value, in the form the store binds it.
//!
//! Types without a native JSON form (decimal, date, datetime, uuid) are carried as their
//! canonical text; the store casts them to the column's native type where the database
//! has one (Postgres) and stores the text where it does not (SQLite). Canonical text is
//! chosen so that text order equals value order for dates and datetimes.

use serde_json::Value as Json;

/// A value that passed validation for a specific field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// string, text, email, url, enum, and the canonical text of decimal, date,
    /// datetime and uuid.
    Text(String),
    Json(Json),
}

impl Value {
    /// The value as it appears in API responses (decimals stay strings).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Integer(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Boolean(b) => Json::Bool(*b),
            Value::Text(s) => Json::String(s.clone()),
            Value::Json(j) => j.clone(),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
