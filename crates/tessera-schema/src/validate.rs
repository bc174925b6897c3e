//! Validation of input values against a field: which JSON (or CSV text) a field accepts,
//! the canonical [`Value`] it becomes, and the field's options (required, min/max,
//! max_length, pattern, enum values).
//!
//! Canonical stored forms (the store relies on these exactly):
//! - integer: [`Value::Integer`]; float: [`Value::Float`] (finite); boolean: [`Value::Boolean`];
//! - decimal: [`Value::Text`], `-?digits(.digits)?` with no `+`, no exponent, no leading
//!   zeros, no trailing fractional zeros, `0` never negative, at most 38 digits;
//! - date: `YYYY-MM-DD`; datetime: UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fractional
//!   digits, so text order is time order); uuid: lowercase hyphenated;
//! - string, text, email, url, enum: the text as given; json: [`Value::Json`] (JSON null is
//!   [`Value::Null`]).
//!
//! Every failure carries a stable code (see [`codes`]) and a sentence that quotes the bad
//! input. [`RowValidator`] is the per-write entry point: it compiles patterns and coerces
//! defaults once per schema, so a write does no regex compiling and no schema cloning.

use crate::field::{FieldDef, FieldType};
use crate::ident::SYSTEM_FIELDS;
use crate::table::TableSchema;
use crate::value::Value;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use regex::Regex;
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

/// Stable machine-readable error codes used in [`FieldError::code`] and [`Invalid::code`].
pub mod codes {
    /// A required field is missing or null.
    pub const REQUIRED: &str = "required";
    /// The JSON type does not fit the field (a string for an integer, ...).
    pub const WRONG_TYPE: &str = "wrong_type";
    /// A number outside the field's range (min/max, i64, 38 digits, years 1-9999, ...).
    pub const OUT_OF_RANGE: &str = "out_of_range";
    /// Text longer than `max_length` (or than an email/url may be).
    pub const TOO_LONG: &str = "too_long";
    /// Not one of an enum's `values`.
    pub const NOT_IN_ENUM: &str = "not_in_enum";
    /// Text that does not match the field's `pattern`.
    pub const PATTERN_MISMATCH: &str = "pattern_mismatch";
    /// Text of the right JSON type that is not a valid value (a bad date, uuid, email, ...).
    pub const INVALID_FORMAT: &str = "invalid_format";
    /// A body key that names no field.
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// Two body keys that name the same field (they differ only in case).
    pub const DUPLICATE_FIELD: &str = "duplicate_field";
    /// The body is not a JSON object.
    pub const NOT_AN_OBJECT: &str = "not_an_object";
    /// A field the client may not write (reserved; system fields are ignored instead).
    pub const READ_ONLY: &str = "read_only";
}

/// Most digits a decimal may have (integer digits plus fractional digits).
pub const DECIMAL_MAX_DIGITS: usize = 38;
/// Longest accepted email address, in characters.
pub const EMAIL_MAX_CHARS: usize = 254;
/// Longest accepted URL, in characters.
pub const URL_MAX_CHARS: usize = 2048;
/// Largest integer magnitude below which a float holds every integer exactly (2^53).
pub const FLOAT_EXACT_INT: i64 = 1 << 53;

/// Why a value is not valid for a field: a stable code and a sentence quoting the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Invalid {
        Invalid { code, message: message.into() }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// Compiles a user pattern, anchored to the whole text, with a size limit.
pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("'pattern' is not a valid regular expression: {e}"))
}

