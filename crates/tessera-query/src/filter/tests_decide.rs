//! Tests of `decide`, which answers an access rule for one caller before any row is
//! looked at, and of `references_fields`. The table and the fixed macros are those of the
//! compilation tests; the caller's id and role vary per test.

use super::tests_compile::{animals, macros, TYPE_ERRORS};
use super::*;
use crate::sql::{Dialect, SqlWriter};
use tessera_schema::{FieldType, Value};

/// Who calls: `@request.auth.id` (null when anonymous) and `@request.auth.role` (null
/// when the caller has none). Every other macro is the compilation tests' one.
#[derive(Debug, Clone, Copy)]
struct Caller {
    id: Option<i64>,
    role: Option<&'static str>,
}

const ANONYMOUS: Caller = Caller { id: None, role: None };

fn signed_in(id: i64) -> Caller {
    Caller { id: Some(id), role: Some("user") }
}

fn admin(id: i64) -> Caller {
    Caller { id: Some(id), role: Some("admin") }
}

impl Caller {
    fn lookup(self) -> impl Fn(&str) -> Option<(Value, FieldType)> {
        move |path: &str| match path {
            "request.auth.id" => Some((self.id.map_or(Value::Null, Value::Integer), FieldType::Integer)),
            "request.auth.role" => {
                Some((self.role.map_or(Value::Null, |role| Value::Text(role.into())), FieldType::String))
            }
            other => macros(other),
        }
    }
}

/// What `decide` says of `expr` for `caller`, or the error; compile is run too, and
/// must refuse exactly when decide does, with the same error.
fn decide_expr(expr: &Expr, caller: Caller) -> Result<Decision, FilterError> {
    let schema = animals();
    let lookup = caller.lookup();
    let ctx = CompileContext::new(&schema).with_macros(&lookup);
    let decision = decide(expr, &ctx);
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let mut w = SqlWriter::new(dialect);
        let compiled = compile(expr, &ctx, &mut w);
        assert_eq!(compiled.err(), decision.clone().err(), "{expr} for {caller:?} ({dialect:?})");
    }
    decision
}

fn decided(input: &str, caller: Caller) -> Decision {
    let expr = parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
    decide_expr(&expr, caller).unwrap_or_else(|error| panic!("{input} for {caller:?}: {error}"))
}

/// The error both `decide` and `compile` give for `input`, as (position, message).
fn refused(input: &str, caller: Caller) -> (usize, String) {
    let expr = parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
    match decide_expr(&expr, caller) {
        Ok(decision) => panic!("{input} for {caller:?} was decided: {decision:?}"),
        Err(error) => (error.position, error.message),
    }
}

