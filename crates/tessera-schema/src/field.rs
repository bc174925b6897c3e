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
    /// A link to a row of another table (`target`): that row's id, or with `multiple` a
    /// list of ids kept in a junction table managed by tessera.
    Relation,
    /// An uploaded file (or with `multiple` a list of them), stored outside the row; the
    /// row keeps the stored names.
    File,
}

impl FieldType {
    /// Every type, in documentation order.
    pub const ALL: [FieldType; 15] = [
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
        FieldType::Relation,
        FieldType::File,
    ];

    /// The types that hold one plain value in the row itself: every type but relation and
    /// file, whose values point elsewhere (another row, a stored object).
    pub const SCALARS: [FieldType; 13] = {
        let mut scalars = [FieldType::String; 13];
        let mut i = 0;
        while i < scalars.len() {
            scalars[i] = FieldType::ALL[i];
            i += 1;
        }
        scalars
    };

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
            FieldType::Relation => "relation",
            FieldType::File => "file",
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
    /// The table a relation points at (relation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What deleting a referenced row does to this one (relation only; default `restrict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<OnDelete>,
    /// Holds a list: many related rows, or many files.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiple: bool,
    /// Largest accepted file, in bytes (file only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Accepted media types, e.g. `image/png` or `image/*` (file only; default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_types: Option<Vec<String>>,
    /// Downloads need the row's view rule to pass for the caller (file only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// Managed by tessera (a table's `owner`, the users table's auth fields): set by the
    /// server rather than taken from a body as-is, and never renamed, dropped or changed
    /// by a schema change.
    #[serde(default, skip_serializing_if = "is_false")]
    pub system: bool,
    /// Never returned, filtered or sorted on (a password hash).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
}

/// What deleting a referenced row does to the rows that point at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// The delete is refused while rows point at it.
    #[default]
    Restrict,
    /// The rows that point at it are deleted too (with `multiple`: only the links).
    Cascade,
    /// The link is cleared (with `multiple`: the id leaves the list).
    SetNull,
}

impl OnDelete {
    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            OnDelete::Restrict => "restrict",
            OnDelete::Cascade => "cascade",
            OnDelete::SetNull => "set_null",
        }
    }
}

/// Largest `max_size` a file field may declare (1 GiB).
pub const MAX_FILE_SIZE: u64 = 1 << 30;

/// `max_size` of a file field that sets none (5 MiB, as PocketBase).
pub const DEFAULT_FILE_SIZE: u64 = 5 << 20;

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
            target: None,
            on_delete: None,
            multiple: false,
            max_size: None,
            mime_types: None,
            protected: false,
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
        self.check_relation_options()?;
        self.check_file_options()
    }

    /// The effective `on_delete` of a relation.
    pub fn on_delete(&self) -> OnDelete {
        self.on_delete.unwrap_or_default()
    }

    /// The effective `max_size` of a file field, in bytes.
    pub fn max_file_size(&self) -> u64 {
        self.max_size.unwrap_or(DEFAULT_FILE_SIZE)
    }

    /// Whether the field is a column of the row's table (a relation with `multiple` lives
    /// in a junction table instead).
    pub fn is_column(&self) -> bool {
        !(self.field_type == FieldType::Relation && self.multiple)
    }

    fn check_relation_options(&self) -> Result<(), String> {
        let relation = self.field_type == FieldType::Relation;
        if !relation {
            if self.target.is_some() || self.on_delete.is_some() {
                return Err(format!("'target' and 'on_delete' apply to relation fields, not {}", self.field_type));
            }
            return Ok(());
        }
        let Some(target) = &self.target else {
            return Err("a relation needs 'target', the name of the table it points at".into());
        };
        crate::ident::validate_table_name(target).map_err(|e| format!("has a bad 'target': {e}"))?;
        if self.on_delete() == OnDelete::SetNull && self.required && !self.multiple {
            return Err("cannot be required with on_delete 'set_null' (the link would become null)".into());
        }
        if self.default.is_some() {
            return Err("a relation cannot have a 'default'".into());
        }
        if self.multiple && self.unique {
            return Err("a relation with 'multiple' cannot be unique".into());
        }
        Ok(())
    }

    fn check_file_options(&self) -> Result<(), String> {
        if self.field_type != FieldType::File {
            if self.max_size.is_some() || self.mime_types.is_some() || self.protected {
                return Err(format!(
                    "'max_size', 'mime_types' and 'protected' apply to file fields, not {}",
                    self.field_type
                ));
            }
            if self.multiple && self.field_type != FieldType::Relation {
                return Err(format!("'multiple' applies to relation and file fields, not {}", self.field_type));
            }
            return Ok(());
        }
        if self.unique || self.indexed || self.default.is_some() {
            return Err("a file field cannot be unique, indexed or have a 'default'".into());
        }
        match self.max_size {
            Some(0) => return Err("'max_size' must be at least 1 byte".into()),
            Some(size) if size > MAX_FILE_SIZE => {
                return Err(format!("'max_size' must be at most {MAX_FILE_SIZE} bytes (1 GiB)"))
            }
            _ => {}
        }
        if let Some(types) = &self.mime_types {
            if types.is_empty() {
                return Err("'mime_types' must not be empty (leave it out to accept any type)".into());
            }
            if let Some(bad) = types.iter().find(|t| !is_media_type_pattern(t)) {
                return Err(format!(
                    "'mime_types' lists '{bad}', which is not a media type like 'image/png' or 'image/*'"
                ));
            }
        }
        Ok(())
    }
}

/// `type/subtype` or `type/*`, lower-case letters, digits and `+-.`.
fn is_media_type_pattern(text: &str) -> bool {
    let token = |part: &str| {
        !part.is_empty()
            && part.len() <= 64
            && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    };
    match text.split_once('/') {
        Some((kind, "*")) => token(kind),
        Some((kind, sub)) => token(kind) && token(sub),
        None => false,
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
            json!({"type": "relation"}),
            json!({"type": "relation", "target": "bad name"}),
            json!({"type": "relation", "target": "zoos", "on_delete": "explode"}),
            json!({"type": "relation", "target": "zoos", "on_delete": "set_null", "required": true}),
            json!({"type": "relation", "target": "zoos", "multiple": true, "unique": true}),
            json!({"type": "integer", "target": "zoos"}),
            json!({"type": "integer", "multiple": true}),
            json!({"type": "file", "max_size": 0}),
            json!({"type": "file", "mime_types": []}),
            json!({"type": "file", "mime_types": ["png"]}),
            json!({"type": "file", "unique": true}),
            json!({"type": "string", "protected": true}),
        ] {
            assert!(FieldDef::from_json(&bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn scalars_are_all_but_relation_and_file() {
        assert_eq!(FieldType::SCALARS[..], FieldType::ALL[..13]);
        assert!(!FieldType::SCALARS.contains(&FieldType::Relation) && !FieldType::SCALARS.contains(&FieldType::File));
    }

    #[test]
    fn long_form_round_trips() {
        let def = FieldDef::from_json(&json!({"type": "enum", "values": ["a", "b"], "required": true})).unwrap();
        let again = FieldDef::from_json(&serde_json::to_value(&def).unwrap()).unwrap();
        assert_eq!(def, again);
    }
}
