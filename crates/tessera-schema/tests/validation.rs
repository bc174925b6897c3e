//! Input validation: which JSON each type accepts, the canonical value it becomes, every
//! option, every error code, CSV text input, defaults and whole-row validation.

mod common;

use common::*;
use serde_json::{json, Value as Json};
use tessera_schema::validate::{
    check_default, check_value, codes, coerce, coerce_coded, coerce_text, coerce_text_coded, FieldChecker,
    RowValidator, WriteMode,
};
use tessera_schema::{parse_fields, TableSchema, Value};

#[track_caller]
fn accepts(spec: Json, input: Json, expected: Value) {
    let field = def(spec.clone());
    match coerce_coded(&field, &input) {
        Ok(value) => assert!(same(&value, &expected), "{spec} with {input}: got {value:?}, expected {expected:?}"),
        Err(e) => panic!("{spec} should accept {input}: {} ({})", e.message, e.code),
    }
    // The plain-message form agrees.
    assert!(coerce(&field, &input).is_ok());
}

#[track_caller]
fn refuses(spec: Json, input: Json, code: &str) {
    let field = def(spec.clone());
    match coerce_coded(&field, &input) {
        Ok(value) => panic!("{spec} should refuse {input}, got {value:?}"),
        Err(e) => {
            assert_eq!(e.code, code, "{spec} with {input}: {}", e.message);
            assert!(!e.message.is_empty());
            assert_eq!(coerce(&field, &input).unwrap_err(), e.message);
        }
    }
}

#[test]
fn integer_values() {
    accepts(json!("integer"), json!(5), int(5));
    accepts(json!("integer"), json!(-5), int(-5));
    accepts(json!("integer"), json!(5.0), int(5));
    accepts(json!("integer"), json!(-0.0), int(0));
    // A float literal is exact only below 2^53: beyond, it may already be rounded.
    accepts(json!("integer"), json!(9_007_199_254_740_991.0), int(9_007_199_254_740_991));
    refuses(json!("integer"), json!(9_007_199_254_740_992.0), codes::OUT_OF_RANGE);
    refuses(json!("integer"), json!(1e18), codes::OUT_OF_RANGE);
    accepts(json!("integer"), json!(i64::MAX), int(i64::MAX));
    accepts(json!("integer"), json!(i64::MIN), int(i64::MIN));
    accepts(json!("integer"), json!(null), Value::Null);
    refuses(json!("integer"), json!(5.5), codes::WRONG_TYPE);
    refuses(json!("integer"), json!("5"), codes::WRONG_TYPE);
    refuses(json!("integer"), json!(true), codes::WRONG_TYPE);
    refuses(json!("integer"), json!([5]), codes::WRONG_TYPE);
    refuses(json!("integer"), json!({"n": 5}), codes::WRONG_TYPE);
    refuses(json!("integer"), json!(9_223_372_036_854_775_808u64), codes::OUT_OF_RANGE);
    refuses(json!("integer"), json!(1e19), codes::OUT_OF_RANGE);
    refuses(json!("integer"), json!(-1e19), codes::OUT_OF_RANGE);
    refuses(json!("integer"), json!(2f64.powi(63)), codes::OUT_OF_RANGE);
    refuses(json!("integer"), json!(-(2f64.powi(63))), codes::OUT_OF_RANGE);
    let message = coerce(&def(json!("integer")), &json!(u64::MAX)).unwrap_err();
    assert!(message.contains("18446744073709551615") && message.contains("integer range"), "{message}");
}

#[test]
fn float_values() {
    accepts(json!("float"), json!(1.5), float(1.5));
    accepts(json!("float"), json!(5), float(5.0));
    accepts(json!("float"), json!(-0.0), float(-0.0));
    accepts(json!("float"), json!(1e300), float(1e300));
    refuses(json!("float"), json!("1.5"), codes::WRONG_TYPE);
    refuses(json!("float"), json!(false), codes::WRONG_TYPE);
}

