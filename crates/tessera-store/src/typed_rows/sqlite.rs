//! SQLite rows of a typed read: each value written by its storage class, as `json_object`
//! writes it (tables are STRICT, so the class is the column's type or null).

use super::{write_json_string, Render, TypedRow};
use rusqlite::types::{Type, ValueRef};
use rusqlite::Row;
use tessera_schema::value::push_float_json_text;

impl TypedRow for Row<'_> {
    type Error = rusqlite::Error;

    fn is_null(&self, index: usize) -> Result<bool, Self::Error> {
        Ok(matches!(self.get_ref(index)?, ValueRef::Null))
    }

    fn write_value(&self, out: &mut String, index: usize, render: Render) -> Result<(), Self::Error> {
        match (render, self.get_ref(index)?) {
            (_, ValueRef::Null) => out.push_str("null"),
            (Render::Boolean, ValueRef::Integer(v)) => out.push_str(match v {
                1 => "true",
                0 => "false",
                _ => "null",
            }),
            (Render::Float, ValueRef::Real(v)) => push_float_json_text(out, v),
            (Render::Float, ValueRef::Integer(v)) => push_float_json_text(out, v as f64),
            (_, ValueRef::Integer(v)) => out.push_str(itoa::Buffer::new().format(v)),
            (Render::Json, ValueRef::Text(text)) => out.push_str(&utf8(text)),
            (_, ValueRef::Text(text)) => write_json_string(out, &utf8(text)),
            // A real where the schema says otherwise: written as a float is.
            (_, ValueRef::Real(v)) => push_float_json_text(out, v),
            // `json_object` refuses blobs too; tessera never stores one in a user table.
            (_, ValueRef::Blob(_)) => {
                return Err(rusqlite::Error::InvalidColumnType(index, format!("column {index}"), Type::Blob))
            }
        }
        Ok(())
    }
}

/// Text as SQLite holds it: UTF-8 whenever tessera wrote it. A file edited by other tools
/// may hold other bytes, which `json_object` would copy as they are and a `String` cannot
/// hold: they become U+FFFD. (`from_utf8` first: its check of valid text is a fraction of
/// the cost of `from_utf8_lossy`'s.)
fn utf8(text: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(text) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(text),
    }
}