#[test]
fn signed_in_checks_are_decided_by_the_caller_alone() {
    assert_eq!(decided("@request.auth.id != null", ANONYMOUS), Decision::Never);
    assert_eq!(decided("@request.auth.id != null", signed_in(5)), Decision::Always);
    assert_eq!(decided("@request.auth.id = null", ANONYMOUS), Decision::Always);
    assert_eq!(decided("@request.auth.id = null", signed_in(5)), Decision::Never);
    assert_eq!(decided("@request.auth.id = 5", signed_in(5)), Decision::Always);
    assert_eq!(decided("@request.auth.id > 5", signed_in(5)), Decision::Never);
    assert_eq!(decided("@request.auth.id > 5", ANONYMOUS), Decision::Never);
    assert_eq!(decided("@request.auth.id != 5", ANONYMOUS), Decision::Always);
    assert_eq!(decided(r#"@request.auth.role = "admin""#, admin(1)), Decision::Always);
    assert_eq!(decided(r#"@request.auth.role != "admin""#, signed_in(1)), Decision::Always);
    assert_eq!(decided(r#"@request.auth.role ~ "ADM""#, admin(1)), Decision::Always);
    assert_eq!(decided(r#"@request.auth.role ~ "adm""#, ANONYMOUS), Decision::Never);
}

#[test]
fn owner_rules_need_a_row_only_for_signed_in_callers() {
    let rule = "@request.auth.id != null && owner = @request.auth.id";
    assert_eq!(decided(rule, ANONYMOUS), Decision::Never);
    assert_eq!(decided(rule, signed_in(5)), Decision::Depends);
    // Without the guard an anonymous caller matches the rows without an owner.
    assert_eq!(decided("owner = @request.auth.id", ANONYMOUS), Decision::Depends);
    assert_eq!(decided("owner = @request.auth.id", signed_in(5)), Decision::Depends);
}

#[test]
fn an_admin_role_grants_everything() {
    let rule = r#"@request.auth.role = "admin" || owner = @request.auth.id"#;
    assert_eq!(decided(rule, admin(5)), Decision::Always);
    assert_eq!(decided(rule, Caller { id: None, role: Some("admin") }), Decision::Always);
    assert_eq!(decided(rule, signed_in(5)), Decision::Depends);
    assert_eq!(decided(rule, ANONYMOUS), Decision::Depends);
    let guarded = r#"@request.auth.role = "admin" || (@request.auth.id != null && owner = @request.auth.id)"#;
    assert_eq!(decided(guarded, ANONYMOUS), Decision::Never);
    assert_eq!(decided(guarded, signed_in(5)), Decision::Depends);
    assert_eq!(decided(guarded, admin(5)), Decision::Always);
}

#[test]
fn negation_flips_a_decided_group_only() {
    assert_eq!(decided("!(@request.auth.id = null)", ANONYMOUS), Decision::Never);
    assert_eq!(decided("!(@request.auth.id = null)", signed_in(5)), Decision::Always);
    assert_eq!(decided("!(!(@request.auth.id = null))", ANONYMOUS), Decision::Always);
    assert_eq!(decided("!(owner = @request.auth.id)", signed_in(5)), Decision::Depends);
    let rule = "!(@request.auth.id != null && owner = @request.auth.id)";
    assert_eq!(decided(rule, ANONYMOUS), Decision::Always);
    assert_eq!(decided(rule, signed_in(5)), Decision::Depends);
}

#[test]
fn in_lists_of_constants_are_folded_like_equalities() {
    for (input, caller, expected) in [
        (r#"@request.auth.role in ("admin", "editor")"#, admin(1), Decision::Always),
        (r#"@request.auth.role in ("admin", "editor")"#, signed_in(1), Decision::Never),
        // A null macro equals no literal, and null cannot be in the list.
        (r#"@request.auth.role in ("admin", "editor")"#, ANONYMOUS, Decision::Never),
        ("@request.auth.id in (4, 5, 6)", signed_in(5), Decision::Always),
        ("@request.auth.id in (4, 6)", signed_in(5), Decision::Never),
        ("@request.auth.id in (5.0)", signed_in(5), Decision::Always),
        ("5 in (1, 5)", ANONYMOUS, Decision::Always),
        (r#""a" in ("b", "c")"#, ANONYMOUS, Decision::Never),
        ("!(5 in (1, 2))", ANONYMOUS, Decision::Always),
        ("owner in (1, 2)", ANONYMOUS, Decision::Depends),
        (r#"@request.auth.role in ("admin") || owner in (5)"#, admin(5), Decision::Always),
        (r#"@request.auth.role in ("admin") || owner in (5)"#, signed_in(5), Decision::Depends),
    ] {
        assert_eq!(decided(input, caller), expected, "{input} for {caller:?}");
    }
}

#[test]
fn and_or_not_follow_three_valued_logic() {
    let value = |decision: Decision| match decision {
        Decision::Always => "1 = 1",
        Decision::Never => "1 = 2",
        Decision::Depends => "age > 1",
    };
    let all = [Decision::Always, Decision::Never, Decision::Depends];
    for a in all {
        let negated = match a {
            Decision::Always => Decision::Never,
            Decision::Never => Decision::Always,
            Decision::Depends => Decision::Depends,
        };
        assert_eq!(decided(&format!("!({})", value(a)), ANONYMOUS), negated, "!{a:?}");
        for b in all {
            let both = decided(&format!("{} && {}", value(a), value(b)), ANONYMOUS);
            let either = decided(&format!("{} || {}", value(a), value(b)), ANONYMOUS);
            let expected_both = match (a, b) {
                (Decision::Never, _) | (_, Decision::Never) => Decision::Never,
                (Decision::Always, Decision::Always) => Decision::Always,
                _ => Decision::Depends,
            };
            let expected_either = match (a, b) {
                (Decision::Always, _) | (_, Decision::Always) => Decision::Always,
                (Decision::Never, Decision::Never) => Decision::Never,
                _ => Decision::Depends,
            };
            assert_eq!(both, expected_both, "{a:?} && {b:?}");
            assert_eq!(either, expected_either, "{a:?} || {b:?}");
        }
    }
    // Trees built by hand: empty chains are what compile writes for them.
    assert_eq!(decide_expr(&Expr::And(vec![]), ANONYMOUS), Ok(Decision::Always));
    assert_eq!(decide_expr(&Expr::Or(vec![]), ANONYMOUS), Ok(Decision::Never));
    let one = parse("1 = 2").unwrap();
    assert_eq!(decide_expr(&Expr::And(vec![one.clone()]), ANONYMOUS), Ok(Decision::Never));
    assert_eq!(decide_expr(&Expr::Or(vec![one]), ANONYMOUS), Ok(Decision::Never));
}

#[test]
fn comparisons_with_fields_depend_on_the_row_unless_compile_folds_them() {
    for input in ["age > 1", "age = legs", "owner = @request.auth.id", "name ~ 'x'", "bio = null", "5 < age"] {
        assert_eq!(decided(input, signed_in(5)), Decision::Depends, "{input}");
    }
    // Compile writes a constant for these: nothing is ordered against, or contains, null.
    assert_eq!(decided("owner > @request.auth.id", ANONYMOUS), Decision::Never);
    assert_eq!(decided("owner > @request.auth.id", signed_in(5)), Decision::Depends);
    assert_eq!(decided("name ~ @request.auth.role", ANONYMOUS), Decision::Never);
    assert_eq!(decided("name !~ @request.auth.role", ANONYMOUS), Decision::Always);
    assert_eq!(decided("name !~ @request.auth.role", admin(1)), Decision::Depends);
}

#[test]
fn decide_refuses_exactly_what_compile_refuses() {
    // `refused` also checks that compile gives the same error.
    for caller in [ANONYMOUS, signed_in(5), admin(5)] {
        assert_eq!(refused("zoo = 1", caller), (0, "unknown field 'zoo'".into()));
        assert_eq!(refused("@nope = 1", caller), (0, "unknown macro '@nope'".into()));
        assert_eq!(
            refused("age = @request.auth.role", caller),
            (6, "field 'age' (integer) cannot be compared with @request.auth.role (string)".into())
        );
        assert_eq!(
            refused("name ~ @request.auth.id", caller),
            (7, "'~' needs a string, not @request.auth.id (integer)".into())
        );
        // Parts after (or before) a part that decides the answer are still checked.
        assert_eq!(refused("1 = 2 && zoo = 1", caller), (9, "unknown field 'zoo'".into()));
        assert_eq!(refused("zoo = 1 || 1 = 1", caller), (0, "unknown field 'zoo'".into()));
        assert_eq!(
            refused(r#"@request.auth.role = "admin" || owner = "me""#, caller),
            (40, "field 'owner' (integer) cannot be compared with the string \"me\"".into())
        );
        // The first error in the filter is the one reported.
        assert_eq!(refused("@request.auth.id != null && (zoo = 1 || @nope = 1)", caller).0, 29);
        assert_eq!(
            refused("null in (1)", caller),
            (5, "'in' cannot be used with null; compare with = null instead".into())
        );
        assert_eq!(
            refused("@request.auth.id in ('a')", caller),
            (21, "@request.auth.id (integer) cannot be compared with the string \"a\"".into())
        );
        for (input, position, message) in TYPE_ERRORS {
            assert_eq!(refused(input, caller), (*position, message.to_string()), "{input}");
        }
    }
    // Without a lookup, no macro exists.
    let schema = animals();
    let expr = parse("@request.auth.id != null").unwrap();
    let error = decide(&expr, &CompileContext::new(&schema)).unwrap_err();
    assert_eq!((error.position, error.message.as_str()), (0, "unknown macro '@request.auth.id'"));
}

#[test]
fn decide_refuses_the_depth_compile_refuses() {
    let mut expr = parse("@request.auth.id = null").unwrap();
    let mut refused_from = None;
    for depth in 0..300 {
        let decision = decide_expr(&expr, ANONYMOUS);
        match (&decision, refused_from) {
            (Ok(decision), None) => {
                let expected = if depth % 2 == 0 { Decision::Always } else { Decision::Never };
                assert_eq!(*decision, expected, "depth {depth}");
            }
            (Err(error), _) => {
                assert_eq!(error.message, "the filter is nested too deeply");
                refused_from.get_or_insert(depth);
            }
            (Ok(_), Some(first)) => panic!("refused at depth {first}, accepted at {depth}"),
        }
        expr = Expr::Not(Box::new(expr));
    }
    assert!(refused_from.is_some(), "a tree 300 deep was accepted");
}

#[test]
fn references_fields_finds_a_field_anywhere() {
    for (input, expected) in [
        ("1 = 1", false),
        ("@request.auth.id != null", false),
        (r#"@request.auth.role in ("a", "b") || !(@request.auth.id = 5)"#, false),
        ("owner = @request.auth.id", true),
        ("5 < owner", true),
        ("age in (1, 2)", true),
        ("age = legs", true),
        ("1 = 1 && !(@request.auth.id = 1 || (2 = 2 && zoo = 1))", true),
    ] {
        let expr = parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
        assert_eq!(references_fields(&expr), expected, "{input}");
    }
    assert!(!references_fields(&Expr::And(vec![])));
    // A tree far deeper than any parsed one is walked without recursion.
    for (leaf, expected) in [("age = 1", true), ("1 = 1", false)] {
        let mut deep = parse(leaf).unwrap();
        for _ in 0..1000 {
            deep = Expr::Not(Box::new(deep));
        }
        assert_eq!(references_fields(&deep), expected, "{leaf}");
    }
}
