//! Compilation tests: exact SQL and parameters for both dialects on a table with one
//! field of every type, and every way a well-formed filter can still be refused.

use super::*;
use crate::sql::{Dialect, SqlWriter};
use serde_json::json;
use tessera_schema::{parse_fields, FieldType, TableSchema, Value};

pub(super) fn animals() -> TableSchema {
    TableSchema {
        id: 1,
        name: "animals".into(),
        version: 1,
        fields: parse_fields(&json!({
            "name": "string",
            "species": {"type": "enum", "values": ["cat", "dog"]},
            "age": "integer",
            "legs": "integer",
            "owner": "integer",
            "weight": "float",
            "price": "decimal",
            "active": "boolean",
            "born": "date",
            "seen": "datetime",
            "doc": "json",
            "tag": "uuid",
            "email": "email",
            "site": "url",
            "bio": "text",
        }))
        .unwrap(),
        kind: Default::default(),
        rules: Default::default(),
    }
}

pub(super) fn macros(path: &str) -> Option<(Value, FieldType)> {
    Some(match path {
        "request.auth.id" => (Value::Integer(7), FieldType::Integer),
        "request.auth.role" => (Value::Text("admin".into()), FieldType::String),
        "request.now" => (Value::Text("2024-05-01T00:00:00.000000Z".into()), FieldType::Datetime),
        "request.price" => (Value::Text("9.5".into()), FieldType::Decimal),
        "request.flag" => (Value::Boolean(true), FieldType::Boolean),
        "request.body" => (Value::Json(json!({"a": 1})), FieldType::Json),
        "request.tag" => (Value::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()), FieldType::Uuid),
        "guest.id" => (Value::Null, FieldType::Integer),
        "guest.name" => (Value::Null, FieldType::String),
        "bad.macro" => (Value::Text("x".into()), FieldType::Integer),
        _ => return None,
    })
}

fn compile_in(dialect: Dialect, input: &str) -> Result<(String, Vec<Value>), FilterError> {
    let schema = animals();
    let lookup = macros;
    let ctx = CompileContext::new(&schema).with_macros(&lookup);
    let mut w = SqlWriter::new(dialect);
    compile_filter(input, &ctx, &mut w)?;
    Ok(w.finish())
}