#[test]
fn decimal_values_are_canonical() {
    let d = || json!("decimal");
    for (input, canonical) in [
        (json!("12.50"), "12.5"),
        (json!("12.5"), "12.5"),
        (json!("-0"), "0"),
        (json!("-0.000"), "0"),
        (json!("+1"), "1"),
        (json!("007.10"), "7.1"),
        (json!("0.05"), "0.05"),
        (json!(".5"), "0.5"),
        (json!("5."), "5"),
        (json!("100"), "100"),
        (json!("-100.0"), "-100"),
        (json!("1e3"), "1000"),
        (json!("1.5E-2"), "0.015"),
        (json!("0e1000000"), "0"),
        (json!("12345678901234567890123456789012345678"), "12345678901234567890123456789012345678"),
        (json!("0.00000000000000000000000000000000000001"), "0.00000000000000000000000000000000000001"),
        (json!("-1234567890123456789012345678901234567.8"), "-1234567890123456789012345678901234567.8"),
        (json!(12.5), "12.5"),
        (json!(0.1), "0.1"),
        (json!(-3), "-3"),
        (json!(1e-7), "0.0000001"),
        (json!(1e20), "100000000000000000000"),
        (json!(12_345_678_901_234_567_890u64), "12345678901234567890"),
    ] {
        accepts(d(), input, text(canonical));
    }
    for bad in ["1,5", "abc", "", "-", ".", "1e", "1e+", "--1", " 1", "1 ", "NaN", "Infinity", "0x10", "1.2.3", "١٢"]
    {
        refuses(d(), json!(bad), codes::INVALID_FORMAT);
    }
    refuses(d(), json!("123456789012345678901234567890123456789"), codes::OUT_OF_RANGE);
    refuses(d(), json!("0.000000000000000000000000000000000000001"), codes::OUT_OF_RANGE);
    refuses(d(), json!("1e1000000"), codes::OUT_OF_RANGE);
    refuses(d(), json!("1e39"), codes::OUT_OF_RANGE);
    refuses(d(), json!(1e300), codes::OUT_OF_RANGE);
    refuses(d(), json!(true), codes::WRONG_TYPE);
    refuses(d(), json!(["1"]), codes::WRONG_TYPE);
}

#[test]
fn boolean_values() {
    accepts(json!("boolean"), json!(true), boolean(true));
    accepts(json!("boolean"), json!(false), boolean(false));
    refuses(json!("boolean"), json!("true"), codes::WRONG_TYPE);
    refuses(json!("boolean"), json!(1), codes::WRONG_TYPE);
    refuses(json!("boolean"), json!(0), codes::WRONG_TYPE);
}

#[test]
fn date_values() {
    accepts(json!("date"), json!("2024-02-29"), text("2024-02-29"));
    accepts(json!("date"), json!("0001-01-01"), text("0001-01-01"));
    accepts(json!("date"), json!("9999-12-31"), text("9999-12-31"));
    for bad in [
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-04-31",
        "2024-2-1",
        "24-02-01",
        "2024/02/01",
        "2024-02-01T00:00:00Z",
        "2024-02-01 ",
        "",
        "yesterday",
        "2024-02-0é",
    ] {
        refuses(json!("date"), json!(bad), codes::INVALID_FORMAT);
    }
    refuses(json!("date"), json!("0000-01-01"), codes::OUT_OF_RANGE);
    refuses(json!("date"), json!(20240201), codes::WRONG_TYPE);
}

