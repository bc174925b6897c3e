//! Helpers shared by the integration tests.
#![allow(dead_code)]

use serde_json::Value as Json;
use tessera_schema::{FieldDef, FieldType, Value};

/// A field from its JSON definition (short or long form); panics on a bad definition.
pub fn def(spec: Json) -> FieldDef {
    FieldDef::from_json(&spec).unwrap_or_else(|e| panic!("bad test definition {spec}: {e}"))
}

/// The enum values used whenever a test needs "an enum": one value for every other type.
pub const ENUM_VALUES: [&str; 10] = [
    "red",
    "42",
    "1.5",
    "12.5",
    "true",
    "2024-05-01",
    "2024-05-01T10:00:00.000000Z",
    "550e8400-e29b-41d4-a716-446655440000",
    "a@b.co",
    "https://x.io/",
];

/// A field of the type with no options (an enum gets [`ENUM_VALUES`]).
pub fn bare(t: FieldType) -> FieldDef {
    let mut def = FieldDef::new(t);
    if t == FieldType::Enum {
        def.values = Some(ENUM_VALUES.iter().map(|v| v.to_string()).collect());
    }
    def
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub fn int(i: i64) -> Value {
    Value::Integer(i)
}

pub fn float(f: f64) -> Value {
    Value::Float(f)
}

pub fn boolean(b: bool) -> Value {
    Value::Boolean(b)
}

pub fn json(j: Json) -> Value {
    Value::Json(j)
}

/// The type named by its user-facing name.
pub fn ty(name: &str) -> FieldType {
    FieldType::parse(name).unwrap_or_else(|| panic!("unknown type {name}"))
}

/// Values are equal, with floats compared bit for bit (so -0.0 differs from 0.0).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}
