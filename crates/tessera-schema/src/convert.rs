//! Type conversions between field definitions: how a change of a field's type or options
//! treats the values already stored.
//!
//! Every pair of the 13 types has a deliberate answer in [`type_conversion`]; `docs/schema-changes.md`
//! is the user-facing table. [`classify`] refines it with the options of both definitions,
//! and [`convert`] (or a [`Converter`], which compiles the target's pattern once) converts
//! one stored value.
//!
//! The invariant everything here keeps: a conversion either reproduces the value exactly in
//! the new type or fails with a message quoting it. Nothing is truncated, rounded, nulled or
//! guessed. `Lossless` means no valid value of the old definition can fail (and converting
//! back, where a way back exists, gives the original); `Checked` means some could, so the
//! store converts every row first and refuses the change if any fails.

use crate::field::{FieldDef, FieldType};
use crate::validate::{
    codes, coerce_type, describe, exact_float, float_to_integer, parse_date, parse_datetime, parse_decimal_text,
    parse_float_text, parse_integer_text, parse_text_type, quote, FieldChecker, Invalid, EMAIL_MAX_CHARS,
    FLOAT_EXACT_INT, URL_MAX_CHARS,
};
use crate::value::Value;
use serde::Serialize;
use serde_json::Value as Json;

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

impl Conversion {
    /// The stricter of two classifications.
    fn and(self, other: Conversion) -> Conversion {
        use Conversion::*;
        match (self, other) {
            (Refused, _) | (_, Refused) => Refused,
            (Checked, _) | (_, Checked) => Checked,
            (Lossless, Lossless) => Lossless,
        }
    }

    /// The letter used in the documented table: `L`, `C` or `R`.
    pub fn letter(self) -> char {
        match self {
            Conversion::Lossless => 'L',
            Conversion::Checked => 'C',
            Conversion::Refused => 'R',
        }
    }
}

/// The conversion between two bare types (no options), the 13x13 table of
/// `docs/schema-changes.md`.
///
/// The reasoning, in the order of the arms:
/// - every type has a canonical text, so anything -> string/text is lossless;
/// - string/text may hold anything, so text -> any other type is checked (json: the text
///   must be a JSON document, which is parsed);
/// - json may hold anything, so json -> any other type is checked (the JSON value is read
///   as a request body would be);
/// - every type has a JSON form (a number, a boolean or a string), so anything -> json is
///   lossless;
/// - anything -> enum is checked (its text must be one of the values); enum -> a typed
///   field is checked (each value must parse);
/// - numbers and booleans convert among themselves (booleans as 0/1), exactly or not at all;
/// - date -> datetime is midnight UTC; datetime -> date only at midnight UTC;
/// - everything else is refused: dates, datetimes, uuids, emails and urls share no value
///   with numbers, booleans or each other, and the conversions one could invent (an
///   integer as days or seconds since 1970, say) are ambiguous guesses.
pub fn type_conversion(from: FieldType, to: FieldType) -> Conversion {
    use Conversion::*;
    use FieldType::*;
    if from == to {
        return Lossless;
    }
    match (from, to) {
        // A link or a stored file name has no meaning as another type, nor the reverse.
        (Relation | File, _) | (_, Relation | File) => Refused,
        (_, String | Text) => Lossless,
        (String | Text, _) => Checked,
        (Json, _) => Checked,
        (_, Json) => Lossless,
        (_, Enum) | (Enum, _) => Checked,
        (Integer, Decimal) | (Boolean, Integer | Float | Decimal) => Lossless,
        (Integer, Float | Boolean) => Checked,
        (Float, Integer | Decimal | Boolean) | (Decimal, Integer | Float | Boolean) => Checked,
        (Date, Datetime) => Lossless,
        (Datetime, Date) => Checked,
        _ => Refused,
    }
}

/// Classifies a change from one definition to another (type and options).
///
/// Starts from [`type_conversion`], then:
/// - boolean and enum fields have finitely many values, so each one is converted (and
///   converted back) and the change is lossless exactly when all of them survive;
/// - integer -> float is lossless when `min` and `max` keep the field within +-2^53;
/// - the target's options must be implied by the source's: a `max_length` at least the
///   longest text the source can produce, the same `pattern`, `min`/`max` no tighter than
///   the source's, no enum `values` unless the source is a boolean or enum; otherwise the
///   change is checked;
/// - becoming `required` or `unique` is checked (the store checks nulls and duplicates);
/// - `default` and `indexed` never matter, and loosening an option is lossless.
pub fn classify(from: &FieldDef, to: &FieldDef) -> Conversion {
    let by_type = type_conversion(from.field_type, to.field_type);
    if by_type == Conversion::Refused {
        return Conversion::Refused;
    }
    // Another target table, or a single value becoming a list: the stored ids or names
    // mean something else. Drop the field and add a new one instead.
    if from.target != to.target || from.multiple != to.multiple {
        return Conversion::Refused;
    }
    if from == to {
        return Conversion::Lossless;
    }
    let values = match finite_domain(from) {
        Some(domain) => {
            if every_value_survives(&domain, from, to) {
                Conversion::Lossless
            } else {
                Conversion::Checked
            }
        }
        None => {
            let bounded_int_to_float =
                from.field_type == FieldType::Integer && to.field_type == FieldType::Float && within_exact_float(from);
            let base = if bounded_int_to_float { Conversion::Lossless } else { by_type };
            if options_implied(from, to) {
                base
            } else {
                base.and(Conversion::Checked)
            }
        }
    };
    let mut result = values;
    if to.required && !from.required {
        result = result.and(Conversion::Checked);
    }
    if to.unique && !from.unique {
        result = result.and(Conversion::Checked);
    }
    result
}