/// Checks that a field's `default`, if any, is a valid value for it.
pub fn check_default(def: &FieldDef) -> Result<(), String> {
    match &def.default {
        None => Ok(()),
        Some(Json::Null) if def.required => Err("has a null 'default', which a required field cannot take".into()),
        Some(default) => {
            coerce_coded(def, default).map(|_| ()).map_err(|e| format!("has an invalid 'default': {}", e.message))
        }
    }
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

impl FieldError {
    fn new(field: &str, invalid: Invalid) -> FieldError {
        FieldError { field: field.to_string(), code: invalid.code, message: invalid.message }
    }
}

/// One field with its pattern compiled once, ready to check many values.
#[derive(Debug, Clone)]
pub struct FieldChecker {
    def: FieldDef,
    /// `None` when the field has no pattern; `Some(Err)` only for a pattern that
    /// `FieldDef::check_options` would have refused (then every text value fails).
    pattern: Option<Result<Regex, String>>,
}

impl FieldChecker {
    /// Compiles the field's pattern, if any.
    pub fn new(def: &FieldDef) -> FieldChecker {
        FieldChecker { def: def.clone(), pattern: def.pattern.as_deref().map(compile_pattern) }
    }

    /// The field this checker is for.
    pub fn def(&self) -> &FieldDef {
        &self.def
    }

    /// Coerces one JSON input value (see [`coerce_coded`]).
    pub fn coerce(&self, json: &Json) -> Result<Value, Invalid> {
        let value = coerce_field(&self.def, json)?;
        self.check(&value)?;
        Ok(value)
    }

    /// Parses one text input (CSV cell) value (see [`coerce_text_coded`]).
    pub fn coerce_text(&self, text: &str) -> Result<Value, Invalid> {
        let value = match (text.is_empty(), self.def.multiple) {
            (true, _) => coerce_field(&self.def, &Json::Null)?,
            (false, true) => {
                let json = parse_json_text(text).map_err(|e| {
                    Invalid::new(codes::INVALID_FORMAT, format!("{} is not a JSON list ({e})", quote(text)))
                })?;
                coerce_field(&self.def, &json)?
            }
            (false, false) => parse_text_type(self.def.field_type, text)?,
        };
        self.check(&value)?;
        Ok(value)
    }

    /// Checks a value already in canonical form against `required` and the options.
    pub fn check(&self, value: &Value) -> Result<(), Invalid> {
        check_options(&self.def, self.pattern.as_ref(), value)
    }
}

/// Validates row bodies for one table; patterns are compiled and defaults coerced once.
#[derive(Debug, Clone)]
pub struct RowValidator {
    fields: Vec<FieldSlot>,
    /// Exact field name -> index in `fields`.
    by_name: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
struct FieldSlot {
    name: String,
    checker: FieldChecker,
    /// The coerced default (an invalid default, which `check_default` prevents, makes
    /// every create that relies on it fail with the reason).
    default: Option<Result<Value, Invalid>>,
}

impl RowValidator {
    /// Prepares a table's validator: compiles its patterns and coerces its defaults once.
    pub fn new(schema: &TableSchema) -> RowValidator {
        let fields: Vec<FieldSlot> = schema
            .fields
            .iter()
            .map(|(name, def)| {
                let checker = FieldChecker::new(def);
                let default = def.default.as_ref().map(|json| {
                    checker
                        .coerce(json)
                        .map_err(|e| Invalid::new(e.code, format!("has an invalid default: {}", e.message)))
                });
                FieldSlot { name: name.clone(), checker, default }
            })
            .collect();
        let by_name = fields.iter().enumerate().map(|(index, slot)| (slot.name.clone(), index)).collect();
        RowValidator { fields, by_name }
    }

    /// Finds a field: exact name first, then case-insensitively.
    fn lookup(&self, key: &str) -> Option<usize> {
        self.by_name
            .get(key)
            .copied()
            .or_else(|| self.fields.iter().position(|slot| slot.name.eq_ignore_ascii_case(key)))
    }

    /// Validates a body and returns the values to write, in schema order.
    ///
    /// System fields (`id`, `created_at`, `updated_at`) in the body are ignored, since
    /// clients echo rows back. Every problem is reported, each naming its field.
    pub fn validate(&self, body: &Json, mode: WriteMode) -> Result<Vec<(String, Value)>, Vec<FieldError>> {
        let map = body.as_object().ok_or_else(|| {
            vec![FieldError {
                field: String::new(),
                code: codes::NOT_AN_OBJECT,
                message: format!("a row must be a JSON object, got {}", describe(body)),
            }]
        })?;
        let mut given: Vec<Option<Result<Value, Invalid>>> = vec![None; self.fields.len()];
        let mut key_errors = Vec::new();
        for (key, json) in map {
            if SYSTEM_FIELDS.iter().any(|system| system.eq_ignore_ascii_case(key)) {
                continue;
            }
            let Some(index) = self.lookup(key) else {
                key_errors.push(FieldError {
                    field: key.clone(),
                    code: codes::UNKNOWN_FIELD,
                    message: format!("the table has no field {}", quote(key)),
                });
                continue;
            };
            if given[index].is_some() {
                key_errors.push(FieldError {
                    field: key.clone(),
                    code: codes::DUPLICATE_FIELD,
                    message: format!(
                        "{} names the field {} again; give each field once",
                        quote(key),
                        quote(&self.fields[index].name)
                    ),
                });
                continue;
            }
            given[index] = Some(self.fields[index].checker.coerce(json));
        }

        let mut values = Vec::with_capacity(self.fields.len());
        let mut errors = Vec::new();
        for (slot, input) in self.fields.iter().zip(given) {
            let result = match (input, mode) {
                (Some(result), _) => result,
                (None, WriteMode::Update) => continue,
                (None, WriteMode::Create | WriteMode::Replace) => match &slot.default {
                    Some(default) => default.clone(),
                    None if slot.checker.def.required => Err(Invalid::new(codes::REQUIRED, "is required")),
                    None => Ok(Value::Null),
                },
            };
            match result {
                Ok(value) => values.push((slot.name.clone(), value)),
                Err(invalid) => errors.push(FieldError::new(&slot.name, invalid)),
            }
        }
        errors.extend(key_errors);
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }
}

/// Coerces one JSON input value for a field.
pub fn coerce(def: &FieldDef, json: &Json) -> Result<Value, String> {
    coerce_coded(def, json).map_err(|e| e.message)
}

/// Coerces one JSON input value for a field into its canonical [`Value`], checking
/// `required` and every option. Compiles the pattern on each call: use a
/// [`FieldChecker`] (or [`RowValidator`]) for many values.
pub fn coerce_coded(def: &FieldDef, json: &Json) -> Result<Value, Invalid> {
    let value = coerce_field(def, json)?;
    check_value(def, &value)?;
    Ok(value)
}

/// Parses one text input (a CSV cell) for a field: the empty text is null, `42` an
/// integer, `true`/`false`/`1`/`0` a boolean (any case for the words), JSON text for a
/// json field (`null` is null), and anything else the way a JSON string is read.
/// Checks `required` and every option.
pub fn coerce_text(def: &FieldDef, text: &str) -> Result<Value, String> {
    coerce_text_coded(def, text).map_err(|e| e.message)
}

/// [`coerce_text`] with the error code. Compiles the pattern on each call: an import of
/// many rows should use a [`FieldChecker`] per column.
pub fn coerce_text_coded(def: &FieldDef, text: &str) -> Result<Value, Invalid> {
    FieldChecker::new(def).coerce_text(text)
}

/// Checks a canonical value against a field's `required` flag and options (max_length,
/// pattern, min/max, enum values). Compiles the pattern on each call.
pub fn check_value(def: &FieldDef, value: &Value) -> Result<(), Invalid> {
    let pattern = def.pattern.as_deref().map(compile_pattern);
    check_options(def, pattern.as_ref(), value)
}

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

fn check_options(def: &FieldDef, pattern: Option<&Result<Regex, String>>, value: &Value) -> Result<(), Invalid> {
    let t = def.field_type;
    match value {
        Value::Null => {
            if def.required {
                return Err(Invalid::new(codes::REQUIRED, "is required"));
            }
            Ok(())
        }
        Value::Text(text) if t.is_textual() => check_text_options(def, pattern, text),
        Value::Text(text) if t == FieldType::Decimal => check_decimal_bounds(def, text),
        Value::Text(_) if matches!(t, FieldType::Date | FieldType::Datetime | FieldType::Uuid) => Ok(()),
        Value::Integer(i) if t == FieldType::Integer => check_integer_bounds(def, *i),
        Value::Float(f) if t == FieldType::Float => check_float_bounds(def, *f),
        Value::Boolean(_) if t == FieldType::Boolean => Ok(()),
        Value::Json(_) if t == FieldType::Json => Ok(()),
        Value::Integer(_) if t == FieldType::Relation && !def.multiple => Ok(()),
        Value::Text(_) if t == FieldType::File && !def.multiple => Ok(()),
        Value::Json(Json::Array(items)) if def.multiple => {
            if items.is_empty() && def.required {
                return Err(Invalid::new(codes::REQUIRED, "is required (at least one item)"));
            }
            Ok(())
        }
        other => {
            Err(Invalid::new(codes::WRONG_TYPE, format!("{} is not a valid {t} value", describe(&other.to_json()))))
        }
    }
}

fn check_text_options(def: &FieldDef, pattern: Option<&Result<Regex, String>>, text: &str) -> Result<(), Invalid> {
    if let Some(max) = def.max_length {
        let max = max as usize;
        // Bytes bound characters from above, so short texts skip the count.
        if text.len() > max {
            let chars = text.chars().count();
            if chars > max {
                return Err(Invalid::new(
                    codes::TOO_LONG,
                    format!("must be at most {max} characters long, got {chars}: {}", quote(text)),
                ));
            }
        }
    }
    if let Some(values) = &def.values {
        if !values.iter().any(|allowed| allowed == text) {
            return Err(Invalid::new(
                codes::NOT_IN_ENUM,
                format!("must be one of {}, got {}", list_values(values), quote(text)),
            ));
        }
    }
    match pattern {
        Some(Ok(regex)) if !regex.is_match(text) => Err(Invalid::new(
            codes::PATTERN_MISMATCH,
            format!(
                "must match the pattern {}, got {}",
                quote(def.pattern.as_deref().unwrap_or_default()),
                quote(text)
            ),
        )),
        Some(Err(message)) => {
            Err(Invalid::new(codes::PATTERN_MISMATCH, format!("cannot be checked: the field's {message}")))
        }
        None | Some(Ok(_)) => Ok(()),
    }
}

fn list_values(values: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut list: Vec<String> = values.iter().take(SHOWN).map(|v| quote(v)).collect();
    if values.len() > SHOWN {
        list.push(format!("... ({} values in all)", values.len()));
    }
    list.join(", ")
}

fn below_min(min: f64, shown: &str) -> Invalid {
    Invalid::new(codes::OUT_OF_RANGE, format!("must be at least {min}, got {shown}"))
}

fn above_max(max: f64, shown: &str) -> Invalid {
    Invalid::new(codes::OUT_OF_RANGE, format!("must be at most {max}, got {shown}"))
}

fn check_integer_bounds(def: &FieldDef, value: i64) -> Result<(), Invalid> {
    if let Some(min) = def.min {
        if cmp_i64_f64(value, min) == Ordering::Less {
            return Err(below_min(min, &value.to_string()));
        }
    }
    if let Some(max) = def.max {
        if cmp_i64_f64(value, max) == Ordering::Greater {
            return Err(above_max(max, &value.to_string()));
        }
    }
    Ok(())
}

fn check_float_bounds(def: &FieldDef, value: f64) -> Result<(), Invalid> {
    if !value.is_finite() {
        return Err(Invalid::new(codes::OUT_OF_RANGE, format!("must be a finite number, got {value}")));
    }
    if def.min.is_some_and(|min| value < min) {
        return Err(below_min(def.min.unwrap_or_default(), &value.to_string()));
    }
    if def.max.is_some_and(|max| value > max) {
        return Err(above_max(def.max.unwrap_or_default(), &value.to_string()));
    }
    Ok(())
}

/// Decimals compare with the bound as the user wrote it (its shortest decimal form), so
/// `min: 0.1` admits `"0.1"` although the binary 0.1 is slightly larger.
fn check_decimal_bounds(def: &FieldDef, text: &str) -> Result<(), Invalid> {
    if def.min.is_none() && def.max.is_none() {
        return Ok(());
    }
    let value = Decimal::parse(text)
        .map_err(|_| Invalid::new(codes::INVALID_FORMAT, format!("{} is not a decimal", quote(text))))?;
    if let Some(min) = def.min {
        if Decimal::from_f64(min).is_some_and(|bound| value < bound) {
            return Err(below_min(min, text));
        }
    }
    if let Some(max) = def.max {
        if Decimal::from_f64(max).is_some_and(|bound| value > bound) {
            return Err(above_max(max, text));
        }
    }
    Ok(())
}

/// Compares an integer with a float exactly (no rounding of either).
pub(crate) fn cmp_i64_f64(int: i64, float: f64) -> Ordering {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if float.is_nan() {
        return Ordering::Less;
    }
    if float >= TWO_63 {
        return Ordering::Less;
    }
    if float < -TWO_63 {
        return Ordering::Greater;
    }
    // |float| < 2^63, so its integral part fits an i64 exactly.
    let whole = float.trunc() as i64;
    match int.cmp(&whole) {
        Ordering::Equal => {
            let fraction = float - float.trunc();
            if fraction > 0.0 {
                Ordering::Less
            } else if fraction < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Type-level coercion (no options)
// ---------------------------------------------------------------------------------------

/// Most items a `multiple` field holds.
pub const MAX_LIST_ITEMS: usize = 1000;

/// Coerces JSON for a field: its type's canonical value, or for a `multiple` field a JSON
/// list of them (null is the empty list; repeated relation ids are kept once).
fn coerce_field(def: &FieldDef, json: &Json) -> Result<Value, Invalid> {
    if !def.multiple {
        return coerce_type(def.field_type, json);
    }
    let items: &[Json] = match json {
        Json::Null => &[],
        Json::Array(items) => items,
        other => return Err(wrong_type("a list", other)),
    };
    if items.len() > MAX_LIST_ITEMS {
        return Err(Invalid::new(
            codes::OUT_OF_RANGE,
            format!("holds {} items; at most {MAX_LIST_ITEMS}", items.len()),
        ));
    }
    let mut list: Vec<Json> = Vec::with_capacity(items.len());
    for item in items {
        if item.is_null() {
            return Err(Invalid::new(codes::WRONG_TYPE, "must not hold null items"));
        }
        let value = coerce_type(def.field_type, item)?.to_json();
        if !list.contains(&value) {
            list.push(value);
        }
    }
    Ok(Value::Json(Json::Array(list)))
}

/// Coerces JSON into a type's canonical value, without looking at options.
pub(crate) fn coerce_type(t: FieldType, json: &Json) -> Result<Value, Invalid> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    match t {
        FieldType::String | FieldType::Text | FieldType::Enum | FieldType::Email | FieldType::Url => {
            let text = expect_string(t, json)?;
            parse_text_type(t, text)
        }
        FieldType::Date | FieldType::Datetime | FieldType::Uuid => parse_text_type(t, expect_string(t, json)?),
        FieldType::Integer => match json {
            Json::Number(number) => number_to_integer(number),
            other => Err(wrong_type("an integer", other)),
        },
        FieldType::Float => match json {
            Json::Number(number) => match number.as_f64() {
                Some(f) if f.is_finite() => Ok(Value::Float(f)),
                _ => Err(Invalid::new(codes::OUT_OF_RANGE, format!("must be a finite number, got {number}"))),
            },
            other => Err(wrong_type("a number", other)),
        },
        FieldType::Decimal => match json {
            Json::String(text) => parse_decimal_text(text).map(Value::Text),
            Json::Number(number) => number_to_decimal(number).map(Value::Text),
            other => Err(wrong_type("a decimal (a string like \"12.50\", or a number)", other)),
        },
        FieldType::Boolean => match json {
            Json::Bool(b) => Ok(Value::Boolean(*b)),
            other => Err(wrong_type("true or false", other)),
        },
        FieldType::Json => {
            check_json_nul(json)?;
            Ok(Value::Json(json.clone()))
        }
        FieldType::Relation => match json {
            Json::Number(number) => match number.as_i64() {
                Some(id) if id > 0 => Ok(Value::Integer(id)),
                _ => Err(Invalid::new(
                    codes::OUT_OF_RANGE,
                    format!("must be a row id (a positive integer), got {number}"),
                )),
            },
            other => Err(wrong_type("a row id (a positive integer)", other)),
        },
        FieldType::File => parse_text_type(t, expect_string(t, json)?),
    }
}

/// Longest stored file name.
pub const FILE_NAME_MAX_CHARS: usize = 255;

/// A stored file name as a row holds it: a plain name, never a path.
fn check_file_name(name: &str) -> Result<(), Invalid> {
    let bad = name.is_empty()
        || name.chars().count() > FILE_NAME_MAX_CHARS
        || name.starts_with('.')
        || name.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(Invalid::new(codes::INVALID_FORMAT, format!("{} is not a stored file name", quote(name))));
    }
    Ok(())
}

fn expect_string(t: FieldType, json: &Json) -> Result<&str, Invalid> {
    match json {
        Json::String(text) => Ok(text),
        other => {
            let expected = match t {
                FieldType::Date => "a date string (YYYY-MM-DD)",
                FieldType::Datetime => "a date-time string (RFC 3339)",
                FieldType::Uuid => "a UUID string",
                FieldType::Email => "an email address string",
                FieldType::Url => "a URL string",
                _ => "a string",
            };
            Err(wrong_type(expected, other))
        }
    }
}

fn wrong_type(expected: &str, got: &Json) -> Invalid {
    Invalid::new(codes::WRONG_TYPE, format!("must be {expected}, got {}", describe(got)))
}

fn number_to_integer(number: &serde_json::Number) -> Result<Value, Invalid> {
    if let Some(i) = number.as_i64() {
        return Ok(Value::Integer(i));
    }
    if number.is_u64() {
        return Err(integer_out_of_range(&number.to_string()));
    }
    let f = number.as_f64().unwrap_or(f64::NAN);
    if f.fract() != 0.0 || !f.is_finite() {
        return Err(Invalid::new(codes::WRONG_TYPE, format!("must be an integer, got {number}")));
    }
    // A literal with a fraction or exponent was read as a float: beyond 2^53 it may
    // already have been rounded (9007199254740993.0 reads as ...992), so refuse it
    // rather than store a number the client did not send.
    if f.abs() >= FLOAT_EXACT_INT as f64 {
        return Err(Invalid::new(
            codes::OUT_OF_RANGE,
            format!("{number} cannot be taken exactly: write integers beyond 2^53 without a fraction or exponent"),
        ));
    }
    float_to_integer(f).ok_or_else(|| integer_out_of_range(&number.to_string()))
}

fn integer_out_of_range(shown: &str) -> Invalid {
    Invalid::new(codes::OUT_OF_RANGE, format!("{shown} is outside the integer range ({} to {})", i64::MIN, i64::MAX))
}

/// An integral float as an integer, if it is in the i64 range.
pub(crate) fn float_to_integer(f: f64) -> Option<Value> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
        Some(Value::Integer(f as i64))
    } else {
        None
    }
}

fn number_to_decimal(number: &serde_json::Number) -> Result<String, Invalid> {
    if number.is_i64() || number.is_u64() {
        return parse_decimal_text(&number.to_string());
    }
    match number.as_f64() {
        Some(f) if f.is_finite() => {
            let shortest = format!("{f}");
            // Up to 15 significant digits a float gives back exactly the literal that was
            // sent; beyond that the JSON reader may have rounded it already.
            let significant = shortest.trim_start_matches('-').replace('.', "");
            let significant = significant.trim_start_matches('0').trim_end_matches('0');
            if significant.len() > 15 {
                return Err(Invalid::new(
                    codes::OUT_OF_RANGE,
                    format!("{number} has more digits than a JSON number carries exactly: send decimals as strings, e.g. \"{number}\""),
                ));
            }
            parse_decimal_text(&shortest)
        }
        _ => Err(Invalid::new(codes::INVALID_FORMAT, format!("{number} is not a decimal"))),
    }
}

/// Parses text into a type's canonical value, without looking at options. Used for CSV
/// cells and for converting text fields; the empty text is not special here.
pub(crate) fn parse_text_type(t: FieldType, text: &str) -> Result<Value, Invalid> {
    match t {
        FieldType::String | FieldType::Text | FieldType::Enum => {
            check_no_nul(text)?;
            Ok(Value::Text(text.to_string()))
        }
        FieldType::Email => {
            check_email(text)?;
            Ok(Value::Text(text.to_string()))
        }
        FieldType::Url => {
            check_url(text)?;
            Ok(Value::Text(text.to_string()))
        }
        FieldType::Integer => parse_integer_text(text).map(Value::Integer),
        FieldType::Float => parse_float_text(text).map(Value::Float),
        FieldType::Decimal => parse_decimal_text(text).map(Value::Text),
        FieldType::Boolean => parse_boolean_text(text).map(Value::Boolean),
        FieldType::Date => parse_date(text).map(Value::Text),
        FieldType::Datetime => parse_datetime(text).map(Value::Text),
        FieldType::Uuid => parse_uuid(text).map(Value::Text),
        FieldType::Relation => match parse_integer_text(text)? {
            id if id > 0 => Ok(Value::Integer(id)),
            id => Err(Invalid::new(codes::OUT_OF_RANGE, format!("must be a row id (a positive integer), got {id}"))),
        },
        FieldType::File => check_file_name(text).map(|()| Value::Text(text.to_string())),
        FieldType::Json => {
            let json = parse_json_text(text)
                .map_err(|e| Invalid::new(codes::INVALID_FORMAT, format!("{} is not valid JSON ({e})", quote(text))))?;
            if json.is_null() {
                return Ok(Value::Null);
            }
            check_json_nul(&json)?;
            Ok(Value::Json(json))
        }
    }
}

/// Parses a JSON document exactly: every float is the one its literal denotes (serde_json
/// alone may be one unit in the last place off), and a repeated object key is an error
/// rather than a value silently dropped.
pub(crate) fn parse_json_text(text: &str) -> Result<Json, String> {
    use serde::de::DeserializeSeed;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut json = ExactJson.deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    let mut literals = number_literals(text).into_iter();
    reparse_floats(&mut json, &mut literals)?;
    if literals.next().is_some() {
        return Err("numbers could not be read exactly".into());
    }
    Ok(json)
}

/// The number literals of a valid JSON text, in order.
fn number_literals(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut literals = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len() && matches!(bytes[at], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    at += 1;
                }
                literals.push(&text[start..at]);
            }
            _ => at += 1,
        }
    }
    literals
}

