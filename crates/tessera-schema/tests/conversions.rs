//! The conversion table: every one of the 13x13 type pairs, table-driven, plus options.

mod common;

use common::*;
use serde_json::json;
use tessera_schema::convert::{classify, convert, type_conversion, Conversion, Converter};
use tessera_schema::plan::{plan_put, PlanError};
use tessera_schema::validate::{codes, coerce};
use tessera_schema::{parse_fields, FieldDef, FieldType, TableSchema, Value};

/// The documented table (docs/schema-changes.md): rows are the old type, columns the new.
const GRID: &str = "
           string text integer float decimal boolean date datetime json uuid email url enum
string     L      L    C       C     C       C       C    C        C    C    C     C   C
text       L      L    C       C     C       C       C    C        C    C    C     C   C
integer    L      L    L       C     L       C       R    R        L    R    R     R   C
float      L      L    C       L     C       C       R    R        L    R    R     R   C
decimal    L      L    C       C     L       C       R    R        L    R    R     R   C
boolean    L      L    L       L     L       L       R    R        L    R    R     R   C
date       L      L    R       R     R       R       L    L        L    R    R     R   C
datetime   L      L    R       R     R       R       C    L        L    R    R     R   C
json       L      L    C       C     C       C       C    C        L    C    C     C   C
uuid       L      L    R       R     R       R       R    R        L    L    R     R   C
email      L      L    R       R     R       R       R    R        L    R    L     R   C
url        L      L    R       R     R       R       R    R        L    R    R     L   C
enum       L      L    C       C     C       C       C    C        L    C    C     C   L
";

fn grid() -> Vec<(FieldType, FieldType, Conversion)> {
    let mut lines = GRID.lines().filter(|l| !l.trim().is_empty());
    let columns: Vec<FieldType> = lines.next().unwrap().split_whitespace().map(ty).collect();
    let mut out = Vec::new();
    for line in lines {
        let mut cells = line.split_whitespace();
        let from = ty(cells.next().unwrap());
        for (to, cell) in columns.iter().zip(cells) {
            let expected = match cell {
                "L" => Conversion::Lossless,
                "C" => Conversion::Checked,
                "R" => Conversion::Refused,
                other => panic!("bad cell {other}"),
            };
            out.push((from, *to, expected));
        }
    }
    out
}

#[test]
fn the_type_table_is_the_documented_one() {
    let grid = grid();
    assert_eq!(grid.len(), 169);
    for (from, to, expected) in &grid {
        assert_eq!(type_conversion(*from, *to), *expected, "{from} -> {to}");
        assert_eq!(expected.letter(), ['L', 'C', 'R'][*expected as usize]);
    }
    // Every type listed once in each direction.
    for t in FieldType::SCALARS {
        assert_eq!(grid.iter().filter(|(from, _, _)| *from == t).count(), 13);
        assert_eq!(grid.iter().filter(|(_, to, _)| *to == t).count(), 13);
    }
}

#[test]
fn the_documented_table_is_in_the_user_doc() {
    let doc = include_str!("../../../docs/schema-changes.md");
    for line in GRID.lines().skip(2).filter(|l| !l.trim().is_empty()) {
        let mut cells = line.split_whitespace();
        let from = cells.next().unwrap();
        let expected: Vec<&str> = cells.collect();
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| **{from}**")))
            .unwrap_or_else(|| panic!("no row for {from} in docs/schema-changes.md"));
        let cells: Vec<&str> =
            row.split('|').map(str::trim).filter(|c| !c.is_empty()).skip(1).map(|c| c.trim_matches('*')).collect();
        assert_eq!(cells, expected, "row {from} of the doc table");
    }
}

/// One row of the pair table: a valid value of `from` that converts, what it becomes, and
/// (for checked pairs) a valid value of `from` that does not.
struct Case {
    from: &'static str,
    to: &'static str,
    ok: Value,
    becomes: Value,
    fails: Option<Value>,
}

fn case(from: &'static str, to: &'static str, ok: Value, becomes: Value, fails: Option<Value>) -> Case {
    Case { from, to, ok, becomes, fails }
}

const UUID: &str = "550e8400-e29b-41d4-a716-446655440000";

