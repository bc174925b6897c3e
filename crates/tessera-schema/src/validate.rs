//! Validation of input values against a field (STUB: being written by a helper).

use crate::field::FieldDef;
use crate::table::TableSchema;
use crate::value::Value;
use serde_json::Value as Json;

/// Compiles a user pattern, anchored to the whole text, with a size limit.
pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("'pattern' is not a valid regular expression: {e}"))
}

/// Checks that a field's `default`, if any, is a valid value for it.
pub fn check_default(def: &FieldDef) -> Result<(), String> {
    let _ = def;
    Ok(())
}

/// Which write a row body is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// POST: missing fields take their default (or null).
    Create,
    /// PUT: the whole row; missing fields take their default (or null).
    Replace,
    /// PATCH: only the fields present change.
    Update,
}

/// A problem with one field of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    /// Stable machine-readable code, e.g. `required`, `wrong_type`, `too_long`.
    pub code: &'static str,
    pub message: String,
}

/// Validates row bodies for one table; patterns are compiled once.
#[derive(Debug, Clone)]
pub struct RowValidator {
    schema: TableSchema,
}

impl RowValidator {
    pub fn new(schema: &TableSchema) -> RowValidator {
        RowValidator {
            schema: schema.clone(),
        }
    }

    /// Validates a body and returns the values to write, in schema order.
    pub fn validate(
        &self,
        body: &Json,
        mode: WriteMode,
    ) -> Result<Vec<(String, Value)>, Vec<FieldError>> {
        let _ = mode;
        let map = body.as_object().ok_or_else(|| {
            vec![FieldError {
                field: String::new(),
                code: "not_an_object",
                message: "a row must be a JSON object".into(),
            }]
        })?;
        let mut out = Vec::new();
        for (name, def) in &self.schema.fields {
            if let Some(v) = map.get(name) {
                out.push((
                    name.clone(),
                    coerce(def, v).map_err(|m| {
                        vec![FieldError {
                            field: name.clone(),
                            code: "invalid",
                            message: m,
                        }]
                    })?,
                ));
            }
        }
        Ok(out)
    }
}

/// Coerces one JSON input value for a field.
pub fn coerce(def: &FieldDef, json: &Json) -> Result<Value, String> {
    let _ = def;
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Integer)
            .unwrap_or(Value::Float(n.as_f64().unwrap_or(0.0))),
        Json::String(s) => Value::Text(s.clone()),
        other => Value::Json(other.clone()),
    })
}