/// Walks the document in text order (objects keep their order) and re-reads each
/// non-integer number from its literal with Rust's correctly rounded parser.
fn reparse_floats<'a>(json: &mut Json, literals: &mut impl Iterator<Item = &'a str>) -> Result<(), String> {
    match json {
        Json::Number(number) => {
            let literal = literals.next().ok_or_else(|| "numbers could not be read exactly".to_string())?;
            if !(number.is_i64() || number.is_u64()) {
                let exact = literal
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .ok_or_else(|| format!("{literal} is not a finite number"))?;
                *number = exact;
            }
        }
        Json::Array(items) => {
            for item in items {
                reparse_floats(item, literals)?;
            }
        }
        Json::Object(map) => {
            for (_, value) in map.iter_mut() {
                reparse_floats(value, literals)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Builds a [`Json`] like serde_json does, but refuses repeated object keys.
struct ExactJson;

impl<'de> serde::de::DeserializeSeed<'de> for ExactJson {
    type Value = Json;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ExactJson {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ExactJson)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("the key {} appears twice", quote(&key))));
            }
            let value = map.next_value_seed(ExactJson)?;
            object.insert(key, value);
        }
        Ok(Json::Object(object))
    }
}

fn check_no_nul(text: &str) -> Result<(), Invalid> {
    if text.contains('\0') {
        return Err(Invalid::new(
            codes::INVALID_FORMAT,
            format!("contains a NUL character (\\u0000), which cannot be stored: {}", quote(text)),
        ));
    }
    Ok(())
}