#[test]
fn datetime_values_are_utc_with_microseconds() {
    let dt = || json!("datetime");
    for (input, canonical) in [
        ("2024-05-01T12:30:00Z", "2024-05-01T12:30:00.000000Z"),
        ("2024-05-01t12:30:00z", "2024-05-01T12:30:00.000000Z"),
        ("2024-05-01 12:30:00", "2024-05-01T12:30:00.000000Z"),
        ("2024-05-01T12:30", "2024-05-01T12:30:00.000000Z"),
        ("2024-05-01", "2024-05-01T00:00:00.000000Z"),
        ("2024-05-01T12:30:00.5Z", "2024-05-01T12:30:00.500000Z"),
        ("2024-05-01T12:30:00.123456Z", "2024-05-01T12:30:00.123456Z"),
        ("2024-05-01T12:30:00.123456000Z", "2024-05-01T12:30:00.123456Z"),
        ("2024-05-01T12:30:00+02:00", "2024-05-01T10:30:00.000000Z"),
        ("2024-05-01T12:30:00.25+05:30", "2024-05-01T07:00:00.250000Z"),
        ("2024-05-01T20:00:00-08:00", "2024-05-02T04:00:00.000000Z"),
        ("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        ("0001-01-01T00:30:00-01:00", "0001-01-01T01:30:00.000000Z"),
    ] {
        accepts(dt(), json!(input), text(canonical));
    }
    for bad in [
        "2024-05-01T12:30:00.1234567Z",
        "2024-05-01T12:30:00.1234561Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:60:00Z",
        "2024-05-01T12:30:60Z",
        "2024-05-01T12:30:00.Z",
        "2024-05-01T12:30:00+2:00",
        "2024-05-01T12:30:00+0200",
        "2024-05-01T12:30:00+24:00",
        "2024-05-01T12:30:00 Z",
        "2024-05-01T12",
        "2024-05-01T1:30",
        "2024-05-01X12:30:00Z",
        "2024-02-30T12:30:00Z",
        "2024-05-01T12:30:00Ž",
        "1714566600",
        "",
    ] {
        refuses(dt(), json!(bad), codes::INVALID_FORMAT);
    }
    refuses(dt(), json!("0001-01-01T00:00:00+01:00"), codes::OUT_OF_RANGE);
    refuses(dt(), json!("9999-12-31T23:30:00-01:00"), codes::OUT_OF_RANGE);
    refuses(dt(), json!("0000-12-31T23:00:00Z"), codes::OUT_OF_RANGE);
    refuses(dt(), json!(1714566600), codes::WRONG_TYPE);
}

#[test]
fn uuid_values_are_lowercase_hyphenated() {
    let canonical = "550e8400-e29b-41d4-a716-446655440000";
    for input in [
        "550e8400-e29b-41d4-a716-446655440000",
        "550E8400-E29B-41D4-A716-446655440000",
        "550e8400e29b41d4a716446655440000",
        "{550e8400-e29b-41d4-a716-446655440000}",
        "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
    ] {
        accepts(json!("uuid"), json!(input), text(canonical));
    }
    for bad in ["550e8400-e29b-41d4-a716-44665544000", "not-a-uuid", "", "550e8400-e29b-41d4-a716-44665544000g"] {
        refuses(json!("uuid"), json!(bad), codes::INVALID_FORMAT);
    }
    refuses(json!("uuid"), json!(5), codes::WRONG_TYPE);
}

#[test]
fn email_values() {
    for good in ["ann@example.com", "Ann.Lee+tag@Sub.Example.co.uk", "x@y.z", "名前@例え.jp"] {
        // Nothing is lowercased.
        accepts(json!("email"), json!(good), text(good));
    }
    for bad in [
        "ann",
        "ann@example",
        "@example.com",
        "ann@@example.com",
        "ann@b@example.com",
        "ann@example.com ",
        "an n@example.com",
        "ann@.example.com",
        "ann@example..com",
        "ann@example.com.",
        "ann@exa\tmple.com",
        "",
    ] {
        refuses(json!("email"), json!(bad), codes::INVALID_FORMAT);
    }
    let long = format!("{}@example.com", "a".repeat(243));
    assert_eq!(long.len(), 255);
    refuses(json!("email"), json!(long), codes::TOO_LONG);
    accepts(json!("email"), json!(&long[1..]), text(&long[1..]));
    refuses(json!("email"), json!(7), codes::WRONG_TYPE);
}

#[test]
fn url_values() {
    for good in [
        "https://example.com",
        "http://example.com/",
        "HTTPS://EXAMPLE.COM/Path",
        "http://localhost:8080/path?q=1#frag",
        "https://user:pw@host.io/",
        "http://[::1]:80/",
        "http://[::1]",
        "https://例え.jp/パス",
        "https://example.com?x=1",
    ] {
        accepts(json!("url"), json!(good), text(good));
    }
    for bad in [
        "example.com",
        "ftp://example.com",
        "mailto:ann@example.com",
        "https://",
        "https:///path",
        "https://exa mple.com",
        "https://host:99999/",
        "https://host:/",
        "https://host:80x/",
        "http://[::1/",
        "http://[::1]x/",
        "https://ho<st/",
        "//example.com",
        "",
    ] {
        refuses(json!("url"), json!(bad), codes::INVALID_FORMAT);
    }
    let long = format!("https://example.com/{}", "a".repeat(2029));
    assert_eq!(long.len(), 2049);
    refuses(json!("url"), json!(long), codes::TOO_LONG);
    accepts(json!("url"), json!(&long[..2048]), text(&long[..2048]));
    refuses(json!("url"), json!(["https://x.io"]), codes::WRONG_TYPE);
}

#[test]
fn text_values() {
    for t in ["string", "text"] {
        accepts(json!(t), json!("hello"), text("hello"));
        accepts(json!(t), json!(""), text(""));
        accepts(json!(t), json!("  spaced  "), text("  spaced  "));
        refuses(json!(t), json!(5), codes::WRONG_TYPE);
        refuses(json!(t), json!(true), codes::WRONG_TYPE);
        refuses(json!(t), json!({"a": 1}), codes::WRONG_TYPE);
        refuses(json!(t), json!("a\u{0}b"), codes::INVALID_FORMAT);
    }
}

#[test]
fn json_values() {
    accepts(json!("json"), json!({"a": [1, "x", null]}), json(json!({"a": [1, "x", null]})));
    accepts(json!("json"), json!("x"), json(json!("x")));
    accepts(json!("json"), json!(1.5), json(json!(1.5)));
    accepts(json!("json"), json!(false), json(json!(false)));
    accepts(json!("json"), json!(null), Value::Null);
    refuses(json!("json"), json!({"a": ["ok", "n\u{0}"]}), codes::INVALID_FORMAT);
    refuses(json!("json"), json!({"k\u{0}": 1}), codes::INVALID_FORMAT);
}

#[test]
fn enum_values() {
    let e = || json!({"type": "enum", "values": ["draft", "published"]});
    accepts(e(), json!("draft"), text("draft"));
    refuses(e(), json!("Draft"), codes::NOT_IN_ENUM);
    refuses(e(), json!("archived"), codes::NOT_IN_ENUM);
    refuses(e(), json!(1), codes::WRONG_TYPE);
    let message = coerce(&def(e()), &json!("archived")).unwrap_err();
    assert!(message.contains("\"draft\", \"published\"") && message.contains("\"archived\""), "{message}");
}

#[test]
fn required_option() {
    for t in ["string", "integer", "boolean", "json", "datetime"] {
        refuses(json!({"type": t, "required": true}), json!(null), codes::REQUIRED);
        accepts(json!({"type": t}), json!(null), Value::Null);
    }
}

#[test]
fn min_max_are_inclusive() {
    let i = || json!({"type": "integer", "min": 0, "max": 10});
    accepts(i(), json!(0), int(0));
    accepts(i(), json!(10), int(10));
    refuses(i(), json!(-1), codes::OUT_OF_RANGE);
    refuses(i(), json!(11), codes::OUT_OF_RANGE);
    // Integer bounds compare exactly, without rounding the integer to a float.
    let big = || json!({"type": "integer", "max": 9_007_199_254_740_992i64});
    accepts(big(), json!(9_007_199_254_740_992i64), int(9_007_199_254_740_992));
    refuses(big(), json!(9_007_199_254_740_993i64), codes::OUT_OF_RANGE);
    let half = || json!({"type": "integer", "min": 0.5, "max": 2.5});
    refuses(half(), json!(0), codes::OUT_OF_RANGE);
    accepts(half(), json!(1), int(1));
    accepts(half(), json!(2), int(2));
    refuses(half(), json!(3), codes::OUT_OF_RANGE);

    let f = || json!({"type": "float", "min": 0.5, "max": 1.5});
    accepts(f(), json!(0.5), float(0.5));
    accepts(f(), json!(1.5), float(1.5));
    refuses(f(), json!(0.49), codes::OUT_OF_RANGE);
    refuses(f(), json!(1.51), codes::OUT_OF_RANGE);

    // Decimals compare numerically, with the bound as written.
    let d = || json!({"type": "decimal", "min": 0.1, "max": 1e20});
    accepts(d(), json!("0.1"), text("0.1"));
    accepts(d(), json!("0.10"), text("0.1"));
    refuses(d(), json!("0.0999999999999999999999"), codes::OUT_OF_RANGE);
    refuses(d(), json!("-5"), codes::OUT_OF_RANGE);
    accepts(d(), json!("100000000000000000000"), text("100000000000000000000"));
    refuses(d(), json!("100000000000000000000.1"), codes::OUT_OF_RANGE);
    let negative = || json!({"type": "decimal", "min": -2, "max": -1});
    accepts(negative(), json!("-1.5"), text("-1.5"));
    refuses(negative(), json!("-2.5"), codes::OUT_OF_RANGE);
    refuses(negative(), json!("-0.5"), codes::OUT_OF_RANGE);
    refuses(negative(), json!("0"), codes::OUT_OF_RANGE);

    let message = coerce(&def(i()), &json!(11)).unwrap_err();
    assert!(message.contains("at most 10") && message.contains("11"), "{message}");
}

#[test]
fn max_length_counts_characters() {
    for t in ["string", "text"] {
        let s = || json!({"type": t, "max_length": 5});
        accepts(s(), json!("héllo"), text("héllo"));
        accepts(s(), json!("日本語です"), text("日本語です"));
        refuses(s(), json!("héllo!"), codes::TOO_LONG);
        refuses(s(), json!("日本語ですね"), codes::TOO_LONG);
    }
    refuses(json!({"type": "email", "max_length": 6}), json!("ab@c.de"), codes::TOO_LONG);
    refuses(json!({"type": "url", "max_length": 12}), json!("https://x.io/a"), codes::TOO_LONG);
    refuses(json!({"type": "enum", "values": ["short", "longer"], "max_length": 5}), json!("longer"), codes::TOO_LONG);
}

#[test]
fn pattern_matches_the_whole_text() {
    let p = || json!({"type": "string", "pattern": "[a-z]+"});
    accepts(p(), json!("abc"), text("abc"));
    refuses(p(), json!("abc1"), codes::PATTERN_MISMATCH);
    refuses(p(), json!("1abc"), codes::PATTERN_MISMATCH);
    refuses(p(), json!(""), codes::PATTERN_MISMATCH);
    // Alternation is anchored as a whole.
    let alt = || json!({"type": "text", "pattern": "a|b"});
    accepts(alt(), json!("a"), text("a"));
    refuses(alt(), json!("ab"), codes::PATTERN_MISMATCH);
    let email = || json!({"type": "email", "pattern": ".*@example\\.com"});
    accepts(email(), json!("x@example.com"), text("x@example.com"));
    refuses(email(), json!("x@example.org"), codes::PATTERN_MISMATCH);
    let message = coerce(&def(p()), &json!("abc1")).unwrap_err();
    assert!(message.contains("[a-z]+") && message.contains("abc1"), "{message}");
}

#[test]
fn checks_run_in_a_stable_order() {
    // Type first, then length, enum membership, pattern.
    let spec = json!({"type": "string", "max_length": 3, "pattern": "[a-z]+"});
    refuses(spec.clone(), json!(1), codes::WRONG_TYPE);
    refuses(spec.clone(), json!("ABCD"), codes::TOO_LONG);
    refuses(spec, json!("AB"), codes::PATTERN_MISMATCH);
}

#[test]
fn long_values_are_quoted_shortened() {
    let message = coerce(&def(json!("integer")), &json!("x".repeat(10_000))).unwrap_err();
    assert!(message.len() < 200, "{message}");
    assert!(message.contains("xxx\"..."), "{message}");
}

#[test]
fn check_value_checks_canonical_values() {
    let field = def(json!({"type": "integer", "min": 0, "required": true}));
    assert!(check_value(&field, &int(1)).is_ok());
    assert_eq!(check_value(&field, &int(-1)).unwrap_err().code, codes::OUT_OF_RANGE);
    assert_eq!(check_value(&field, &Value::Null).unwrap_err().code, codes::REQUIRED);
    assert_eq!(check_value(&field, &text("1")).unwrap_err().code, codes::WRONG_TYPE);
    let checker = FieldChecker::new(&def(json!({"type": "string", "pattern": "a+"})));
    assert!(checker.check(&text("aaa")).is_ok());
    assert_eq!(checker.check(&text("b")).unwrap_err().code, codes::PATTERN_MISMATCH);
}

#[test]
fn defaults_are_validated() {
    assert!(check_default(&def(json!({"type": "integer", "default": 3}))).is_ok());
    assert!(check_default(&def(json!("integer"))).is_ok());
    assert!(check_default(&def(json!({"type": "integer", "default": null}))).is_ok());
    for bad in [
        json!({"type": "integer", "default": "3"}),
        json!({"type": "integer", "min": 5, "default": 3}),
        json!({"type": "string", "max_length": 2, "default": "abc"}),
        json!({"type": "enum", "values": ["a"], "default": "b"}),
        json!({"type": "date", "default": "2024-02-30"}),
    ] {
        let message = check_default(&def(bad.clone())).unwrap_err();
        assert!(message.contains("default"), "{bad}: {message}");
    }
    // `"default": null` in JSON means no default; a hand-built null default on a required
    // field is refused.
    let mut field = def(json!({"type": "integer", "required": true}));
    field.default = Some(Json::Null);
    assert!(check_default(&field).unwrap_err().contains("null"));
    // parse_fields runs the check and names the field.
    let err = parse_fields(&json!({"age": {"type": "integer", "min": 0, "default": -1}})).unwrap_err();
    assert_eq!(err.field(), Some("age"));
    assert!(err.to_string().contains("at least 0"), "{err}");
}

// ---------------------------------------------------------------------------------------
// CSV text
// ---------------------------------------------------------------------------------------

#[track_caller]
fn text_accepts(spec: Json, input: &str, expected: Value) {
    let field = def(spec.clone());
    match coerce_text_coded(&field, input) {
        Ok(value) => assert!(same(&value, &expected), "{spec} with {input:?}: got {value:?}"),
        Err(e) => panic!("{spec} should accept {input:?}: {}", e.message),
    }
    assert!(coerce_text(&field, input).is_ok());
}

#[track_caller]
fn text_refuses(spec: Json, input: &str, code: &str) {
    let field = def(spec.clone());
    match coerce_text_coded(&field, input) {
        Ok(value) => panic!("{spec} should refuse {input:?}, got {value:?}"),
        Err(e) => {
            assert_eq!(e.code, code, "{spec} with {input:?}: {}", e.message);
            assert_eq!(coerce_text(&field, input).unwrap_err(), e.message);
        }
    }
}

#[test]
fn csv_text_parses_into_each_type() {
    for t in tessera_schema::FieldType::ALL {
        let mut field = bare(t);
        assert_eq!(coerce_text(&field, ""), Ok(Value::Null), "{t}");
        field.required = true;
        assert_eq!(coerce_text_coded(&field, "").unwrap_err().code, codes::REQUIRED, "{t}");
    }
    text_accepts(json!("integer"), "42", int(42));
    text_accepts(json!("integer"), "-42", int(-42));
    text_accepts(json!("integer"), "+42", int(42));
    text_accepts(json!("integer"), "007", int(7));
    text_accepts(json!("integer"), "-9223372036854775808", int(i64::MIN));
    text_refuses(json!("integer"), "9223372036854775808", codes::OUT_OF_RANGE);
    for bad in ["4.0", "4e2", " 42", "42 ", "4_2", "forty", "-", "0x2a"] {
        text_refuses(json!("integer"), bad, codes::INVALID_FORMAT);
    }
    text_accepts(json!("float"), "1.5", float(1.5));
    text_accepts(json!("float"), "-0", float(-0.0));
    text_accepts(json!("float"), "1e300", float(1e300));
    text_accepts(json!("float"), "0.1", float(0.1));
    text_accepts(json!("float"), "0.30000000000000004", float(0.1 + 0.2));
    text_accepts(json!("float"), "5", float(5.0));
    for bad in ["inf", "NaN", "infinity", "1,5", "abc"] {
        text_refuses(json!("float"), bad, codes::INVALID_FORMAT);
    }
    // Rounding is refused: the text must denote the float exactly.
    text_refuses(json!("float"), "0.10000000000000000001", codes::OUT_OF_RANGE);
    text_refuses(json!("float"), "9007199254740993", codes::OUT_OF_RANGE);
    // 2^60 written exactly, or as the float's shortest form: both name the same float.
    text_accepts(json!("float"), "1152921504606846976", float(2f64.powi(60)));
    text_accepts(json!("float"), "1152921504606847000", float(2f64.powi(60)));
    text_refuses(json!("float"), "1152921504606846977", codes::OUT_OF_RANGE);
    // The exact binary value of 0.1 is accepted as well as "0.1".
    text_accepts(json!("float"), "0.1000000000000000055511151231257827021181583404541015625", float(0.1));
    text_refuses(json!("float"), "0.1000000000000000055511151231257827021181583404541015626", codes::OUT_OF_RANGE);
    // The 17-significant-digit form many exporters print names exactly one float too.
    text_accepts(json!("float"), "4.9406564584124654e-324", float(5e-324));
    text_accepts(json!("float"), "0.10000000000000001", float(0.1));
    text_accepts(json!("float"), "3.0000000000000004", float(3.0000000000000004));
    text_refuses(json!("float"), "0.100000000000000012", codes::OUT_OF_RANGE);
    text_refuses(json!("float"), "3.14159265358979323846", codes::OUT_OF_RANGE);
    text_refuses(json!("float"), "1e400", codes::OUT_OF_RANGE);
    text_refuses(json!("float"), "1e-400", codes::OUT_OF_RANGE);
    for (input, b) in
        [("true", true), ("TRUE", true), ("True", true), ("1", true), ("false", false), ("FALSE", false), ("0", false)]
    {
        text_accepts(json!("boolean"), input, boolean(b));
    }
    for bad in ["yes", "no", "t", "f", "2", "tru"] {
        text_refuses(json!("boolean"), bad, codes::INVALID_FORMAT);
    }
    text_accepts(json!("decimal"), "12.50", text("12.5"));
    text_accepts(json!("date"), "2024-05-01", text("2024-05-01"));
    text_accepts(json!("datetime"), "2024-05-01 10:00:00+01:00", text("2024-05-01T09:00:00.000000Z"));
    text_accepts(json!("uuid"), "550E8400E29B41D4A716446655440000", text("550e8400-e29b-41d4-a716-446655440000"));
    text_accepts(json!("email"), "a@b.co", text("a@b.co"));
    text_accepts(json!("url"), "https://x.io", text("https://x.io"));
    text_accepts(json!("string"), "hello, world", text("hello, world"));
    text_accepts(json!("text"), " padded ", text(" padded "));
    text_accepts(json!({"type": "enum", "values": ["a"]}), "a", text("a"));
    text_refuses(json!({"type": "enum", "values": ["a"]}), "b", codes::NOT_IN_ENUM);
    text_accepts(json!("json"), "{\"a\": [1, 2]}", json(json!({"a": [1, 2]})));
    text_accepts(json!("json"), "\"x\"", json(json!("x")));
    text_accepts(json!("json"), "3", json(json!(3)));
    text_accepts(json!("json"), "null", Value::Null);
    text_refuses(json!("json"), "not json", codes::INVALID_FORMAT);
    text_refuses(json!("json"), "\"\\u0000\"", codes::INVALID_FORMAT);
    // Options apply to text input too.
    text_refuses(json!({"type": "string", "max_length": 2}), "abc", codes::TOO_LONG);
    text_refuses(json!({"type": "integer", "max": 5}), "6", codes::OUT_OF_RANGE);
}

// ---------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------

fn schema(fields: Json) -> TableSchema {
    TableSchema {
        id: 7,
        name: "things".into(),
        version: 1,
        fields: parse_fields(&fields).unwrap(),
        kind: Default::default(),
        rules: Default::default(),
    }
}

fn people() -> RowValidator {
    RowValidator::new(&schema(json!({
        "first_name": {"type": "string", "required": true, "max_length": 20},
        "age": {"type": "integer", "min": 0},
        "status": {"type": "enum", "values": ["new", "done"], "default": "new"},
        "score": {"type": "decimal", "default": "1.50"},
        "notes": "text"
    })))
}

fn names(values: &[(String, Value)]) -> Vec<&str> {
    values.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn create_fills_defaults_and_nulls_in_schema_order() {
    let values = people().validate(&json!({"age": 30, "first_name": "Ann"}), WriteMode::Create).unwrap();
    assert_eq!(names(&values), ["first_name", "age", "status", "score", "notes"]);
    assert_eq!(values[0].1, text("Ann"));
    assert_eq!(values[1].1, int(30));
    assert_eq!(values[2].1, text("new"));
    // The default is canonical too.
    assert_eq!(values[3].1, text("1.5"));
    assert_eq!(values[4].1, Value::Null);
    // Replace behaves like create.
    let replaced = people().validate(&json!({"first_name": "Ann"}), WriteMode::Replace).unwrap();
    assert_eq!(replaced.len(), 5);
    assert_eq!(replaced[2].1, text("new"));
}

#[test]
fn explicit_null_is_kept_not_defaulted() {
    let values = people().validate(&json!({"first_name": "Ann", "status": null}), WriteMode::Create).unwrap();
    assert_eq!(values[2], ("status".to_string(), Value::Null));
}

#[test]
fn update_touches_only_given_fields() {
    let values = people().validate(&json!({"notes": "hi", "age": 4}), WriteMode::Update).unwrap();
    assert_eq!(names(&values), ["age", "notes"]);
    assert!(people().validate(&json!({}), WriteMode::Update).unwrap().is_empty());
    let errors = people().validate(&json!({"first_name": null}), WriteMode::Update).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("first_name", codes::REQUIRED));
}

#[test]
fn every_error_is_reported_with_its_field() {
    let errors = people()
        .validate(
            &json!({"age": -1, "status": "lost", "nickname": "x", "score": "abc", "colour": 1}),
            WriteMode::Create,
        )
        .unwrap_err();
    let found: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        found,
        [
            ("first_name", codes::REQUIRED),
            ("age", codes::OUT_OF_RANGE),
            ("status", codes::NOT_IN_ENUM),
            ("score", codes::INVALID_FORMAT),
            ("nickname", codes::UNKNOWN_FIELD),
            ("colour", codes::UNKNOWN_FIELD),
        ]
    );
    assert!(errors[4].message.contains("nickname"));
    assert!(errors.iter().all(|e| !e.message.is_empty()));
}

