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

/// Orders two canonical decimal texts by value (see `validate` for the canonical form:
/// optional `-`, no leading zeros, no trailing fractional zeros). Exact at any precision,
/// unlike a comparison through floats. Non-canonical text falls back to byte order after
/// the numeric order of whatever parses, so the order stays total.
pub fn compare_decimal_text(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn split(text: &str) -> Option<(bool, &str, &str)> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let canonical = !integer.is_empty()
            && integer.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && (integer == "0" || !integer.starts_with('0'))
            && !fraction.ends_with('0')
            && !(negative && integer == "0" && fraction.is_empty());
        canonical.then_some((negative, integer, fraction))
    }
    match (split(a), split(b)) {
        (Some((a_negative, a_integer, a_fraction)), Some((b_negative, b_integer, b_fraction))) => {
            let magnitude = a_integer
                .len()
                .cmp(&b_integer.len())
                .then_with(|| a_integer.cmp(b_integer))
                .then_with(|| a_fraction.cmp(b_fraction));
            match (a_negative, b_negative) {
                (false, false) => magnitude,
                (true, true) => magnitude.reverse(),
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
            }
        }
        _ => {
            let parse = |t: &str| t.parse::<f64>().unwrap_or(f64::NAN);
            parse(a).partial_cmp(&parse(b)).unwrap_or(Ordering::Equal).then_with(|| a.cmp(b))
        }
    }
}

/// A float as the shortest JSON number text that reads back as the same float.
pub fn float_json_text(f: f64) -> String {
    let mut out = String::new();
    push_float_json_text(&mut out, f);
    out
}

/// [`float_json_text`] appended to `out`, without a String of its own (every float of
/// every row read from SQLite).
pub fn push_float_json_text(out: &mut String, f: f64) {
    use std::fmt::Write;
    // Debug formatting is the shortest round-trip form and switches to an exponent for
    // very large or small magnitudes (Display would print hundreds of digits).
    let _ = write!(out, "{f:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn decimal_order_is_exact() {
        assert_eq!(compare_decimal_text("0.1", "0.10000000000000001"), Less);
        assert_eq!(compare_decimal_text("12345678901234567890.2", "12345678901234567890.1"), Greater);
        assert_eq!(compare_decimal_text("-2", "-10"), Greater);
        assert_eq!(compare_decimal_text("-0.5", "0"), Less);
        assert_eq!(compare_decimal_text("9.99", "10"), Less);
        assert_eq!(compare_decimal_text("0.5", "0.55"), Less);
        assert_eq!(compare_decimal_text("0.6", "0.55"), Greater);
        assert_eq!(compare_decimal_text("42", "42"), Equal);
    }

    #[test]
    fn float_text_round_trips() {
        for f in [0.30000000000000004, 1.2345678901234567, 1.7976931348623157e308, 70.0, -0.0, 5e-324] {
            let text = float_json_text(f);
            assert_eq!(text.parse::<f64>().unwrap(), f);
            assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{text}");
        }
    }
}