fn sqlite(input: &str) -> (String, Vec<Value>) {
    compile_in(Dialect::Sqlite, input).unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn postgres(input: &str) -> (String, Vec<Value>) {
    compile_in(Dialect::Postgres, input).unwrap_or_else(|e| panic!("{input}: {e}"))
}

/// The error both dialects give, as (position, message).
fn refused(input: &str) -> (usize, String) {
    let sqlite = compile_in(Dialect::Sqlite, input);
    let postgres = compile_in(Dialect::Postgres, input);
    assert_eq!(sqlite, postgres, "{input}: dialects disagree");
    match sqlite {
        Ok(compiled) => panic!("{input} compiled to {compiled:?}"),
        Err(error) => (error.position, error.message),
    }
}

fn int(number: i64) -> Value {
    Value::Integer(number)
}

fn text(text: &str) -> Value {
    Value::Text(text.into())
}

/// Checks one filter in both dialects: SQL text per dialect and the parameters, which
/// are the same in both unless given separately.
fn check(input: &str, sqlite_sql: &str, postgres_sql: &str, params: Vec<Value>) {
    check_params(input, sqlite_sql, params.clone(), postgres_sql, params);
}

fn check_params(
    input: &str,
    sqlite_sql: &str,
    sqlite_params: Vec<Value>,
    postgres_sql: &str,
    postgres_params: Vec<Value>,
) {
    assert_eq!(sqlite(input), (sqlite_sql.into(), sqlite_params), "sqlite: {input}");
    assert_eq!(postgres(input), (postgres_sql.into(), postgres_params), "postgres: {input}");
}

#[test]
fn the_examples() {
    check(
        r#"age > 50 && (species = "cat" || name ~ "Leo")"#,
        r#"("age" > ? AND ("species" = ? OR instr(tessera_fold("name"), tessera_fold(?)) > 0))"#,
        r#"("age" > $1::int8 AND ("species" = $2::text OR "name"::text ILIKE '%' || $3::text || '%' ESCAPE '\'))"#,
        vec![int(50), text("cat"), text("Leo")],
    );
    check(
        "name !~ 'x'",
        r#"(("name" IS NULL OR instr(tessera_fold("name"), tessera_fold(?)) = 0))"#,
        r#"(("name" IS NULL OR "name"::text NOT ILIKE '%' || $1::text || '%' ESCAPE '\'))"#,
        vec![text("x")],
    );
    check("species = null", r#"("species" IS NULL)"#, r#"("species" IS NULL)"#, vec![]);
    check("species != NULL", r#"("species" IS NOT NULL)"#, r#"("species" IS NOT NULL)"#, vec![]);
    check(
        "!(age in (1, 2, 3))",
        r#"(NOT COALESCE("age" IN (?, ?, ?), 0))"#,
        r#"(NOT COALESCE("age" IN ($1::int8, $2::int8, $3::int8), FALSE))"#,
        vec![int(1), int(2), int(3)],
    );
    check(
        r#"created_at >= "2024-01-01T00:00:00Z""#,
        r#"("created_at" >= ?)"#,
        r#"("created_at" >= $1::text::timestamptz)"#,
        vec![text("2024-01-01T00:00:00.000000Z")],
    );
    check("active = true", r#"("active" = ?)"#, r#"("active" = $1::bool)"#, vec![Value::Boolean(true)]);
    check(
        "@request.auth.id != null && owner = @request.auth.id",
        r#"(1=1 AND "owner" = ?)"#,
        r#"(1=1 AND "owner" = $1::int8)"#,
        vec![int(7)],
    );
    check(
        "@guest.id != null && owner = @guest.id",
        r#"(1=0 AND "owner" IS NULL)"#,
        r#"(1=0 AND "owner" IS NULL)"#,
        vec![],
    );
}

#[test]
fn not_equal_is_null_safe() {
    check(
        r#"species != "cat""#,
        r#"("species" IS NOT ?)"#,
        r#"("species" IS DISTINCT FROM $1::text)"#,
        vec![text("cat")],
    );
    check("age != legs", r#"("age" IS NOT "legs")"#, r#"("age" IS DISTINCT FROM "legs")"#, vec![]);
    check("age = legs", r#"("age" IS "legs")"#, r#"("age" IS NOT DISTINCT FROM "legs")"#, vec![]);
}

#[test]
fn operators_and_flipped_sides() {
    for (input, sql) in [
        ("age = 1", r#"("age" = ?)"#),
        ("age > 1", r#"("age" > ?)"#),
        ("age >= 1", r#"("age" >= ?)"#),
        ("age < 1", r#"("age" < ?)"#),
        ("age <= 1", r#"("age" <= ?)"#),
        ("1 = age", r#"("age" = ?)"#),
        ("1 < age", r#"("age" > ?)"#),
        ("1 <= age", r#"("age" >= ?)"#),
        ("1 > age", r#"("age" < ?)"#),
        ("1 >= age", r#"("age" <= ?)"#),
        ("1 != age", r#"("age" IS NOT ?)"#),
    ] {
        assert_eq!(sqlite(input), (sql.to_string(), vec![int(1)]), "{input}");
    }
    check("age < legs", r#"("age" < "legs")"#, r#"("age" < "legs")"#, vec![]);
}

#[test]
fn chains_and_negation_nest_with_parentheses() {
    check(
        "age = 1 || age = 2 && legs = 4",
        r#"("age" = ? OR ("age" = ? AND "legs" = ?))"#,
        r#"("age" = $1::int8 OR ("age" = $2::int8 AND "legs" = $3::int8))"#,
        vec![int(1), int(2), int(4)],
    );
    check(
        "!(age = 1 || legs = 2) && !(!(active = true))",
        r#"(NOT COALESCE("age" = ? OR "legs" = ?, 0) AND NOT COALESCE(NOT COALESCE("active" = ?, 0), 0))"#,
        r#"(NOT COALESCE("age" = $1::int8 OR "legs" = $2::int8, FALSE) AND NOT COALESCE(NOT COALESCE("active" = $3::bool, FALSE), FALSE))"#,
        vec![int(1), int(2), Value::Boolean(true)],
    );
    check(
        "(age = 1 && legs = 2) && active = false",
        r#"(("age" = ? AND "legs" = ?) AND "active" = ?)"#,
        r#"(("age" = $1::int8 AND "legs" = $2::int8) AND "active" = $3::bool)"#,
        vec![int(1), int(2), Value::Boolean(false)],
    );
}

#[test]
fn numbers_bind_by_field_type() {
    check("age = 2.5", r#"("age" = ?)"#, r#"("age" = $1::float8)"#, vec![Value::Float(2.5)]);
    check("weight >= 3", r#"("weight" >= ?)"#, r#"("weight" >= $1::float8)"#, vec![Value::Float(3.0)]);
    check("weight < -1.5e2", r#"("weight" < ?)"#, r#"("weight" < $1::float8)"#, vec![Value::Float(-150.0)]);
    // Decimals compare exactly: numeric on Postgres, canonical text under the
    // `tessera_decimal` collation on SQLite.
    check_params(
        "price > 10.50",
        r#"("price" COLLATE tessera_decimal > ?)"#,
        vec![text("10.5")],
        r#"("price" > $1::text::numeric)"#,
        vec![text("10.50")],
    );
    check_params(
        "price <= 3",
        r#"("price" COLLATE tessera_decimal <= ?)"#,
        vec![text("3")],
        r#"("price" <= $1::text::numeric)"#,
        vec![text("3")],
    );
    check_params(
        r#"price = "12.50""#,
        r#"("price" COLLATE tessera_decimal = ?)"#,
        vec![text("12.5")],
        r#"("price" = $1::text::numeric)"#,
        vec![text("12.5")],
    );
    check_params("age < price", r#"("age" < CAST("price" AS REAL))"#, vec![], r#"("age" < "price")"#, vec![]);
    check("id = 9223372036854775807", r#"("id" = ?)"#, r#"("id" = $1::int8)"#, vec![int(i64::MAX)]);
}

#[test]
fn strings_are_converted_to_the_fields_canonical_form() {
    check(r#"born < "2024-02-03""#, r#"("born" < ?)"#, r#"("born" < $1::text::date)"#, vec![text("2024-02-03")]);
    check(
        r#"seen > "2024-01-01 10:00:00+02:00""#,
        r#"("seen" > ?)"#,
        r#"("seen" > $1::text::timestamptz)"#,
        vec![text("2024-01-01T08:00:00.000000Z")],
    );
    check(
        r#"tag = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11""#,
        r#"("tag" = ?)"#,
        r#"("tag" = $1::text::uuid)"#,
        vec![text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")],
    );
    // Enum, email and url fields compare with any string, valid for them or not.
    check(
        r#"species = "unicorn" || email = "not an email" || site != 'nope'"#,
        r#"("species" = ? OR "email" = ? OR "site" IS NOT ?)"#,
        r#"("species" = $1::text OR "email" = $2::text OR "site" IS DISTINCT FROM $3::text)"#,
        vec![text("unicorn"), text("not an email"), text("nope")],
    );
    check(
        r#"name = email && bio > species"#,
        r#"("name" IS "email" AND "bio" > "species")"#,
        r#"("name" IS NOT DISTINCT FROM "email" AND "bio" > "species")"#,
        vec![],
    );
    check(
        "doc = null || doc != null",
        r#"("doc" IS NULL OR "doc" IS NOT NULL)"#,
        r#"("doc" IS NULL OR "doc" IS NOT NULL)"#,
        vec![],
    );
}

#[test]
fn contains_escapes_wildcards_and_works_on_every_textual_type() {
    // SQLite folds Unicode case with tessera_fold and needs no escaping (instr is literal);
    // Postgres escapes LIKE wildcards.
    check_params(
        r#"name ~ "50%_off\\""#,
        r#"(instr(tessera_fold("name"), tessera_fold(?)) > 0)"#,
        vec![text(r"50%_off\")],
        r#"("name"::text ILIKE '%' || $1::text || '%' ESCAPE '\')"#,
        vec![text(r"50\%\_off\\")],
    );
    for field in ["name", "bio", "species", "email", "site", "tag"] {
        let (sql, params) = postgres(&format!("{field} ~ 'ab'"));
        assert_eq!(sql, format!(r#"("{field}"::text ILIKE '%' || $1::text || '%' ESCAPE '\')"#));
        assert_eq!(params, vec![text("ab")]);
    }
    check(
        r#"name ~ "" && bio !~ """#,
        r#"(instr(tessera_fold("name"), tessera_fold(?)) > 0 AND ("bio" IS NULL OR instr(tessera_fold("bio"), tessera_fold(?)) = 0))"#,
        r#"("name"::text ILIKE '%' || $1::text || '%' ESCAPE '\' AND ("bio" IS NULL OR "bio"::text NOT ILIKE '%' || $2::text || '%' ESCAPE '\'))"#,
        vec![text(""), text("")],
    );
}

#[test]
fn in_lists_convert_every_item() {
    check(
        r#"species in ("cat", 'dog')"#,
        r#"("species" IN (?, ?))"#,
        r#"("species" IN ($1::text, $2::text))"#,
        vec![text("cat"), text("dog")],
    );
    check_params(
        r#"price in (1, 2.50, "3.10")"#,
        r#"("price" COLLATE tessera_decimal IN (?, ?, ?))"#,
        vec![text("1"), text("2.5"), text("3.1")],
        r#"("price" IN ($1::text::numeric, $2::text::numeric, $3::text::numeric))"#,
        vec![text("1"), text("2.50"), text("3.1")],
    );
    check(
        r#"born in ("2024-01-01")"#,
        r#"("born" IN (?))"#,
        r#"("born" IN ($1::text::date))"#,
        vec![text("2024-01-01")],
    );
    check("active in (true)", r#"("active" IN (?))"#, r#"("active" IN ($1::bool))"#, vec![Value::Boolean(true)]);
}

#[test]
fn macros_bind_like_literals_of_their_type() {
    check("owner = @request.auth.id", r#"("owner" = ?)"#, r#"("owner" = $1::int8)"#, vec![int(7)]);
    check("@request.auth.id = owner", r#"("owner" = ?)"#, r#"("owner" = $1::int8)"#, vec![int(7)]);
    // The macro's type fixes the parameter's cast: a decimal macro against an integer.
    check_params(
        "age < @request.price",
        r#"("age" < ?)"#,
        vec![Value::Float(9.5)],
        r#"("age" < $1::text::numeric)"#,
        vec![text("9.5")],
    );
    check(
        "tag = @request.tag",
        r#"("tag" = ?)"#,
        r#"("tag" = $1::text::uuid)"#,
        vec![text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")],
    );
    check(
        "seen <= @request.now",
        r#"("seen" <= ?)"#,
        r#"("seen" <= $1::text::timestamptz)"#,
        vec![text("2024-05-01T00:00:00.000000Z")],
    );
    check(
        "name ~ @request.auth.role",
        r#"(instr(tessera_fold("name"), tessera_fold(?)) > 0)"#,
        r#"("name"::text ILIKE '%' || $1::text || '%' ESCAPE '\')"#,
        vec![text("admin")],
    );
    check(
        "active != @request.flag",
        r#"("active" IS NOT ?)"#,
        r#"("active" IS DISTINCT FROM $1::bool)"#,
        vec![Value::Boolean(true)],
    );
}

#[test]
fn null_macros_act_like_null() {
    for (input, sql) in [
        ("owner = @guest.id", r#"("owner" IS NULL)"#),
        ("owner != @guest.id", r#"("owner" IS NOT NULL)"#),
        ("@guest.id = owner", r#"("owner" IS NULL)"#),
        ("owner > @guest.id", "(1=0)"),
        ("@guest.id <= owner", "(1=0)"),
        ("name ~ @guest.name", "(1=0)"),
        ("name !~ @guest.name", "(1=1)"),
    ] {
        assert_eq!(sqlite(input), (sql.to_string(), vec![]), "{input}");
        assert_eq!(postgres(input), (sql.to_string(), vec![]), "{input}");
    }
}

#[test]
fn constant_comparisons_fold() {
    for (input, holds) in [
        ("1 = 1", true),
        ("1 != 1", false),
        ("1 < 2", true),
        ("2 <= 1", false),
        ("1 = 1.0", true),
        ("-0.5 < 0", true),
        (r#""a" = "b""#, false),
        (r#""a" < "b""#, true),
        (r#""Hello" ~ "ELL""#, true),
        (r#""Hello" !~ "ELL""#, false),
        ("true = true", true),
        ("true != false", true),
        ("null = null", true),
        ("null != null", false),
        ("1 = null", false),
        (r#"null != "x""#, true),
        ("@request.auth.id != null", true),
        ("@request.auth.id = null", false),
        ("@guest.id = null", true),
        ("@guest.id != null", false),
        ("@request.auth.id = 7", true),
        ("@request.auth.id = 7.0", true),
        ("7 >= @request.auth.id", true),
        ("@request.auth.id > 7", false),
        (r#"@request.auth.role = "admin""#, true),
        (r#"@request.auth.role ~ "DM""#, true),
        (r#"@request.auth.role in ("x", "admin")"#, true),
        (r#"@request.auth.role in ("x", "y")"#, false),
        ("@request.auth.id in (1, 7)", true),
        (r#"@request.now > "2024-04-30T23:59:59Z""#, true),
        (r#"@request.now = "2024-05-01 02:00:00+02:00""#, true),
        (r#"@request.now > "2024-05-01""#, false),
        (r#"@request.price > 9"#, true),
        (r#"@request.price = "9.50""#, true),
        ("@request.auth.id > @request.price", false),
        ("@request.flag = true", true),
        ("@guest.id > 1", false),
        ("@guest.id = @guest.id", true),
        ("@guest.id != @request.auth.id", true),
        (r#"@guest.name ~ "x""#, false),
        (r#"@guest.name !~ "x""#, true),
        ("@request.body = null", false),
        ("@request.body != null", true),
    ] {
        let expected = if holds { "(1=1)" } else { "(1=0)" };
        assert_eq!(sqlite(input), (expected.to_string(), vec![]), "{input}");
        assert_eq!(postgres(input), (expected.to_string(), vec![]), "{input}");
    }
}

#[test]
fn names_resolve_case_insensitively_and_system_fields_exist() {
    check(
        "AGE > 1 && Id = 2 && updated_at < created_at",
        r#"("age" > ? AND "id" = ? AND "updated_at" < "created_at")"#,
        r#"("age" > $1::int8 AND "id" = $2::int8 AND "updated_at" < "created_at")"#,
        vec![int(1), int(2)],
    );
}

#[test]
fn columns_take_the_qualifier() {
    let schema = animals();
    let ctx = CompileContext::new(&schema).with_qualifier("t");
    let mut w = SqlWriter::new(Dialect::Sqlite);
    compile_filter("age > 1 && price < legs", &ctx, &mut w).unwrap();
    assert_eq!(w.sql(), r#"("t"."age" > ? AND CAST("t"."price" AS REAL) < "t"."legs")"#);
}

#[test]
fn compiles_into_a_statement_in_progress_and_leaves_it_alone_on_error() {
    let schema = animals();
    let ctx = CompileContext::new(&schema);
    let mut w = SqlWriter::new(Dialect::Postgres);
    w.push("SELECT * FROM \"animals\" WHERE \"id\" > ").push_param(int(0), FieldType::Integer).push(" AND ");
    let before = w.clone().finish();
    let error = compile_filter("age > 1 && nope = 2", &ctx, &mut w).unwrap_err();
    assert_eq!(error.position, 11);
    assert_eq!(w.clone().finish(), before);
    compile_filter("age > 1 && name = 'x'", &ctx, &mut w).unwrap();
    let (sql, params) = w.finish();
    assert_eq!(sql, r#"SELECT * FROM "animals" WHERE "id" > $1::int8 AND ("age" > $2::int8 AND "name" = $3::text)"#);
    assert_eq!(params, vec![int(0), int(1), text("x")]);
}

#[test]
fn names_and_macros_must_exist() {
    assert_eq!(refused("zoo = 1"), (0, "unknown field 'zoo'".into()));
    assert_eq!(refused("age > 1 && zoo.name = 1"), (11, "unknown field 'zoo.name'".into()));
    assert_eq!(refused("1 < zoo"), (4, "unknown field 'zoo'".into()));
    assert_eq!(refused("zoo in (1)"), (0, "unknown field 'zoo'".into()));
    assert_eq!(refused("@nope = 1"), (0, "unknown macro '@nope'".into()));
    assert_eq!(refused("age = @request"), (6, "unknown macro '@request'".into()));
    assert_eq!(
        refused("@bad.macro = 1"),
        (0, "macro '@bad.macro' has a value that does not fit its type, integer".into())
    );
    // Without a lookup, no macro exists.
    let schema = animals();
    let mut w = SqlWriter::new(Dialect::Sqlite);
    let error = compile_filter("owner = @request.auth.id", &CompileContext::new(&schema), &mut w).unwrap_err();
    assert_eq!((error.position, error.message.as_str()), (8, "unknown macro '@request.auth.id'"));
}

/// Well-formed filters `compile` refuses for their types, with the position and message
/// it reports (also checked against `decide`, which must refuse them identically).
pub(super) const TYPE_ERRORS: &[(&str, usize, &str)] = &[
    ("age ~ 'x'", 4, "'~' works only on text fields, but field 'age' is integer"),
    ("price !~ 'x'", 6, "'!~' works only on text fields, but field 'price' is decimal"),
    ("doc ~ 'x'", 4, "field 'doc' (json) can only be compared with null (= null or != null)"),
    ("age = \"abc\"", 6, "field 'age' (integer) cannot be compared with the string \"abc\""),
    ("\"abc\" < age", 0, "field 'age' (integer) cannot be compared with the string \"abc\""),
    ("weight = '1.5'", 9, "field 'weight' (float) cannot be compared with the string \"1.5\""),
    ("active > true", 7, "'>' cannot compare booleans; use = or !="),
    ("active <= active", 7, "'<=' cannot compare booleans; use = or !="),
    ("active = 1", 9, "field 'active' (boolean) cannot be compared with the number 1"),
    ("age = true", 6, "field 'age' (integer) cannot be compared with true"),
    ("name = 5", 7, "field 'name' (string) cannot be compared with the number 5"),
    ("born > 5", 7, "field 'born' (date) cannot be compared with the number 5"),
    ("price = false", 8, "field 'price' (decimal) cannot be compared with false"),
    ("age > null", 4, "'>' cannot be used with null; only = null and != null are allowed"),
    ("null <= age", 5, "'<=' cannot be used with null; only = null and != null are allowed"),
    ("name ~ null", 5, "'~' cannot be used with null; only = null and != null are allowed"),
    ("name ~ 5", 7, "'~' needs a string, not the number 5"),
    ("name !~ @request.auth.id", 8, "'!~' needs a string, not @request.auth.id (integer)"),
    ("\"x\" ~ name", 4, "'~' needs the field on its left, as in name ~ \"abc\""),
    ("'x' !~ name", 4, "'!~' needs the field on its left, as in name !~ \"abc\""),
    ("name ~ bio", 5, "'~' needs a string on its right, not field 'bio' (text)"),
    ("doc = 1", 6, "field 'doc' (json) can only be compared with null (= null or != null)"),
    ("doc != 'x'", 7, "field 'doc' (json) can only be compared with null (= null or != null)"),
    ("doc > null", 4, "field 'doc' (json) can only be compared with null (= null or != null)"),
    ("doc = doc", 4, "field 'doc' (json) can only be compared with null (= null or != null)"),
    ("doc in (1)", 4, "field 'doc' (json) can only be compared with null (= null or != null)"),
    ("doc = @request.body", 6, "field 'doc' (json) can only be compared with null (= null or != null)"),
    ("age = name", 4, "field 'age' (integer) cannot be compared with field 'name' (string)"),
    ("tag = name", 4, "field 'tag' (uuid) cannot be compared with field 'name' (string)"),
    ("born < seen", 5, "field 'born' (date) cannot be compared with field 'seen' (datetime)"),
    ("age in (1, 'a')", 11, "field 'age' (integer) cannot be compared with the string \"a\""),
    ("age in (1, null)", 11, "null cannot be in a list after 'in'; compare with = null instead"),
    ("null in (1)", 5, "'in' cannot be used with null; compare with = null instead"),
    ("1 = 'a'", 4, "the number 1 cannot be compared with the string \"a\""),
    ("true = 1.5", 7, "true cannot be compared with the number 1.5"),
    ("true > false", 5, "'>' cannot compare booleans; use = or !="),
    ("null > 1", 5, "'>' cannot be used with null; only = null and != null are allowed"),
    ("1 ~ 'a'", 0, "'~' needs strings, not the number 1"),
    ("'a' ~ 1", 6, "'~' needs strings, not the number 1"),
    ("age = @request.auth.role", 6, "field 'age' (integer) cannot be compared with @request.auth.role (string)"),
    ("tag = @request.auth.role", 6, "field 'tag' (uuid) cannot be compared with @request.auth.role (string)"),
    ("@request.auth.role = 5", 21, "@request.auth.role (string) cannot be compared with the number 5"),
    (
        "@request.auth.id = @request.auth.role",
        19,
        "@request.auth.id (integer) cannot be compared with @request.auth.role (string)",
    ),
    ("@request.auth.id ~ 'x'", 0, "'~' needs strings, not @request.auth.id (integer)"),
    ("@request.body = 1", 14, "@request.body (json) can only be compared with null (= null or != null)"),
    ("@request.flag > true", 14, "'>' cannot compare booleans; use = or !="),
    ("@guest.id > null", 10, "'>' cannot be used with null; only = null and != null are allowed"),
    ("@request.auth.role in ('a', 1)", 28, "@request.auth.role (string) cannot be compared with the number 1"),
    ("owner > @guest.name", 8, "field 'owner' (integer) cannot be compared with @guest.name (string)"),
];

#[test]
fn type_errors_point_at_the_literal_or_operator() {
    for (input, position, message) in TYPE_ERRORS {
        assert_eq!(refused(input), (*position, message.to_string()), "{input}");
    }
}

#[test]
fn invalid_strings_for_typed_fields_are_refused_at_the_literal() {
    for (input, position, prefix) in [
        (r#"seen >= "yesterday""#, 8, "the string \"yesterday\" is not a valid datetime for field 'seen' (datetime): "),
        (
            r#"age > 1 && born = "2024-02-30""#,
            18,
            "the string \"2024-02-30\" is not a valid date for field 'born' (date): ",
        ),
        (r#"tag != "nope""#, 7, "the string \"nope\" is not a valid uuid for field 'tag' (uuid): "),
        (r#"price < "12,5""#, 8, "the string \"12,5\" is not a valid decimal for field 'price' (decimal): "),
        (
            r#"created_at in ("2024-01-01", "soon")"#,
            29,
            "the string \"soon\" is not a valid datetime for field 'created_at' (datetime): ",
        ),
        (r#"@request.now < "later""#, 15, "the string \"later\" is not a valid datetime for @request.now (datetime): "),
    ] {
        let (at, message) = refused(input);
        assert_eq!(at, position, "{input}: {message}");
        assert!(message.starts_with(prefix), "{input}: {message}");
        assert!(message.len() > prefix.len(), "{input}: no reason given");
    }
}

#[test]
fn hand_built_trees_are_checked_too() {
    let schema = animals();
    let ctx = CompileContext::new(&schema);
    let age_is_one = parse("age = 1").unwrap();
    let compiled = |expr: &Expr| {
        let mut w = SqlWriter::new(Dialect::Sqlite);
        compile(expr, &ctx, &mut w).map(|()| w.finish().0)
    };
    assert_eq!(compiled(&Expr::And(vec![])).unwrap(), "(1=1)");
    assert_eq!(compiled(&Expr::Or(vec![])).unwrap(), "(1=0)");
    assert_eq!(compiled(&Expr::Or(vec![age_is_one.clone()])).unwrap(), r#"("age" = ?)"#);
    let mut deep = age_is_one.clone();
    for _ in 0..1000 {
        deep = Expr::Not(Box::new(deep));
    }
    assert_eq!(compiled(&deep).unwrap_err().message, "the filter is nested too deeply");
    let bad_number = Expr::Compare(Comparison {
        left: Operand { kind: OperandKind::Field("weight".into()), position: 0 },
        op: CompareOp::Eq,
        op_position: 7,
        right: Operand { kind: OperandKind::Literal(Literal::Fractional("1.2.3".into())), position: 9 },
    });
    assert_eq!(compiled(&bad_number).unwrap_err(), FilterError::new(9, "\"1.2.3\" is not a valid number"));
    let empty_list = Expr::In(InList {
        operand: Operand { kind: OperandKind::Field("age".into()), position: 0 },
        in_position: 4,
        items: vec![],
    });
    assert_eq!(
        compiled(&empty_list).unwrap_err(),
        FilterError::new(4, "the list after 'in' is empty; give at least one value")
    );
    // Dropping a deep tree must not overflow the stack either.
    drop(deep);
}