#[test]
fn system_fields_are_ignored() {
    let body = json!({
        "id": 12, "created_at": "2024-01-01T00:00:00Z", "updated_at": "garbage",
        "ID": "x", "Created_At": 3, "first_name": "Ann"
    });
    for mode in [WriteMode::Create, WriteMode::Replace, WriteMode::Update] {
        let values = people().validate(&body, mode).unwrap();
        assert!(names(&values).iter().all(|n| !["id", "created_at", "updated_at"].contains(n)));
    }
}

#[test]
fn field_names_match_exactly_then_case_insensitively() {
    let values = people().validate(&json!({"First_Name": "Ann", "AGE": 3}), WriteMode::Update).unwrap();
    assert_eq!(values, vec![("first_name".into(), text("Ann")), ("age".into(), int(3))]);
    // Two keys for one field are refused rather than one silently winning.
    let errors = people().validate(&json!({"age": 3, "Age": 4}), WriteMode::Update).unwrap_err();
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("Age", codes::DUPLICATE_FIELD));
    // A schema built directly may hold names differing in case: exact match wins.
    let mut fields = indexmap::IndexMap::new();
    fields.insert("name".to_string(), def(json!("string")));
    fields.insert("Name".to_string(), def(json!("integer")));
    let validator = RowValidator::new(&TableSchema {
        id: 1,
        name: "t".into(),
        version: 1,
        fields,
        kind: Default::default(),
        rules: Default::default(),
    });
    let values = validator.validate(&json!({"Name": 5, "name": "x"}), WriteMode::Update).unwrap();
    assert_eq!(values, vec![("name".into(), text("x")), ("Name".into(), int(5))]);
}