/// The values a boolean or enum field can hold (enum values its own options refuse are
/// left out); `None` for the other types.
fn finite_domain(def: &FieldDef) -> Option<Vec<Value>> {
    match def.field_type {
        FieldType::Boolean => Some(vec![Value::Boolean(false), Value::Boolean(true)]),
        FieldType::Enum => {
            let checker = FieldChecker::new(def);
            Some(
                def.values
                    .iter()
                    .flatten()
                    .map(|v| Value::Text(v.clone()))
                    .filter(|v| checker.check(v).is_ok())
                    .collect(),
            )
        }
        _ => None,
    }
}

fn every_value_survives(domain: &[Value], from: &FieldDef, to: &FieldDef) -> bool {
    let forward = Converter::new(from, to);
    let has_way_back = type_conversion(to.field_type, from.field_type) != Conversion::Refused;
    let back = Converter::new(to, from);
    domain.iter().all(|value| {
        // `required` is judged separately; a value is never null here.
        match forward.convert_coded(value) {
            Ok(converted) => !has_way_back || back.convert_coded(&converted).as_ref() == Ok(value),
            Err(_) => false,
        }
    })
}

fn within_exact_float(def: &FieldDef) -> bool {
    let limit = FLOAT_EXACT_INT as f64;
    def.min.is_some_and(|min| min >= -limit) && def.max.is_some_and(|max| max <= limit)
}

/// Whether every value the source can hold, once converted, meets the target's options
/// (for types with infinitely many values; `required` and `unique` are judged apart).
fn options_implied(from: &FieldDef, to: &FieldDef) -> bool {
    if let Some(max_length) = to.max_length {
        if text_length_bound(from).is_none_or(|bound| bound > max_length as usize) {
            return false;
        }
    }
    // A pattern on the source means its values are text that converts unchanged.
    if to.pattern.is_some() && from.pattern != to.pattern {
        return false;
    }
    if to.values.is_some() {
        return false;
    }
    let numeric = from.field_type.is_numeric();
    if let Some(min) = to.min {
        if !(numeric && from.min.is_some_and(|from_min| from_min >= min)) {
            return false;
        }
    }
    if let Some(max) = to.max {
        if !(numeric && from.max.is_some_and(|from_max| from_max <= max)) {
            return false;
        }
    }
    true
}

/// The most characters the canonical text of a value of `def` can have, if bounded.
fn text_length_bound(def: &FieldDef) -> Option<usize> {
    let limit = def.max_length.map(|m| m as usize);
    match def.field_type {
        FieldType::String | FieldType::Text => limit,
        FieldType::Email => Some(limit.map_or(EMAIL_MAX_CHARS, |m| m.min(EMAIL_MAX_CHARS))),
        FieldType::Url => Some(limit.map_or(URL_MAX_CHARS, |m| m.min(URL_MAX_CHARS))),
        FieldType::Enum => def.values.iter().flatten().map(|v| v.chars().count()).max(),
        // "-9223372036854775808"
        FieldType::Integer => Some(20),
        // 38 digits, a sign and a point.
        FieldType::Decimal => Some(40),
        FieldType::Boolean => Some(5),
        FieldType::Date => Some(10),
        // "2024-05-01T12:30:00.000000Z"
        FieldType::Datetime => Some(27),
        FieldType::Uuid => Some(36),
        // The shortest form of a float can run to hundreds of digits (1e300).
        FieldType::Relation => Some(20),
        FieldType::Float | FieldType::Json | FieldType::File => None,
    }
}

/// Converts one stored value, or says why it cannot be converted.
pub fn convert(value: &Value, from: &FieldDef, to: &FieldDef) -> Result<Value, String> {
    Converter::new(from, to).convert(value)
}

/// Converts many stored values from one definition to another; the target's pattern is
/// compiled once.
#[derive(Debug, Clone)]
pub struct Converter {
    from: FieldType,
    to: FieldChecker,
}

