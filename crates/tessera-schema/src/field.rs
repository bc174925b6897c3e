//! Field types and field options, and how a field is written in a request body:
//! short form (`"age": "integer"`) or long form (`"age": {"type": "integer", "min": 0}`).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::fmt;

/// The type of a user field. The serialized names are the ones users write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Short text, optionally bounded by `max_length`.
    String,
    /// Long text, no bound.
    Text,
    /// 64-bit signed integer.
    Integer,
    /// 64-bit float (finite values only).
    Float,
    /// Exact decimal, kept as a canonical string so no precision is lost in JSON.
    Decimal,
    Boolean,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// Instant, RFC 3339 on input, returned in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    Datetime,
    /// Any JSON document.
    Json,
    Uuid,
    Email,
    Url,
    /// One of a fixed list of strings (`values`).
    Enum,
}

impl FieldType {
    /// Every type, in documentation order.
    pub const ALL: [FieldType; 13] = [
        FieldType::String,
        FieldType::Text,
        FieldType::Integer,
        FieldType::Float,
        FieldType::Decimal,
        FieldType::Boolean,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Json,
        FieldType::Uuid,
        FieldType::Email,
        FieldType::Url,
        FieldType::Enum,
    ];

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Decimal => "decimal",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Json => "json",
            FieldType::Uuid => "uuid",
            FieldType::Email => "email",
            FieldType::Url => "url",
            FieldType::Enum => "enum",
        }
    }

    /// Parses a user-written type name.
    pub fn parse(name: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Types whose values are text and may carry `max_length` and `pattern`.
    pub fn is_textual(self) -> bool {
        matches!(self, FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum)
    }

    /// Types that may carry `min` and `max`.
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Integer | FieldType::Float | FieldType::Decimal)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field: its type and options. Serialized in the long form, options that are
/// unset are omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// Creates a (non-unique) index on the column.
    #[serde(default, skip_serializing_if = "is_false")]
    pub indexed: bool,
    /// Value used when a create omits the field. Validated like any input value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    /// Smallest allowed value (numeric types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value (numeric types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Longest allowed text, in characters (textual types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Regular expression the whole text must match (textual types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Allowed values (enum only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Managed by tessera (a table's `owner`, the users table's auth fields): set by the
    /// server rather than taken from a body as-is, and never renamed, dropped or changed
    /// by a schema change.
    #[serde(default, skip_serializing_if = "is_false")]
    pub system: bool,
    /// Never returned, filtered or sorted on (a password hash).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

impl FieldDef {
    /// A field of the given type with no options.
    pub fn new(field_type: FieldType) -> FieldDef {
        FieldDef {
            field_type,
            required: false,
            unique: false,
            indexed: false,
            default: None,
            min: None,
            max: None,
            max_length: None,
            pattern: None,
            values: None,
            system: false,
            hidden: false,
        }
    }

    /// The same field, managed by tessera.
    pub fn managed(self) -> FieldDef {
        FieldDef { system: true, ..self }
    }

    /// Parses the short form (a type name string) or the long form (an object).
    /// Options are checked for consistency with the type; `default` is checked by
    /// [`crate::validate`] once the field is known to be well formed.
    pub fn from_json(json: &Json) -> Result<FieldDef, String> {
        let def = match json {
            Json::String(type_name) => FieldDef::new(parse_type(type_name)?),
            Json::Object(map) => {
                let type_name = match map.get("type") {
                    Some(Json::String(type_name)) => type_name,
                    Some(_) => return Err("'type' must be a string".into()),
                    None => return Err("is missing 'type'".into()),
                };
                parse_type(type_name)?;
                if let Some(option) = ["system", "hidden"].into_iter().find(|option| map.contains_key(*option)) {
                    return Err(format!("'{option}' is set by tessera, not in a request"));
                }
                serde_json::from_value::<FieldDef>(json.clone()).map_err(|e| e.to_string())?
            }
            _ => return Err("must be a type name or an object with a 'type'".into()),
        };
        def.check_options()?;
        Ok(def)
    }

    /// Checks that the options fit the type and each other.
    pub fn check_options(&self) -> Result<(), String> {
        let t = self.field_type;
        if (self.min.is_some() || self.max.is_some()) && !t.is_numeric() {
            return Err(format!("'min' and 'max' apply to numeric fields, not {t}"));
        }
        for (option, bound) in [("min", self.min), ("max", self.max)] {
            if bound.is_some_and(|b| !b.is_finite()) {
                return Err(format!("'{option}' must be a finite number"));
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                return Err(format!("'min' ({min}) is greater than 'max' ({max})"));
            }
        }
        if self.max_length.is_some() && !t.is_textual() {
            return Err(format!("'max_length' applies to text fields, not {t}"));
        }
        if self.max_length == Some(0) {
            return Err("'max_length' must be at least 1".into());
        }
        if let Some(pattern) = &self.pattern {
            if !t.is_textual() {
                return Err(format!("'pattern' applies to text fields, not {t}"));
            }
            crate::validate::compile_pattern(pattern)?;
        }
        match (&self.values, t) {
            (None, FieldType::Enum) => return Err("an enum needs 'values', a list of strings".into()),
            (Some(values), FieldType::Enum) => {
                if values.is_empty() {
                    return Err("'values' must not be empty".into());
                }
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = values.iter().find(|v| !seen.insert(v.as_str())) {
                    return Err(format!("'values' lists '{dup}' twice"));
                }
            }
            (Some(_), _) => return Err(format!("'values' applies to enum fields, not {t}")),
            (None, _) => {}
        }
        if self.field_type == FieldType::Json && (self.unique || self.indexed) {
            return Err("json fields cannot be unique or indexed".into());
        }
        Ok(())
    }
}

fn parse_type(name: &str) -> Result<FieldType, String> {
    FieldType::parse(name).ok_or_else(|| {
        let known: Vec<&str> = FieldType::ALL.iter().map(|t| t.name()).collect();
        format!("has unknown type '{name}' (known types: {})", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_and_long_forms() {
        assert_eq!(FieldDef::from_json(&json!("integer")).unwrap(), FieldDef::new(FieldType::Integer));
        let long = FieldDef::from_json(&json!({"type": "integer", "min": 0, "required": true})).unwrap();
        assert!(long.required);
        assert_eq!(long.min, Some(0.0));
    }

    #[test]
    fn refuses_inconsistent_options() {
        for bad in [
            json!("int"),
            json!(5),
            json!({"min": 1}),
            json!({"type": "boolean", "min": 1}),
            json!({"type": "integer", "max_length": 3}),
            json!({"type": "integer", "min": 5, "max": 1}),
            json!({"type": "enum"}),
            json!({"type": "enum", "values": []}),
            json!({"type": "enum", "values": ["a", "a"]}),
            json!({"type": "string", "values": ["a"]}),
            json!({"type": "string", "pattern": "("}),
            json!({"type": "string", "colour": "red"}),
            json!({"type": "json", "unique": true}),
        ] {
            assert!(FieldDef::from_json(&bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn long_form_round_trips() {
        let def = FieldDef::from_json(&json!({"type": "enum", "values": ["a", "b"], "required": true})).unwrap();
        let again = FieldDef::from_json(&serde_json::to_value(&def).unwrap()).unwrap();
        assert_eq!(def, again);
    }
}