/// Postgres cannot store NUL in text or jsonb; refusing it everywhere keeps both stores
/// alike. Walks the document with an explicit stack, so depth cannot overflow.
fn check_json_nul(json: &Json) -> Result<(), Invalid> {
    let mut stack = vec![json];
    while let Some(node) = stack.pop() {
        match node {
            Json::String(s) => check_no_nul(s)?,
            Json::Array(items) => stack.extend(items.iter()),
            Json::Object(map) => {
                for (key, value) in map {
                    check_no_nul(key)?;
                    stack.push(value);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// An integer literal: optional sign and ASCII digits (leading zeros allowed).
pub(crate) fn parse_integer_text(text: &str) -> Result<i64, Invalid> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(codes::INVALID_FORMAT, format!("must be an integer, got {}", quote(text))));
    }
    text.parse::<i64>().map_err(|_| integer_out_of_range(&quote(text)))
}

/// A decimal literal (optional exponent) that names one float without rounding: `0.1`,
/// `0.10000000000000001` and the exact `0.1000000000000000055511151231257827021181583404541015625`
/// all read as the float 0.1, while `0.10000000000000000001` is refused rather than rounded.
pub(crate) fn parse_float_text(text: &str) -> Result<f64, Invalid> {
    let decimal = match Decimal::parse(text) {
        Ok(decimal) => decimal,
        Err(DecimalError::Syntax) => {
            return Err(Invalid::new(codes::INVALID_FORMAT, format!("must be a number, got {}", quote(text))))
        }
        Err(DecimalError::Magnitude) => {
            return Err(Invalid::new(codes::OUT_OF_RANGE, format!("{} is outside the float range", quote(text))))
        }
    };
    let float = text.parse::<f64>().unwrap_or(f64::NAN);
    if !float.is_finite() {
        return Err(Invalid::new(codes::OUT_OF_RANGE, format!("{} is outside the float range", quote(text))));
    }
    // The text must name the float: its shortest form (the one the API shows), its
    // 17-significant-digit form (C's %.17g, which many exporters print), or its exact
    // value. Anything else carries digits the float would round away.
    let names_the_float = Decimal::from_f64(float).as_ref() == Some(&decimal)
        || Decimal::parse(&format!("{float:.16e}")).as_ref() == Ok(&decimal)
        || exact_decimal(float).as_ref() == Some(&decimal);
    if !names_the_float {
        return Err(Invalid::new(
            codes::OUT_OF_RANGE,
            format!("{} cannot be stored exactly as a float (it would become {float})", quote(text)),
        ));
    }
    Ok(float)
}

/// The exact value of a finite float as a decimal (every float is a finite binary
/// fraction, so at most 1074 fractional digits).
fn exact_decimal(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    Decimal::parse(&format!("{f:.1074}")).ok()
}

/// The float that holds an integer exactly, if there is one (always within +-2^53; beyond,
/// only integers that are a multiple of a large enough power of two).
pub(crate) fn exact_float(i: i128) -> Option<f64> {
    let f = i as f64;
    (f.is_finite() && f as i128 == i).then_some(f)
}

/// A decimal literal in canonical form (see the module documentation).
pub(crate) fn parse_decimal_text(text: &str) -> Result<String, Invalid> {
    let decimal = Decimal::parse(text).map_err(|e| match e {
        DecimalError::Syntax => {
            Invalid::new(codes::INVALID_FORMAT, format!("must be a decimal number like \"12.50\", got {}", quote(text)))
        }
        DecimalError::Magnitude => decimal_too_many_digits(text),
    })?;
    if decimal.digit_count() > DECIMAL_MAX_DIGITS {
        return Err(decimal_too_many_digits(text));
    }
    Ok(decimal.to_string())
}

fn decimal_too_many_digits(text: &str) -> Invalid {
    Invalid::new(
        codes::OUT_OF_RANGE,
        format!("{} has more than {DECIMAL_MAX_DIGITS} digits, the most a decimal holds", quote(text)),
    )
}

/// `true`/`false` in any case, or `1`/`0`.
pub(crate) fn parse_boolean_text(text: &str) -> Result<bool, Invalid> {
    if text.eq_ignore_ascii_case("true") || text == "1" {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") || text == "0" {
        Ok(false)
    } else {
        Err(Invalid::new(codes::INVALID_FORMAT, format!("must be true, false, 1 or 0, got {}", quote(text))))
    }
}

/// A lowercase hyphenated UUID; accepts any form the uuid crate reads (hyphenated in any
/// case, 32 hex digits, braced, `urn:uuid:`).
pub(crate) fn parse_uuid(text: &str) -> Result<String, Invalid> {
    uuid::Uuid::parse_str(text)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| Invalid::new(codes::INVALID_FORMAT, format!("must be a UUID, got {}", quote(text))))
}

/// A practical email check: one `@`, a non-empty local part, a domain with a dot and no
/// empty labels, no whitespace or control characters, at most 254 characters. Nothing is
/// lowercased.
pub(crate) fn check_email(text: &str) -> Result<(), Invalid> {
    let chars = text.chars().count();
    if chars > EMAIL_MAX_CHARS {
        return Err(Invalid::new(
            codes::TOO_LONG,
            format!("an email address has at most {EMAIL_MAX_CHARS} characters, got {chars}"),
        ));
    }
    let bad = || {
        Invalid::new(
            codes::INVALID_FORMAT,
            format!("must be an email address like name@example.com, got {}", quote(text)),
        )
    };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if local.is_empty() || !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(bad());
    }
    Ok(())
}