#[test]
fn body_must_be_an_object() {
    for body in [json!([1]), json!("row"), json!(null), json!(3)] {
        let errors = people().validate(&body, WriteMode::Create).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, codes::NOT_AN_OBJECT);
    }
}

#[test]
fn patterns_are_checked_on_every_write() {
    let validator = RowValidator::new(&schema(json!({
        "code": {"type": "string", "pattern": "[A-Z]{3}"}
    })));
    for _ in 0..3 {
        assert!(validator.validate(&json!({"code": "ABC"}), WriteMode::Create).is_ok());
        let errors = validator.validate(&json!({"code": "abc"}), WriteMode::Create).unwrap_err();
        assert_eq!(errors[0].code, codes::PATTERN_MISMATCH);
    }
}

#[test]
fn an_invalid_default_fails_the_write_that_needs_it() {
    // parse_fields would refuse this field; a hand-built schema may still carry it.
    let mut fields = indexmap::IndexMap::new();
    let mut field = def(json!("integer"));
    field.default = Some(json!("three"));
    fields.insert("n".to_string(), field);
    let validator = RowValidator::new(&TableSchema {
        id: 1,
        name: "t".into(),
        version: 1,
        fields,
        kind: Default::default(),
        rules: Default::default(),
    });
    let errors = validator.validate(&json!({}), WriteMode::Create).unwrap_err();
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("n", codes::WRONG_TYPE));
    assert!(errors[0].message.contains("default"));
    assert!(validator.validate(&json!({"n": 3}), WriteMode::Create).is_ok());
    assert!(validator.validate(&json!({}), WriteMode::Update).is_ok());
}

#[test]
fn every_code_but_read_only_is_produced() {
    // The constants are the documented codes.
    let all = [
        codes::REQUIRED,
        codes::WRONG_TYPE,
        codes::OUT_OF_RANGE,
        codes::TOO_LONG,
        codes::NOT_IN_ENUM,
        codes::PATTERN_MISMATCH,
        codes::INVALID_FORMAT,
        codes::UNKNOWN_FIELD,
        codes::DUPLICATE_FIELD,
        codes::NOT_AN_OBJECT,
        codes::READ_ONLY,
    ];
    let names = [
        "required",
        "wrong_type",
        "out_of_range",
        "too_long",
        "not_in_enum",
        "pattern_mismatch",
        "invalid_format",
        "unknown_field",
        "duplicate_field",
        "not_an_object",
        "read_only",
    ];
    assert_eq!(all, names);
}