fn cases() -> Vec<Case> {
    let mut cases = vec![];
    // Same type: the value is kept.
    for (t, v) in [
        ("string", text("hi")),
        ("text", text("hi")),
        ("integer", int(-3)),
        ("float", float(2.5)),
        ("decimal", text("-2.5")),
        ("boolean", boolean(true)),
        ("date", text("2024-05-01")),
        ("datetime", text("2024-05-01T10:00:00.000000Z")),
        ("json", json(json!({"a": [1]}))),
        ("uuid", text(UUID)),
        ("email", text("a@b.co")),
        ("url", text("https://x.io/")),
        ("enum", text("red")),
    ] {
        cases.push(case(t, t, v.clone(), v, None));
    }
    // Free text to everything.
    for from in ["string", "text"] {
        cases.extend([
            case(from, if from == "string" { "text" } else { "string" }, text("any thing"), text("any thing"), None),
            case(from, "integer", text("-42"), int(-42), Some(text("4x2"))),
            case(from, "float", text("1.5"), float(1.5), Some(text("0.10000000000000000001"))),
            case(from, "decimal", text("012.50"), text("12.5"), Some(text("1,5"))),
            case(from, "boolean", text("TRUE"), boolean(true), Some(text("yes"))),
            case(from, "date", text("2024-05-01"), text("2024-05-01"), Some(text("2024-02-30"))),
            case(
                from,
                "datetime",
                text("2024-05-01 12:30:00+02:00"),
                text("2024-05-01T10:30:00.000000Z"),
                Some(text("yesterday")),
            ),
            case(from, "json", text("{\"a\": [1, 2]}"), json(json!({"a": [1, 2]})), Some(text("not json"))),
            case(from, "uuid", text("550E8400E29B41D4A716446655440000"), text(UUID), Some(text("xyz"))),
            case(from, "email", text("Ann@Example.com"), text("Ann@Example.com"), Some(text("ann.example.com"))),
            case(from, "url", text("https://x.io/a?b=1"), text("https://x.io/a?b=1"), Some(text("x.io"))),
            case(from, "enum", text("red"), text("red"), Some(text("purple"))),
        ]);
    }
    // Integer.
    cases.extend([
        case("integer", "string", int(-42), text("-42"), None),
        case("integer", "text", int(i64::MIN), text("-9223372036854775808"), None),
        case("integer", "float", int(1 << 53), float(9_007_199_254_740_992.0), Some(int((1 << 53) + 1))),
        case("integer", "decimal", int(i64::MIN), text("-9223372036854775808"), None),
        case("integer", "boolean", int(1), boolean(true), Some(int(2))),
        case("integer", "json", int(42), json(json!(42)), None),
        case("integer", "enum", int(42), text("42"), Some(int(7))),
    ]);
    // Float.
    cases.extend([
        case("float", "string", float(0.1), text("0.1"), None),
        case("float", "text", float(1e21), text("1000000000000000000000"), None),
        case("float", "integer", float(-5.0), int(-5), Some(float(5.5))),
        case("float", "decimal", float(0.1), text("0.1"), Some(float(1e300))),
        case("float", "boolean", float(0.0), boolean(false), Some(float(0.5))),
        case("float", "json", float(1.5), json(json!(1.5)), None),
        case("float", "enum", float(1.5), text("1.5"), Some(float(2.5))),
    ]);
    // Decimal.
    cases.extend([
        case("decimal", "string", text("-12.5"), text("-12.5"), None),
        case("decimal", "text", text("0.001"), text("0.001"), None),
        case("decimal", "integer", text("-12"), int(-12), Some(text("12.5"))),
        case("decimal", "float", text("0.1"), float(0.1), Some(text("0.10000000000000000001"))),
        case("decimal", "boolean", text("1"), boolean(true), Some(text("2"))),
        case("decimal", "json", text("12.5"), json(json!("12.5")), None),
        case("decimal", "enum", text("12.5"), text("12.5"), Some(text("3"))),
    ]);
    // Boolean.
    cases.extend([
        case("boolean", "string", boolean(true), text("true"), None),
        case("boolean", "text", boolean(false), text("false"), None),
        case("boolean", "integer", boolean(true), int(1), None),
        case("boolean", "float", boolean(false), float(0.0), None),
        case("boolean", "decimal", boolean(true), text("1"), None),
        case("boolean", "json", boolean(true), json(json!(true)), None),
        case("boolean", "enum", boolean(true), text("true"), Some(boolean(false))),
    ]);
    // Date and datetime.
    cases.extend([
        case("date", "string", text("2024-05-01"), text("2024-05-01"), None),
        case("date", "text", text("2024-05-01"), text("2024-05-01"), None),
        case("date", "datetime", text("2024-05-01"), text("2024-05-01T00:00:00.000000Z"), None),
        case("date", "json", text("2024-05-01"), json(json!("2024-05-01")), None),
        case("date", "enum", text("2024-05-01"), text("2024-05-01"), Some(text("2024-05-02"))),
        case("datetime", "string", text("2024-05-01T10:00:00.000000Z"), text("2024-05-01T10:00:00.000000Z"), None),
        case("datetime", "text", text("2024-05-01T10:00:00.000000Z"), text("2024-05-01T10:00:00.000000Z"), None),
        case(
            "datetime",
            "date",
            text("2024-05-01T00:00:00.000000Z"),
            text("2024-05-01"),
            Some(text("2024-05-01T00:00:00.000001Z")),
        ),
        case("datetime", "json", text("2024-05-01T10:00:00.000000Z"), json(json!("2024-05-01T10:00:00.000000Z")), None),
        case(
            "datetime",
            "enum",
            text("2024-05-01T10:00:00.000000Z"),
            text("2024-05-01T10:00:00.000000Z"),
            Some(text("2024-05-01T11:00:00.000000Z")),
        ),
    ]);
    // Json: text keeps the document; other types read the value as a request body would.
    cases.extend([
        case("json", "string", json(json!({"a": "b"})), text("{\"a\":\"b\"}"), None),
        case("json", "text", json(json!("x")), text("\"x\""), None),
        case("json", "integer", json(json!(5.0)), int(5), Some(json(json!("5")))),
        case("json", "float", json(json!(1.5)), float(1.5), Some(json(json!(9_007_199_254_740_993i64)))),
        case("json", "decimal", json(json!("12.50")), text("12.5"), Some(json(json!(true)))),
        case("json", "boolean", json(json!(false)), boolean(false), Some(json(json!(0)))),
        case("json", "date", json(json!("2024-05-01")), text("2024-05-01"), Some(json(json!(20240501)))),
        case(
            "json",
            "datetime",
            json(json!("2024-05-01T10:00:00Z")),
            text("2024-05-01T10:00:00.000000Z"),
            Some(json(json!("2024-05-01T25:00:00Z"))),
        ),
        case("json", "uuid", json(json!(UUID)), text(UUID), Some(json(json!([UUID])))),
        case("json", "email", json(json!("a@b.co")), text("a@b.co"), Some(json(json!({"email": "a@b.co"})))),
        case("json", "url", json(json!("https://x.io/")), text("https://x.io/"), Some(json(json!("x.io")))),
        case("json", "enum", json(json!("red")), text("red"), Some(json(json!("purple")))),
    ]);
    // Uuid, email, url.
    cases.extend([
        case("uuid", "string", text(UUID), text(UUID), None),
        case("uuid", "text", text(UUID), text(UUID), None),
        case("uuid", "json", text(UUID), json(json!(UUID)), None),
        case("uuid", "enum", text(UUID), text(UUID), Some(text("00000000-0000-0000-0000-000000000000"))),
        case("email", "string", text("a@b.co"), text("a@b.co"), None),
        case("email", "text", text("a@b.co"), text("a@b.co"), None),
        case("email", "json", text("a@b.co"), json(json!("a@b.co")), None),
        case("email", "enum", text("a@b.co"), text("a@b.co"), Some(text("c@d.co"))),
        case("url", "string", text("https://x.io/"), text("https://x.io/"), None),
        case("url", "text", text("https://x.io/"), text("https://x.io/"), None),
        case("url", "json", text("https://x.io/"), json(json!("https://x.io/")), None),
        case("url", "enum", text("https://x.io/"), text("https://x.io/"), Some(text("https://y.io/"))),
    ]);
    // Enum: each value must parse as the new type (see ENUM_VALUES).
    cases.extend([
        case("enum", "string", text("red"), text("red"), None),
        case("enum", "text", text("red"), text("red"), None),
        case("enum", "integer", text("42"), int(42), Some(text("red"))),
        case("enum", "float", text("1.5"), float(1.5), Some(text("red"))),
        case("enum", "decimal", text("12.5"), text("12.5"), Some(text("red"))),
        case("enum", "boolean", text("true"), boolean(true), Some(text("red"))),
        case("enum", "date", text("2024-05-01"), text("2024-05-01"), Some(text("red"))),
        case(
            "enum",
            "datetime",
            text("2024-05-01T10:00:00.000000Z"),
            text("2024-05-01T10:00:00.000000Z"),
            Some(text("red")),
        ),
        case("enum", "json", text("red"), json(json!("red")), None),
        case("enum", "uuid", text(UUID), text(UUID), Some(text("red"))),
        case("enum", "email", text("a@b.co"), text("a@b.co"), Some(text("red"))),
        case("enum", "url", text("https://x.io/"), text("https://x.io/"), Some(text("red"))),
    ]);
    cases
}

