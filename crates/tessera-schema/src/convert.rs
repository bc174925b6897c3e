//! Type conversions between field definitions (STUB: being written by a helper).

use crate::field::FieldDef;
use crate::value::Value;
use serde::Serialize;

/// How a change of field definition treats existing data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Conversion {
    /// Every possible value converts exactly; applied without looking at the data.
    Lossless,
    /// Some values may not convert; applied only if every existing value does.
    Checked,
    /// Never allowed (no meaningful conversion exists).
    Refused,
}

/// Classifies a change from one definition to another (type and options).
pub fn classify(from: &FieldDef, to: &FieldDef) -> Conversion {
    if from == to {
        Conversion::Lossless
    } else {
        Conversion::Checked
    }
}

/// Converts one stored value, or says why it cannot be converted.
pub fn convert(value: &Value, from: &FieldDef, to: &FieldDef) -> Result<Value, String> {
    let _ = (from, to);
    Ok(value.clone())
}