/// An absolute `http` or `https` URL with a host, no whitespace or control characters,
/// at most 2048 characters. Nothing is normalized.
pub(crate) fn check_url(text: &str) -> Result<(), Invalid> {
    let chars = text.chars().count();
    if chars > URL_MAX_CHARS {
        return Err(Invalid::new(
            codes::TOO_LONG,
            format!("a URL has at most {URL_MAX_CHARS} characters, got {chars}"),
        ));
    }
    let bad = || {
        Invalid::new(
            codes::INVALID_FORMAT,
            format!("must be an absolute http(s) URL like https://example.com/, got {}", quote(text)),
        )
    };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let rest = strip_prefix_ignore_case(text, "https://")
        .or_else(|| strip_prefix_ignore_case(text, "http://"))
        .ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
        };
        (host, port)
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && !host.chars().any(|c| matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`' | '[' | ']'));
    let port_ok = port.is_none_or(|port| {
        !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= 65535)
    });
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

// ---------------------------------------------------------------------------------------
// Dates and datetimes
// ---------------------------------------------------------------------------------------

fn bad_date(text: &str) -> Invalid {
    Invalid::new(codes::INVALID_FORMAT, format!("must be a date YYYY-MM-DD, got {}", quote(text)))
}

fn bad_datetime(text: &str) -> Invalid {
    Invalid::new(
        codes::INVALID_FORMAT,
        format!("must be a date-time like 2024-05-01T12:30:00Z (RFC 3339), got {}", quote(text)),
    )
}

fn year_out_of_range(text: &str) -> Invalid {
    Invalid::new(codes::OUT_OF_RANGE, format!("{} is outside the years 0001 to 9999", quote(text)))
}

/// Reads `n` ASCII digits at `at` as a number.
fn digits_at(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = bytes.get(at..at + n)?;
    slice.iter().try_fold(0u32, |acc, b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

/// Reads `YYYY-MM-DD` at the start of `bytes`.
fn date_prefix(bytes: &[u8], text: &str, bad: fn(&str) -> Invalid) -> Result<NaiveDate, Invalid> {
    let year = digits_at(bytes, 0, 4).ok_or_else(|| bad(text))?;
    let month = digits_at(bytes, 5, 2).ok_or_else(|| bad(text))?;
    let day = digits_at(bytes, 8, 2).ok_or_else(|| bad(text))?;
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return Err(bad(text));
    }
    if year == 0 {
        return Err(year_out_of_range(text));
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or_else(|| Invalid::new(codes::INVALID_FORMAT, format!("{} is not a calendar date", quote(text))))
}

/// A calendar date `YYYY-MM-DD`, years 0001 to 9999.
pub(crate) fn parse_date(text: &str) -> Result<String, Invalid> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 {
        return Err(bad_date(text));
    }
    let date = date_prefix(bytes, text, bad_date)?;
    Ok(format_date(date))
}

fn format_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// A date-time in canonical UTC form. Accepts RFC 3339 with `T`, `t` or a space between
/// date and time, seconds optional, up to 6 fractional digits (more only if the extra ones
/// are zeros: nothing is rounded away), and `Z`, `z`, `+HH:MM` or `-HH:MM` (none means
/// UTC). A bare date is midnight UTC.
pub(crate) fn parse_datetime(text: &str) -> Result<String, Invalid> {
    let bytes = text.as_bytes();
    if bytes.len() < 10 {
        return Err(bad_datetime(text));
    }
    let date = date_prefix(bytes, text, bad_datetime)?;
    if bytes.len() == 10 {
        return Ok(format_datetime(NaiveDateTime::new(date, NaiveTime::MIN)));
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') {
        return Err(bad_datetime(text));
    }
    let hour = digits_at(bytes, 11, 2).ok_or_else(|| bad_datetime(text))?;
    if bytes.get(13) != Some(&b':') {
        return Err(bad_datetime(text));
    }
    let minute = digits_at(bytes, 14, 2).ok_or_else(|| bad_datetime(text))?;
    let mut at = 16;
    let mut second = 0;
    let mut micros = 0;
    if bytes.get(at) == Some(&b':') {
        second = digits_at(bytes, at + 1, 2).ok_or_else(|| bad_datetime(text))?;
        at += 3;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let fraction = &bytes[start..at];
            if fraction.is_empty() {
                return Err(bad_datetime(text));
            }
            if fraction.len() > 6 && fraction[6..].iter().any(|&d| d != b'0') {
                return Err(Invalid::new(
                    codes::INVALID_FORMAT,
                    format!(
                        "{} has more than 6 fractional digits of seconds; datetimes keep microseconds, and rounding is refused",
                        quote(text)
                    ),
                ));
            }
            for position in 0..6 {
                let digit = fraction.get(position).map_or(0, |d| u32::from(d - b'0'));
                micros = micros * 10 + digit;
            }
        }
    }
    let offset_seconds: i64 = match &bytes[at..] {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] => {
            let rest = &bytes[at..];
            if rest.len() != 6 || rest[3] != b':' {
                return Err(bad_datetime(text));
            }
            let hours = digits_at(rest, 1, 2).ok_or_else(|| bad_datetime(text))?;
            let minutes = digits_at(rest, 4, 2).ok_or_else(|| bad_datetime(text))?;
            if hours > 23 || minutes > 59 {
                return Err(bad_datetime(text));
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return Err(bad_datetime(text)),
    };
    if hour > 23 || minute > 59 || second > 59 {
        return Err(Invalid::new(codes::INVALID_FORMAT, format!("{} is not a valid time of day", quote(text))));
    }
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros).ok_or_else(|| bad_datetime(text))?;
    let local = NaiveDateTime::new(date, time);
    let utc =
        local.checked_sub_signed(chrono::TimeDelta::seconds(offset_seconds)).ok_or_else(|| year_out_of_range(text))?;
    if !(1..=9999).contains(&utc.year()) {
        return Err(year_out_of_range(text));
    }
    Ok(format_datetime(utc))
}

fn format_datetime(utc: NaiveDateTime) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}.{:06}Z",
        format_date(utc.date()),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.nanosecond() / 1000
    )
}

// ---------------------------------------------------------------------------------------
// Decimals
// ---------------------------------------------------------------------------------------

/// Largest decimal exponent handled while reading a literal; beyond it a number is too
/// large or too small for every numeric type (f64 spans about 1e-324 to 1e308).
const DECIMAL_MAX_SHIFT: i64 = 400;

/// Why a text is not a decimal literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalError {
    Syntax,
    Magnitude,
}

/// An exact decimal number in normalized form: `int` has no leading zeros, `frac` no
/// trailing zeros; zero is `int = frac = ""` and never negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    int: String,
    frac: String,
}

impl Decimal {
    /// Reads `[+-]digits[.digits][e[+-]digits]` (at least one mantissa digit).
    pub(crate) fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let bytes = text.as_bytes();
        let mut at = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                at = 1;
                true
            }
            Some(b'+') => {
                at = 1;
                false
            }
            _ => false,
        };
        let int_start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let int_digits = &text[int_start..at];
        let mut frac_digits = "";
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            let frac_start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            frac_digits = &text[frac_start..at];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(DecimalError::Syntax);
        }
        let mut exponent: i64 = 0;
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            let exponent_negative = match bytes.get(at) {
                Some(b'-') => {
                    at += 1;
                    true
                }
                Some(b'+') => {
                    at += 1;
                    false
                }
                _ => false,
            };
            let start = at;
            while let Some(d) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
                // Saturate: anything past the shift limit is out of range anyway.
                exponent = (exponent * 10 + i64::from(d - b'0')).min(1_000_000);
                at += 1;
            }
            if at == start {
                return Err(DecimalError::Syntax);
            }
            if exponent_negative {
                exponent = -exponent;
            }
        }
        if at != bytes.len() {
            return Err(DecimalError::Syntax);
        }
        let mut digits = String::with_capacity(int_digits.len() + frac_digits.len());
        digits.push_str(int_digits);
        digits.push_str(frac_digits);
        let leading_zeros = digits.bytes().take_while(|&b| b == b'0').count();
        let significant = digits[leading_zeros..].trim_end_matches('0');
        if significant.is_empty() {
            return Ok(Decimal::zero());
        }
        // Position of the decimal point relative to the start of `significant`.
        let point = int_digits.len() as i64 - leading_zeros as i64 + exponent;
        if !(-DECIMAL_MAX_SHIFT..=DECIMAL_MAX_SHIFT).contains(&point) {
            return Err(DecimalError::Magnitude);
        }
        let length = significant.len() as i64;
        let (int, frac) = if point <= 0 {
            let mut frac = "0".repeat((-point) as usize);
            frac.push_str(significant);
            (String::new(), frac)
        } else if point >= length {
            let mut int = significant.to_string();
            int.push_str(&"0".repeat((point - length) as usize));
            (int, String::new())
        } else {
            let (int, frac) = significant.split_at(point as usize);
            (int.to_string(), frac.to_string())
        };
        Ok(Decimal { negative, int, frac })
    }

    fn zero() -> Decimal {
        Decimal { negative: false, int: String::new(), frac: String::new() }
    }

    /// The exact decimal a float's shortest round-trip form denotes.
    pub(crate) fn from_f64(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        Decimal::parse(&format!("{f}")).ok()
    }

    /// Digits before plus after the point (`0.05` has 2, `120` has 3, `0` has 0).
    pub(crate) fn digit_count(&self) -> usize {
        self.int.len() + self.frac.len()
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        self.int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(&other.int))
            .then_with(|| self.frac.cmp(&other.frac))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        if self.int.is_empty() {
            f.write_str("0")?;
        } else {
            f.write_str(&self.int)?;
        }
        if !self.frac.is_empty() {
            write!(f, ".{}", self.frac)?;
        }
        Ok(())
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

/// A text quoted as a JSON string, shortened to 80 characters.
pub(crate) fn quote(text: &str) -> String {
    const SHOWN: usize = 80;
    let mut chars = text.char_indices();
    match chars.nth(SHOWN) {
        None => Json::String(text.to_string()).to_string(),
        Some((cut, _)) => format!("{}...", Json::String(text[..cut].to_string())),
    }
}

/// A short description of a JSON value for messages.
pub(crate) fn describe(json: &Json) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => quote(s),
        Json::Array(_) => "an array".into(),
        Json::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_normalize_and_order() {
        let d = |s: &str| Decimal::parse(s).unwrap();
        for (input, canonical, digits) in [
            ("0", "0", 0),
            ("-0.0", "0", 0),
            ("000120.0500", "120.05", 5),
            ("-.5", "-0.5", 1),
            ("1.5e2", "150", 3),
            ("15e-3", "0.015", 3),
            ("1E+2", "100", 3),
        ] {
            assert_eq!(d(input).to_string(), canonical, "{input}");
            assert_eq!(d(input).digit_count(), digits, "{input}");
        }
        for bad in ["", "+", "-", ".", "e5", "1e", "1.2.3", "1x", " 1", "0x1"] {
            assert_eq!(Decimal::parse(bad), Err(DecimalError::Syntax), "{bad:?}");
        }
        assert_eq!(Decimal::parse("1e401"), Err(DecimalError::Magnitude));
        assert_eq!(Decimal::parse("1e-402"), Err(DecimalError::Magnitude));
        assert!(Decimal::parse("1e-399").is_ok());
        assert_eq!(d("0e99999999999999999999"), Decimal::zero());
        let ordered = ["-100", "-2.5", "-2", "-0.01", "0", "0.001", "0.01", "0.1", "1", "1.5", "2", "10", "100.5"];
        for pair in ordered.windows(2) {
            assert!(d(pair[0]) < d(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(d(pair[1]) > d(pair[0]));
        }
        assert_eq!(d("2.50").cmp(&d("2.5")), Ordering::Equal);
        assert_eq!(Decimal::from_f64(0.1).unwrap().to_string(), "0.1");
        assert_eq!(Decimal::from_f64(f64::NAN), None);
    }

    #[test]
    fn integers_compare_exactly_with_floats() {
        let two_53 = 9_007_199_254_740_992.0;
        assert_eq!(cmp_i64_f64(9_007_199_254_740_993, two_53), Ordering::Greater);
        assert_eq!(cmp_i64_f64(9_007_199_254_740_992, two_53), Ordering::Equal);
        assert_eq!(cmp_i64_f64(1, 0.5), Ordering::Greater);
        assert_eq!(cmp_i64_f64(0, 0.5), Ordering::Less);
        assert_eq!(cmp_i64_f64(-1, -0.5), Ordering::Less);
        assert_eq!(cmp_i64_f64(0, -0.5), Ordering::Greater);
        assert_eq!(cmp_i64_f64(i64::MAX, 2f64.powi(63)), Ordering::Less);
        assert_eq!(cmp_i64_f64(i64::MIN, -(2f64.powi(63))), Ordering::Equal);
        assert_eq!(cmp_i64_f64(i64::MIN, -1e19), Ordering::Greater);
        assert_eq!(cmp_i64_f64(0, -0.0), Ordering::Equal);
    }

    #[test]
    fn number_literals_skip_strings() {
        assert_eq!(number_literals(r#"{"a1": -1.5e3, "b\"2": ["3", 4, true, null, 0.25]}"#), ["-1.5e3", "4", "0.25"]);
    }

    #[test]
    fn rust_float_display_is_shortest_and_plain() {
        // The canonical float text relies on these properties of `{}`.
        assert_eq!(format!("{}", 0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format!("{}", 1e21), "1000000000000000000000");
        assert_eq!(format!("{}", 1e-7), "0.0000001");
        assert_eq!(format!("{}", 1.0), "1");
        assert_eq!(format!("{}", -0.0), "-0");
        assert!(!format!("{}", f64::MAX).contains('e'));
    }

    #[test]
    fn quote_shortens_on_a_character_boundary() {
        assert_eq!(quote("ab"), "\"ab\"");
        let long = "é".repeat(100);
        let quoted = quote(&long);
        assert!(quoted.ends_with("\"..."));
        assert_eq!(quoted.chars().filter(|c| *c == 'é').count(), 80);
    }
}