/// A valid value of each type, used to show refused pairs refuse real data.
fn sample(t: FieldType) -> Value {
    match t {
        FieldType::String | FieldType::Text => text("42"),
        FieldType::Integer => int(1),
        FieldType::Float => float(1.0),
        FieldType::Decimal => text("1"),
        FieldType::Boolean => boolean(true),
        FieldType::Date => text("2024-05-01"),
        FieldType::Datetime => text("2024-05-01T00:00:00.000000Z"),
        FieldType::Json => json(json!(1)),
        FieldType::Uuid => text(UUID),
        FieldType::Email => text("a@b.co"),
        FieldType::Url => text("https://x.io/"),
        FieldType::Enum => text("42"),
        FieldType::Relation => int(1),
        FieldType::File => text("a_1234567890.png"),
    }
}

#[test]
fn relations_and_files_convert_to_nothing_else() {
    for scalar in FieldType::SCALARS {
        for linked in [FieldType::Relation, FieldType::File] {
            assert_eq!(type_conversion(scalar, linked), Conversion::Refused, "{scalar} -> {linked}");
            assert_eq!(type_conversion(linked, scalar), Conversion::Refused, "{linked} -> {scalar}");
            let message = convert(&sample(linked), &bare(linked), &bare(scalar)).unwrap_err();
            assert!(message.contains("no conversion"), "{linked} -> {scalar}: {message}");
        }
    }
}