impl Converter {
    pub fn new(from: &FieldDef, to: &FieldDef) -> Converter {
        Converter { from: from.field_type, to: FieldChecker::new(to) }
    }

    /// Converts one stored value (canonical form of the source type) and checks every
    /// option of the target, `required` included; the message quotes the value.
    pub fn convert(&self, value: &Value) -> Result<Value, String> {
        self.convert_coded(value).map_err(|e| e.message)
    }

    /// [`Converter::convert`] with an error code.
    pub fn convert_coded(&self, value: &Value) -> Result<Value, Invalid> {
        let to_type = self.to.def().field_type;
        let converted = if matches!(value, Value::Null | Value::Json(Json::Null)) {
            Value::Null
        } else {
            let converted = convert_type(value, self.from, to_type)?;
            if converted.is_null() {
                return Err(Invalid::new(
                    codes::INVALID_FORMAT,
                    format!(
                        "{} would become null as a {to_type}; nothing is nulled silently",
                        describe(&value.to_json())
                    ),
                ));
            }
            converted
        };
        self.to.check(&converted)?;
        Ok(converted)
    }
}

/// A stored value seen through its source type.
enum Source<'a> {
    Text(&'a str),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Json(&'a Json),
}

impl<'a> Source<'a> {
    fn of(value: &'a Value, from: FieldType) -> Result<Source<'a>, Invalid> {
        use FieldType::*;
        match (from, value) {
            (Integer | Relation, Value::Integer(i)) => Ok(Source::Integer(*i)),
            (Relation | File, Value::Json(j)) => Ok(Source::Json(j)),
            (Float, Value::Float(f)) if f.is_finite() => Ok(Source::Float(*f)),
            (Boolean, Value::Boolean(b)) => Ok(Source::Boolean(*b)),
            (Json, Value::Json(j)) => Ok(Source::Json(j)),
            (String | Text | Enum | Email | Url | Decimal | Date | Datetime | Uuid | File, Value::Text(s)) => {
                Ok(Source::Text(s))
            }
            _ => Err(Invalid::new(
                codes::WRONG_TYPE,
                format!("the stored value {} is not a {from} value", describe(&value.to_json())),
            )),
        }
    }
}

/// Converts a non-null value between bare types (options are checked by the caller).
fn convert_type(value: &Value, from: FieldType, to: FieldType) -> Result<Value, Invalid> {
    if type_conversion(from, to) == Conversion::Refused {
        return Err(Invalid::new(
            codes::WRONG_TYPE,
            format!("a {from} value cannot become a {to}: no conversion exists"),
        ));
    }
    let source = Source::of(value, from)?;
    if from == to {
        return Ok(value.clone());
    }
    match to {
        FieldType::String | FieldType::Text => canonical_text(&source).map(Value::Text),
        FieldType::Json => to_json(&source, from),
        _ => match source {
            Source::Json(json) => json_to(json, to),
            Source::Text(text) => text_to(text, from, to),
            Source::Integer(i) => integer_to(i, to),
            Source::Float(f) => float_to(f, to),
            Source::Boolean(b) => Ok(boolean_to(b, to)),
        },
    }
}

/// The text a value shows as: text as is, numbers in shortest plain notation, booleans as
/// `true`/`false`, JSON in compact serialization (a JSON string keeps its quotes, so
/// converting back to json gives the same document).
fn canonical_text(source: &Source<'_>) -> Result<String, Invalid> {
    Ok(match source {
        Source::Text(text) => (*text).to_string(),
        Source::Integer(i) => i.to_string(),
        Source::Float(f) => format!("{f}"),
        Source::Boolean(b) => b.to_string(),
        Source::Json(json) => {
            serde_json::to_string(json).map_err(|e| Invalid::new(codes::INVALID_FORMAT, e.to_string()))?
        }
    })
}

fn to_json(source: &Source<'_>, from: FieldType) -> Result<Value, Invalid> {
    match source {
        // Free text holds JSON documents: parse (the inverse of json -> text).
        Source::Text(text) if matches!(from, FieldType::String | FieldType::Text) => {
            parse_text_type(FieldType::Json, text)
        }
        // Typed text (decimal, date, datetime, uuid, email, url, enum) is a JSON string,
        // as the API shows it.
        Source::Text(text) => Ok(Value::Json(Json::String((*text).to_string()))),
        Source::Integer(i) => Ok(Value::Json(Json::from(*i))),
        Source::Float(f) => serde_json::Number::from_f64(*f)
            .map(|n| Value::Json(Json::Number(n)))
            .ok_or_else(|| Invalid::new(codes::OUT_OF_RANGE, format!("{f} is not a finite number"))),
        Source::Boolean(b) => Ok(Value::Json(Json::Bool(*b))),
        Source::Json(json) => Ok(Value::Json((*json).clone())),
    }
}

/// JSON is read the way a request body is, except that an integer must be exact as a
/// float.
fn json_to(json: &Json, to: FieldType) -> Result<Value, Invalid> {
    if let (FieldType::Float, Json::Number(number)) = (to, json) {
        if let Some(i) = number.as_i64() {
            return integer_to(i, FieldType::Float);
        }
        if let Some(u) = number.as_u64() {
            return exact_float(i128::from(u)).map(Value::Float).ok_or_else(|| not_exact_float(&number.to_string()));
        }
    }
    coerce_type(to, json)
}

fn text_to(text: &str, from: FieldType, to: FieldType) -> Result<Value, Invalid> {
    use FieldType::*;
    match (from, to) {
        (String | Text | Enum | Email | Url, _) => parse_text_type(to, text),
        (Decimal, Integer) => {
            if text.contains('.') {
                return Err(Invalid::new(
                    codes::INVALID_FORMAT,
                    format!("{} has a fractional part; an integer cannot hold it", quote(text)),
                ));
            }
            parse_integer_text(text).map(Value::Integer)
        }
        (Decimal, Float) => parse_float_text(text).map(Value::Float),
        (Decimal, Boolean) => match text {
            "0" => Ok(Value::Boolean(false)),
            "1" => Ok(Value::Boolean(true)),
            _ => Err(not_a_flag(&quote(text))),
        },
        (Date, Datetime) => {
            let date = parse_date(text)?;
            Ok(Value::Text(format!("{date}T00:00:00.000000Z")))
        }
        (Datetime, Date) => {
            let canonical = parse_datetime(text)?;
            match canonical.strip_suffix("T00:00:00.000000Z") {
                Some(date) => Ok(Value::Text(date.to_string())),
                None => Err(Invalid::new(
                    codes::INVALID_FORMAT,
                    format!("{} is not midnight UTC; a date cannot hold its time of day", quote(text)),
                )),
            }
        }
        (Decimal | Date | Datetime | Uuid, Enum) => Ok(Value::Text(text.to_string())),
        _ => Err(Invalid::new(codes::WRONG_TYPE, format!("a {from} value cannot become a {to}: no conversion exists"))),
    }
}

fn not_a_flag(shown: &str) -> Invalid {
    Invalid::new(codes::OUT_OF_RANGE, format!("{shown} is neither 0 nor 1, so it cannot become a boolean"))
}

fn not_exact_float(shown: &str) -> Invalid {
    Invalid::new(
        codes::OUT_OF_RANGE,
        format!("{shown} has no exact float: beyond +-2^53 ({FLOAT_EXACT_INT}) a float holds only some integers"),
    )
}

fn integer_to(i: i64, to: FieldType) -> Result<Value, Invalid> {
    match to {
        FieldType::Float => exact_float(i128::from(i)).map(Value::Float).ok_or_else(|| not_exact_float(&i.to_string())),
        FieldType::Decimal | FieldType::Enum => Ok(Value::Text(i.to_string())),
        FieldType::Boolean => match i {
            0 => Ok(Value::Boolean(false)),
            1 => Ok(Value::Boolean(true)),
            _ => Err(not_a_flag(&i.to_string())),
        },
        _ => Err(Invalid::new(codes::WRONG_TYPE, format!("an integer cannot become a {to}"))),
    }
}

fn float_to(f: f64, to: FieldType) -> Result<Value, Invalid> {
    match to {
        FieldType::Integer => {
            if f.fract() != 0.0 {
                return Err(Invalid::new(
                    codes::INVALID_FORMAT,
                    format!("{f} has a fractional part; an integer cannot hold it"),
                ));
            }
            float_to_integer(f).ok_or_else(|| {
                Invalid::new(
                    codes::OUT_OF_RANGE,
                    format!("{f} is outside the integer range ({} to {})", i64::MIN, i64::MAX),
                )
            })
        }
        FieldType::Decimal => parse_decimal_text(&format!("{f}")).map(Value::Text),
        FieldType::Enum => Ok(Value::Text(format!("{f}"))),
        FieldType::Boolean => {
            if f == 0.0 {
                Ok(Value::Boolean(false))
            } else if f == 1.0 {
                Ok(Value::Boolean(true))
            } else {
                Err(not_a_flag(&f.to_string()))
            }
        }
        _ => Err(Invalid::new(codes::WRONG_TYPE, format!("a float cannot become a {to}"))),
    }
}

fn boolean_to(b: bool, to: FieldType) -> Value {
    match to {
        FieldType::Integer => Value::Integer(i64::from(b)),
        FieldType::Float => Value::Float(if b { 1.0 } else { 0.0 }),
        FieldType::Decimal => Value::Text(if b { "1" } else { "0" }.to_string()),
        _ => Value::Text(b.to_string()),
    }
}