#[test]
fn every_pair_converts_as_documented() {
    let cases = cases();
    for (from, to, expected) in grid() {
        let from_def = bare(from);
        let to_def = bare(to);
        let pair: Vec<&Case> = cases.iter().filter(|c| ty(c.from) == from && ty(c.to) == to).collect();
        if expected == Conversion::Refused {
            assert!(pair.is_empty(), "{from} -> {to} is refused but has cases");
            let value = sample(from);
            let message = convert(&value, &from_def, &to_def).unwrap_err();
            assert!(message.contains("no conversion"), "{from} -> {to}: {message}");
            // Null has nothing to convert, whatever the types.
            assert_eq!(convert(&Value::Null, &from_def, &to_def), Ok(Value::Null));
            continue;
        }
        assert!(!pair.is_empty(), "{from} -> {to} has no case");
        for c in pair {
            // The value is valid for its field to begin with.
            assert!(coerce(&from_def, &c.ok.to_json()).is_ok(), "{from}: {:?}", c.ok);
            let got = convert(&c.ok, &from_def, &to_def)
                .unwrap_or_else(|e| panic!("{from} -> {to} should convert {:?}: {e}", c.ok));
            assert!(same(&got, &c.becomes), "{from} -> {to}: {:?} became {got:?}", c.ok);
            // The result is a valid, canonical value of the new field.
            let again = coerce(&to_def, &got.to_json()).unwrap();
            assert!(same(&again, &got), "{to}: {got:?} is not canonical");
            assert_eq!(convert(&Value::Null, &from_def, &to_def), Ok(Value::Null));
            match (&c.fails, expected) {
                (Some(bad), Conversion::Checked) => {
                    assert!(coerce(&from_def, &bad.to_json()).is_ok(), "{from}: {bad:?}");
                    let message =
                        convert(bad, &from_def, &to_def).expect_err(&format!("{from} -> {to} should refuse {bad:?}"));
                    assert!(!message.is_empty());
                }
                (None, Conversion::Lossless) => {}
                (fails, expected) => panic!("{from} -> {to} is {expected:?} but fails = {fails:?}"),
            }
        }
    }
}

#[test]
fn failures_quote_the_value() {
    for (value, from, to, quoted) in [
        (text("4x2"), "string", "integer", "\"4x2\""),
        (int(7), "integer", "boolean", "7"),
        (float(5.5), "float", "integer", "5.5"),
        (text("12.5"), "decimal", "integer", "\"12.5\""),
        (text("2024-05-01T00:00:00.000001Z"), "datetime", "date", "2024-05-01T00:00:00.000001Z"),
        (int(9_007_199_254_740_993), "integer", "float", "9007199254740993"),
        (text("purple"), "string", "enum", "\"purple\""),
    ] {
        let message = convert(&value, &bare(ty(from)), &bare(ty(to))).unwrap_err();
        assert!(message.contains(quoted), "{from} -> {to}: {message}");
    }
}

#[test]
fn convert_checks_every_option_of_the_target() {
    let cases = [
        (json!("integer"), json!({"type": "string", "max_length": 2}), int(123), codes::TOO_LONG),
        (json!("string"), json!({"type": "integer", "min": 0}), text("-1"), codes::OUT_OF_RANGE),
        (json!("string"), json!({"type": "integer", "max": 10}), text("11"), codes::OUT_OF_RANGE),
        (json!("float"), json!({"type": "decimal", "max": 1}), float(1.5), codes::OUT_OF_RANGE),
        (json!("integer"), json!({"type": "string", "pattern": "[0-9]{2}"}), int(123), codes::PATTERN_MISMATCH),
        (json!("string"), json!({"type": "enum", "values": ["a"]}), text("b"), codes::NOT_IN_ENUM),
        (json!("string"), json!({"type": "string", "required": true}), Value::Null, codes::REQUIRED),
        (json!("integer"), json!({"type": "integer", "required": true}), Value::Null, codes::REQUIRED),
        (json!("text"), json!({"type": "text", "max_length": 3}), text("abcd"), codes::TOO_LONG),
    ];
    for (from, to, value, code) in cases {
        let converter = Converter::new(&def(from.clone()), &def(to.clone()));
        let err = converter.convert_coded(&value).unwrap_err();
        assert_eq!(err.code, code, "{from} -> {to} with {value:?}: {}", err.message);
        assert_eq!(converter.convert(&value).unwrap_err(), err.message);
    }
    // And lets through what meets them.
    let converter =
        Converter::new(&def(json!("integer")), &def(json!({"type": "string", "max_length": 2, "required": true})));
    assert_eq!(converter.convert(&int(12)), Ok(text("12")));
    assert_eq!(convert(&Value::Null, &def(json!("string")), &def(json!("integer"))), Ok(Value::Null));
}

#[test]
fn nothing_becomes_null() {
    // Text "null" is the JSON null: converting it would erase the value.
    let err =
        Converter::new(&bare(FieldType::String), &bare(FieldType::Json)).convert_coded(&text("null")).unwrap_err();
    assert_eq!(err.code, codes::INVALID_FORMAT);
    assert!(err.message.contains("null"));
    // The empty text is not a number, not a null number.
    assert!(convert(&text(""), &bare(FieldType::String), &bare(FieldType::Integer)).is_err());
    assert!(convert(&text(""), &bare(FieldType::String), &bare(FieldType::Json)).is_err());
}

#[test]
fn json_text_is_read_exactly() {
    let (text_def, json_def) = (bare(FieldType::Text), bare(FieldType::Json));
    // serde_json alone reads this literal one unit in the last place off.
    let doc = json!({"x": 2.3673890237769098e-256, "list": [0.1, -1e-300, 12345678901234567890u64]});
    let as_text = convert(&json(doc.clone()), &json_def, &text_def).unwrap();
    assert_eq!(convert(&as_text, &text_def, &json_def), Ok(json(doc)));
    let Value::Json(parsed) = convert(&text("[2.3673890237769098e-256]"), &text_def, &json_def).unwrap() else {
        panic!("not json")
    };
    assert_eq!(parsed[0].as_f64().unwrap().to_bits(), 2.3673890237769098e-256f64.to_bits());
    // Numbers inside strings are not numbers.
    let value = convert(&text(r#"{"a\"1": "2.5e3", "b": [-0.5, "x\\"]}"#), &text_def, &json_def).unwrap();
    assert_eq!(value, json(json!({"a\"1": "2.5e3", "b": [-0.5, "x\\"]})));
    // A repeated key would lose a value: refused.
    let err = convert(&text(r#"{"a": 1, "a": 2}"#), &text_def, &json_def).unwrap_err();
    assert!(err.contains("twice"), "{err}");
    assert!(tessera_schema::validate::coerce_text(&json_def, r#"{"a": {"b": 1, "b": 1}}"#).is_err());
    // Too deep, or trailing garbage: refused, no panic.
    assert!(convert(&text(&"[".repeat(10_000)), &text_def, &json_def).is_err());
    assert!(convert(&text("[1] x"), &text_def, &json_def).is_err());
    assert!(convert(&text("1e400"), &text_def, &json_def).is_err());
}

#[test]
fn stored_values_of_the_wrong_shape_are_refused_not_trusted() {
    for (value, from, to) in [
        (text("1"), "integer", "string"),
        (int(1), "string", "integer"),
        (float(f64::NAN), "float", "string"),
        (float(f64::INFINITY), "float", "json"),
        (boolean(true), "json", "string"),
        (text("2024-05-01"), "date", "date"),
        (text("not a date"), "date", "datetime"),
        (text("not a datetime"), "datetime", "date"),
    ] {
        let result = convert(&value, &bare(ty(from)), &bare(ty(to)));
        if from == to {
            // Identity keeps what it is given.
            assert_eq!(result, Ok(value));
        } else {
            assert!(result.is_err(), "{from} -> {to} with {value:?}: {result:?}");
        }
    }
}

#[test]
fn exactness_rules() {
    let int_to_float = |i: i64| convert(&int(i), &bare(FieldType::Integer), &bare(FieldType::Float));
    assert_eq!(int_to_float(1 << 53), Ok(float(9_007_199_254_740_992.0)));
    assert_eq!(int_to_float(-(1 << 53)), Ok(float(-9_007_199_254_740_992.0)));
    assert!(int_to_float((1 << 53) + 1).is_err());
    // Past 2^53 only integers a float holds exactly convert; the rest would be rounded.
    assert_eq!(int_to_float(1 << 60), Ok(float(2f64.powi(60))));
    assert!(int_to_float((1 << 60) + 1).is_err());
    assert!(int_to_float(i64::MAX).is_err());
    assert_eq!(int_to_float(i64::MIN), Ok(float(-(2f64.powi(63)))));
    let back = convert(&float(2f64.powi(60)), &bare(FieldType::Float), &bare(FieldType::Integer));
    assert_eq!(back, Ok(int(1 << 60)));

    let float_to_int = |f: f64| convert(&float(f), &bare(FieldType::Float), &bare(FieldType::Integer));
    assert_eq!(float_to_int(-(2f64.powi(63))), Ok(int(i64::MIN)));
    assert!(float_to_int(2f64.powi(63)).is_err());
    assert_eq!(float_to_int(-0.0), Ok(int(0)));
    assert!(float_to_int(0.5).is_err());

    let to_text = |f: f64| convert(&float(f), &bare(FieldType::Float), &bare(FieldType::String));
    for (f, shown) in [
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0, "1"),
        (-0.0, "-0"),
        (1e-7, "0.0000001"),
        (123456.789, "123456.789"),
        (f64::MAX, &format!("{}", f64::MAX)),
    ] {
        assert_eq!(to_text(f), Ok(text(shown)));
        // And back, bit for bit.
        let back = convert(&text(shown), &bare(FieldType::String), &bare(FieldType::Float)).unwrap();
        assert!(same(&back, &float(f)), "{shown}");
    }
    let float_to_decimal = |f: f64| convert(&float(f), &bare(FieldType::Float), &bare(FieldType::Decimal));
    assert_eq!(float_to_decimal(-0.0), Ok(text("0")));
    assert_eq!(float_to_decimal(1e-38), Ok(text("0.00000000000000000000000000000000000001")));
    assert!(float_to_decimal(1e-39).is_err());
    assert!(float_to_decimal(0.1 + 0.2).is_ok());
    assert!(float_to_decimal(1.0 / 3.0).is_ok());
    // 1e37 has 38 digits, 1e38 has 39.
    assert_eq!(float_to_decimal(1e37), Ok(text(&format!("1{}", "0".repeat(37)))));
    assert!(float_to_decimal(1e38).is_err());

    let decimal_to_float = |d: &str| convert(&text(d), &bare(FieldType::Decimal), &bare(FieldType::Float));
    assert!(decimal_to_float("123456789012345678").is_err());
    // An odd number past 2^53 has no float.
    assert!(decimal_to_float("12345678901234567").is_err());
    assert_eq!(decimal_to_float("1234567890123456"), Ok(float(1_234_567_890_123_456.0)));
    assert_eq!(decimal_to_float("-0.5"), Ok(float(-0.5)));
    assert_eq!(decimal_to_float("0.30000000000000004"), Ok(float(0.1 + 0.2)));
    assert!(decimal_to_float("0.3000000000000000444").is_err());

    let decimal_to_int = |d: &str| convert(&text(d), &bare(FieldType::Decimal), &bare(FieldType::Integer));
    assert_eq!(decimal_to_int("-9223372036854775808"), Ok(int(i64::MIN)));
    assert!(decimal_to_int("9223372036854775808").is_err());
    assert!(decimal_to_int("0.5").is_err());

    let json_to_float = |j: serde_json::Value| convert(&json(j), &bare(FieldType::Json), &bare(FieldType::Float));
    assert_eq!(json_to_float(json!(9_007_199_254_740_992i64)), Ok(float(9_007_199_254_740_992.0)));
    assert!(json_to_float(json!(u64::MAX)).is_err());
    assert!(json_to_float(json!(9_007_199_254_740_993i64)).is_err());
    assert_eq!(json_to_float(json!(9_223_372_036_854_775_808u64)), Ok(float(2f64.powi(63))));
    assert_eq!(json_to_float(json!(1e300)), Ok(float(1e300)));

    // Booleans from text and numbers: only the two spellings of each.
    let to_bool = |v: Value, from: FieldType| convert(&v, &bare(from), &bare(FieldType::Boolean));
    assert_eq!(to_bool(text("False"), FieldType::Text), Ok(boolean(false)));
    assert_eq!(to_bool(text("0"), FieldType::String), Ok(boolean(false)));
    assert!(to_bool(text("no"), FieldType::String).is_err());
    assert!(to_bool(text(" true"), FieldType::String).is_err());
    assert_eq!(to_bool(float(-0.0), FieldType::Float), Ok(boolean(false)));
    assert!(to_bool(int(-1), FieldType::Integer).is_err());
    assert!(to_bool(text("1.0"), FieldType::Decimal).is_err());
}

// ---------------------------------------------------------------------------------------
// Classification with options
// ---------------------------------------------------------------------------------------

#[test]
fn classify_with_options() {
    use Conversion::*;
    let two53 = 9_007_199_254_740_992i64;
    let rows = [
        // Lengths.
        (json!("string"), json!({"type": "string", "max_length": 10}), Checked),
        (json!({"type": "string", "max_length": 5}), json!({"type": "string", "max_length": 10}), Lossless),
        (
            json!({"type": "string", "max_length": 10}),
            json!({"type": "string", "max_length": 10, "indexed": true}),
            Lossless,
        ),
        (json!({"type": "string", "max_length": 10}), json!({"type": "string", "max_length": 5}), Checked),
        (json!({"type": "string", "max_length": 10}), json!("string"), Lossless),
        (json!({"type": "text", "max_length": 5}), json!({"type": "string", "max_length": 5}), Lossless),
        (json!("string"), json!("text"), Lossless),
        (json!("text"), json!("string"), Lossless),
        (json!("uuid"), json!({"type": "string", "max_length": 36}), Lossless),
        (json!("uuid"), json!({"type": "string", "max_length": 35}), Checked),
        (json!("integer"), json!({"type": "string", "max_length": 20}), Lossless),
        (json!("integer"), json!({"type": "string", "max_length": 19}), Checked),
        (json!("decimal"), json!({"type": "text", "max_length": 40}), Lossless),
        (json!("decimal"), json!({"type": "text", "max_length": 39}), Checked),
        (json!("date"), json!({"type": "string", "max_length": 10}), Lossless),
        (json!("datetime"), json!({"type": "string", "max_length": 27}), Lossless),
        (json!("datetime"), json!({"type": "string", "max_length": 26}), Checked),
        (json!("email"), json!({"type": "string", "max_length": 254}), Lossless),
        (json!({"type": "email", "max_length": 100}), json!({"type": "string", "max_length": 100}), Lossless),
        (json!("email"), json!({"type": "email", "max_length": 300}), Lossless),
        (json!("url"), json!({"type": "text", "max_length": 2048}), Lossless),
        (json!("url"), json!({"type": "text", "max_length": 2047}), Checked),
        (json!("float"), json!({"type": "string", "max_length": 2048}), Checked),
        (json!("json"), json!("text"), Lossless),
        (json!("json"), json!({"type": "text", "max_length": 2048}), Checked),
        // Patterns.
        (json!("string"), json!({"type": "string", "pattern": "[a-z]*"}), Checked),
        (json!({"type": "string", "pattern": "[a-z]*"}), json!("string"), Lossless),
        (json!({"type": "string", "pattern": "[a-z]*"}), json!({"type": "text", "pattern": "[a-z]*"}), Lossless),
        (json!({"type": "string", "pattern": "[a-z]*"}), json!({"type": "string", "pattern": "[a-z]+"}), Checked),
        (json!("integer"), json!({"type": "string", "pattern": "-?[0-9]+"}), Checked),
        // Numeric bounds.
        (json!("integer"), json!({"type": "integer", "min": 0}), Checked),
        (json!({"type": "integer", "min": 0}), json!("integer"), Lossless),
        (json!({"type": "integer", "min": 0, "max": 10}), json!({"type": "integer", "min": -5, "max": 20}), Lossless),
        (json!({"type": "integer", "min": 0, "max": 10}), json!({"type": "integer", "min": 1, "max": 10}), Checked),
        (json!({"type": "integer", "min": 0, "max": 10}), json!({"type": "integer", "min": 0, "max": 9}), Checked),
        (json!({"type": "integer", "max": 10}), json!({"type": "decimal", "max": 10}), Lossless),
        (json!({"type": "integer", "max": 10}), json!({"type": "decimal", "min": 0, "max": 10}), Checked),
        (json!({"type": "decimal", "min": 0.1}), json!({"type": "decimal", "min": 0.1, "max": 5}), Checked),
        (json!({"type": "decimal", "min": 0.1, "max": 5}), json!({"type": "decimal", "min": 0}), Lossless),
        (json!({"type": "float", "min": 0.5}), json!({"type": "float", "min": 0.25}), Lossless),
        // Integer -> float is lossless only within +-2^53.
        (json!("integer"), json!("float"), Checked),
        (json!({"type": "integer", "min": -100, "max": 100}), json!("float"), Lossless),
        (json!({"type": "integer", "min": -two53, "max": two53}), json!("float"), Lossless),
        (json!({"type": "integer", "min": 0, "max": two53 + 2}), json!("float"), Checked),
        (json!({"type": "integer", "min": 0}), json!("float"), Checked),
        (json!({"type": "integer", "min": 0, "max": 100}), json!({"type": "float", "max": 50}), Checked),
        // Required and unique.
        (json!("string"), json!({"type": "string", "required": true}), Checked),
        (json!({"type": "string", "required": true}), json!("string"), Lossless),
        (json!({"type": "string", "required": true}), json!({"type": "text", "required": true}), Lossless),
        (json!("integer"), json!({"type": "integer", "unique": true}), Checked),
        (json!({"type": "integer", "unique": true}), json!("integer"), Lossless),
        (json!({"type": "date", "unique": true}), json!({"type": "datetime", "unique": true}), Lossless),
        (json!("date"), json!({"type": "datetime", "required": true}), Checked),
        (json!("boolean"), json!({"type": "integer", "unique": true}), Checked),
        // Default and indexed never matter.
        (json!({"type": "integer", "default": 1}), json!({"type": "integer", "default": 2}), Lossless),
        (json!("integer"), json!({"type": "integer", "indexed": true, "default": 0}), Lossless),
        (json!({"type": "integer", "indexed": true}), json!("integer"), Lossless),
        // Finite domains are checked value by value.
        (json!("boolean"), json!({"type": "enum", "values": ["true", "false"]}), Lossless),
        (json!("boolean"), json!({"type": "enum", "values": ["maybe", "false", "true"]}), Lossless),
        (json!("boolean"), json!({"type": "enum", "values": ["true"]}), Checked),
        (json!("boolean"), json!({"type": "enum", "values": ["True", "False"]}), Checked),
        (json!("boolean"), json!({"type": "integer", "min": 0, "max": 1}), Lossless),
        (json!("boolean"), json!({"type": "integer", "min": 1}), Checked),
        (json!("boolean"), json!({"type": "string", "pattern": "true|false"}), Lossless),
        (json!("boolean"), json!({"type": "string", "max_length": 4}), Checked),
        (json!("boolean"), json!({"type": "string", "max_length": 5}), Lossless),
        (json!({"type": "enum", "values": ["a", "b"]}), json!({"type": "enum", "values": ["a", "b", "c"]}), Lossless),
        (json!({"type": "enum", "values": ["a", "b", "c"]}), json!({"type": "enum", "values": ["a", "b"]}), Checked),
        (json!({"type": "enum", "values": ["a", "b"]}), json!({"type": "enum", "values": ["b", "a"]}), Lossless),
        (json!({"type": "enum", "values": ["1", "2", "-3"]}), json!("integer"), Lossless),
        (json!({"type": "enum", "values": ["1", "x"]}), json!("integer"), Checked),
        // "01" would become 1 and come back as "1": not lossless.
        (json!({"type": "enum", "values": ["01"]}), json!("integer"), Checked),
        (json!({"type": "enum", "values": ["TRUE"]}), json!("boolean"), Checked),
        (json!({"type": "enum", "values": ["true", "false"]}), json!("boolean"), Lossless),
        (json!({"type": "enum", "values": ["a", "bb"]}), json!({"type": "string", "max_length": 2}), Lossless),
        (json!({"type": "enum", "values": ["a", "bb"]}), json!({"type": "string", "max_length": 1}), Checked),
        (json!({"type": "enum", "values": ["a", "b"]}), json!({"type": "string", "pattern": "[a-z]"}), Lossless),
        (json!({"type": "enum", "values": ["a", "B"]}), json!({"type": "string", "pattern": "[a-z]"}), Checked),
        // An enum value its own pattern forbids can never be stored, so it does not count.
        (
            json!({"type": "enum", "values": ["a", "xyz"], "max_length": 1}),
            json!({"type": "string", "max_length": 1}),
            Lossless,
        ),
        (json!({"type": "enum", "values": ["a@b.co"]}), json!("email"), Lossless),
        (json!({"type": "enum", "values": ["2024-05-01"]}), json!("date"), Lossless),
        (json!({"type": "enum", "values": ["red"]}), json!("json"), Lossless),
        (
            json!({"type": "enum", "values": ["red"]}),
            json!({"type": "enum", "values": ["red"], "required": true}),
            Checked,
        ),
        // Refused stays refused whatever the options.
        (json!({"type": "date", "required": true}), json!({"type": "integer", "required": true}), Refused),
        (json!("boolean"), json!("date"), Refused),
    ];
    for (from, to, expected) in rows {
        assert_eq!(classify(&def(from.clone()), &def(to.clone())), expected, "{from} -> {to}");
    }
}

#[test]
fn bare_classification_matches_the_type_table() {
    for (from, to, expected) in grid() {
        let (from_def, to_def) = (FieldDef::new(from), FieldDef::new(to));
        let got = classify(&from_def, &to_def);
        match (from, to) {
            // Finite sources are judged by their values: an enum without values holds
            // nothing, and boolean -> an enum without values "fits" trivially.
            (FieldType::Enum, _) | (FieldType::Boolean, FieldType::Enum) => {}
            _ => assert_eq!(got, expected, "{from} -> {to}"),
        }
    }
}

#[test]
fn the_planner_refuses_refused_pairs() {
    let before = TableSchema {
        id: 1,
        name: "t".into(),
        version: 1,
        fields: parse_fields(&json!({"day": "date"})).unwrap(),
        kind: Default::default(),
        rules: Default::default(),
    };
    let err = plan_put(&before, None, &json!({"day": "integer"}), None).unwrap_err();
    assert!(matches!(err, PlanError::Refused { .. }), "{err}");
    assert_eq!(err.field(), Some("day"));
    assert!(plan_put(&before, None, &json!({"day": "datetime"}), None).is_ok());
}
