//! Property tests of the filter language through its public API:
//! 1. no input, however malformed, makes parsing or compiling panic;
//! 2. a syntax tree written back as text parses to the same tree;
//! 3. string literals never reach the SQL text: they are always bound parameters;
//! 4. `decide` refuses exactly what `compile` refuses, with the same error, and agrees
//!    with the constants compile writes.

use proptest::prelude::*;
use serde_json::json;
use tessera_query::filter::{
    compile, compile_filter, decide, parse, references_fields, CompareOp, Comparison, CompileContext, Decision, Expr,
    InList, ListItem, Literal, Operand, OperandKind, MAX_CONDITIONS, MAX_INPUT_CHARS,
};
use tessera_query::{Dialect, SqlWriter};
use tessera_schema::{parse_fields, FieldType, TableSchema, Value};

fn animals() -> TableSchema {
    TableSchema {
        id: 1,
        name: "animals".into(),
        version: 1,
        fields: parse_fields(&json!({
            "name": "string",
            "species": {"type": "enum", "values": ["cat", "dog"]},
            "age": "integer",
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

/// Field names the strategies use: every field of `animals`, a system field and names
/// that do not resolve.
const FIELD_NAMES: &[&str] = &[
    "name",
    "species",
    "age",
    "weight",
    "price",
    "active",
    "born",
    "seen",
    "doc",
    "tag",
    "email",
    "site",
    "bio",
    "id",
    "created_at",
    "zoo",
    "zoo.name",
    "AGE",
];

const MACRO_PATHS: &[&str] =
    &["request.auth.id", "request.auth.role", "request.now", "request.price", "guest.id", "guest.name", "nope"];

fn macros(path: &str) -> Option<(Value, FieldType)> {
    Some(match path {
        "request.auth.id" => (Value::Integer(7), FieldType::Integer),
        "request.auth.role" => (Value::Text("admin".into()), FieldType::String),
        "request.now" => (Value::Text("2024-05-01T00:00:00.000000Z".into()), FieldType::Datetime),
        "request.price" => (Value::Text("9.5".into()), FieldType::Decimal),
        "guest.id" => (Value::Null, FieldType::Integer),
        "guest.name" => (Value::Null, FieldType::String),
        _ => return None,
    })
}

/// Compiles `input` for both dialects and checks what must hold whenever compiling
/// succeeds: the SQL is one parenthesized condition and has exactly one placeholder per
/// parameter.
fn compile_both(input: &str) {
    let schema = animals();
    let lookup = macros;
    let ctx = CompileContext::new(&schema).with_macros(&lookup);
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let mut w = SqlWriter::new(dialect);
        match compile_filter(input, &ctx, &mut w) {
            Ok(()) => {
                let (sql, params) = w.finish();
                assert!(sql.starts_with('(') && sql.ends_with(')'), "{sql}");
                let placeholder = if dialect == Dialect::Sqlite { '?' } else { '$' };
                assert_eq!(sql.matches(placeholder).count(), params.len(), "{sql}");
            }
            Err(error) => {
                assert!(error.position <= input.chars().count(), "{input}: {error}");
                assert!(!error.message.is_empty());
                assert_eq!(w.finish(), SqlWriter::new(dialect).finish());
            }
        }
    }
}

/// Checks `decide` against `compile` on one tree: the same error when refused; when
/// accepted, a filter compiled to a bare constant is decided to it, and a filter naming
/// no field is always decided.
fn decide_agrees_with_compile(expr: &Expr) -> Result<(), TestCaseError> {
    let schema = animals();
    let lookup = macros;
    let ctx = CompileContext::new(&schema).with_macros(&lookup);
    let decision = decide(expr, &ctx);
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let mut w = SqlWriter::new(dialect);
        let compiled = compile(expr, &ctx, &mut w);
        prop_assert_eq!(compiled.clone().err(), decision.clone().err(), "{}", expr);
        if compiled.is_ok() {
            let (sql, _) = w.finish();
            match sql.as_str() {
                "(1=1)" => prop_assert_eq!(decision.clone(), Ok(Decision::Always), "{}", expr),
                "(1=0)" => prop_assert_eq!(decision.clone(), Ok(Decision::Never), "{}", expr),
                _ => {}
            }
        }
    }
    if !references_fields(expr) {
        prop_assert!(!matches!(decision, Ok(Decision::Depends)), "{}", expr);
    }
    Ok(())
}

/// Pieces of the language, well and badly formed, to build plausible near-misses from.
fn token() -> impl Strategy<Value = String> {
    let fixed: Vec<&'static str> = vec![
        "(",
        ")",
        "(",
        ")",
        ",",
        "!",
        "!",
        "&&",
        "||",
        "&",
        "|",
        "=",
        "==",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "~",
        "!~",
        "in",
        "IN",
        "true",
        "false",
        "null",
        "NULL",
        "1",
        "-1",
        "0.5",
        "-2.5e3",
        "1e999",
        "9223372036854775808",
        "-",
        ".",
        "@",
        "@request.auth.id",
        "@request.auth.role",
        "@request.now",
        "@request.price",
        "@guest.id",
        "@guest.name",
        "@nope",
        "@1",
        "\"x\"",
        "'y'",
        "\"2024-01-01\"",
        "'12.50'",
        "\"a\\\"b\"",
        "\"\\q\"",
        "\"open",
        "'",
        "\"",
        "\\",
        "é",
        "\u{0}",
        " ",
        "\n",
        "zoo.",
        "a.b.c",
    ];
    prop_oneof![
        4 => proptest::sample::select(fixed).prop_map(str::to_string),
        3 => proptest::sample::select(FIELD_NAMES).prop_map(str::to_string),
        1 => "[a-z]{1,4}",
        1 => any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec((token(), proptest::bool::ANY), 0..40).prop_map(|tokens| {
        let mut text = String::new();
        for (token, space) in tokens {
            text.push_str(&token);
            if space {
                text.push(' ');
            }
        }
        text
    })
}

/// The tree with every position set to 0, so trees from different texts compare.
fn strip(expr: &Expr) -> Expr {
    fn operand(operand: &Operand) -> Operand {
        Operand { kind: operand.kind.clone(), position: 0 }
    }
    match expr {
        Expr::Compare(c) => {
            Expr::Compare(Comparison { left: operand(&c.left), op: c.op, op_position: 0, right: operand(&c.right) })
        }
        Expr::In(list) => Expr::In(InList {
            operand: operand(&list.operand),
            in_position: 0,
            items: list.items.iter().map(|item| ListItem { literal: item.literal.clone(), position: 0 }).collect(),
        }),
        Expr::Not(inner) => Expr::Not(Box::new(strip(inner))),
        Expr::And(parts) => Expr::And(parts.iter().map(strip).collect()),
        Expr::Or(parts) => Expr::Or(parts.iter().map(strip).collect()),
    }
}

fn count_conditions(expr: &Expr) -> usize {
    match expr {
        Expr::Compare(_) | Expr::In(_) => 1,
        Expr::Not(inner) => count_conditions(inner),
        Expr::And(parts) | Expr::Or(parts) => parts.iter().map(count_conditions).sum(),
    }
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,6}(\\.[a-zA-Z][a-zA-Z0-9_]{0,4}){0,2}"
}

fn is_keyword(name: &str) -> bool {
    ["in", "true", "false", "null"].iter().any(|keyword| keyword.eq_ignore_ascii_case(name))
}

/// Any literal the parser can produce. Strings are arbitrary unicode without NUL.
fn literal(strings: BoxedStrategy<String>) -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Integer),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| Literal::Fractional(format!("{f:?}"))),
        "-?[0-9]{1,4}(\\.[0-9]{1,4})?[eE][+-]?[0-9]{1,2}".prop_map(Literal::Fractional),
        "-?[0-9]{1,4}\\.[0-9]{1,4}".prop_map(Literal::Fractional),
        strings.prop_map(Literal::String),
    ]
}

fn any_text() -> BoxedStrategy<String> {
    any::<String>().prop_map(|text| text.replace('\0', "")).boxed()
}

fn operand_kind(
    fields: BoxedStrategy<String>,
    macros: BoxedStrategy<String>,
    strings: BoxedStrategy<String>,
) -> impl Strategy<Value = OperandKind> {
    prop_oneof![
        2 => fields.prop_map(OperandKind::Field),
        1 => macros.prop_map(OperandKind::Macro),
        3 => literal(strings).prop_map(OperandKind::Literal),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(CompareOp::ALL.to_vec())
}

fn at(kind: OperandKind) -> Operand {
    Operand { kind, position: 0 }
}

/// Well-formed trees with positions 0, over the given names and strings.
fn tree(
    fields: BoxedStrategy<String>,
    macros: BoxedStrategy<String>,
    strings: BoxedStrategy<String>,
) -> impl Strategy<Value = Expr> {
    let operand = operand_kind(fields, macros, strings.clone()).boxed();
    let compare = (operand.clone(), op(), operand.clone()).prop_map(|(left, op, right)| {
        Expr::Compare(Comparison { left: at(left), op, op_position: 0, right: at(right) })
    });
    let list = (operand, proptest::collection::vec(literal(strings), 1..5)).prop_map(|(operand, items)| {
        Expr::In(InList {
            operand: at(operand),
            in_position: 0,
            items: items.into_iter().map(|literal| ListItem { literal, position: 0 }).collect(),
        })
    });
    let leaf = prop_oneof![3 => compare, 1 => list];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

fn any_tree() -> impl Strategy<Value = Expr> {
    tree(name().prop_filter("not a keyword", |n| !is_keyword(n)).boxed(), name().boxed(), any_text())
}

/// Trees over the `animals` table whose strings are all marked with '§', a character
/// no SQL this crate writes contains. Most are mistyped somewhere and refused.
fn marked_tree() -> impl Strategy<Value = Expr> {
    tree(
        proptest::sample::select(FIELD_NAMES).prop_map(str::to_string).boxed(),
        proptest::sample::select(MACRO_PATHS).prop_map(str::to_string).boxed(),
        marked_text(),
    )
}

fn marked_text() -> BoxedStrategy<String> {
    any_text().prop_map(|text| format!("§{text}§")).boxed()
}

fn field(name: &str) -> OperandKind {
    OperandKind::Field(name.to_string())
}

fn number() -> impl Strategy<Value = Literal> {
    prop_oneof![any::<i64>().prop_map(Literal::Integer), "-?[0-9]{1,6}\\.[0-9]{1,6}".prop_map(Literal::Fractional),]
}

/// One comparison that is well typed for `animals`, written either way round.
fn typed_leaf() -> impl Strategy<Value = Expr> {
    let textual = proptest::sample::select(vec!["name", "species", "email", "site", "bio", "tag"]);
    let text_ops = proptest::sample::select(CompareOp::ALL.to_vec());
    let equality = proptest::sample::select(vec![CompareOp::Eq, CompareOp::NotEq]);
    let ordering = proptest::sample::select(vec![
        CompareOp::Eq,
        CompareOp::NotEq,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ]);
    let numeric = proptest::sample::select(vec!["age", "weight", "price", "id"]);
    let any_field = proptest::sample::select(FIELD_NAMES[..15].to_vec());
    let comparisons = prop_oneof![
        // Text fields against any string (uuid only with `~`, `!~`).
        (textual, text_ops, marked_text()).prop_map(|(name, op, text)| {
            let searching = matches!(op, CompareOp::Contains | CompareOp::NotContains);
            let op = if name == "tag" && !searching { CompareOp::Contains } else { op };
            (field(name), op, OperandKind::Literal(Literal::String(text)))
        }),
        (numeric, ordering.clone(), number()).prop_map(|(name, op, n)| (field(name), op, OperandKind::Literal(n))),
        (equality.clone(), any::<bool>()).prop_map(|(op, flag)| (
            field("active"),
            op,
            OperandKind::Literal(Literal::Bool(flag))
        )),
        (ordering.clone(), "20[0-9]{2}-0[1-9]-1[0-9]").prop_map(|(op, date)| (
            field("born"),
            op,
            OperandKind::Literal(Literal::String(date))
        )),
        (ordering.clone(), "20[0-9]{2}-0[1-9]-1[0-9]T0[0-9]:[0-5][0-9]:00Z").prop_map(|(op, time)| (
            field("seen"),
            op,
            OperandKind::Literal(Literal::String(time))
        )),
        (any_field, equality.clone()).prop_map(|(name, op)| (field(name), op, OperandKind::Literal(Literal::Null))),
        (ordering.clone(), proptest::sample::select(vec!["request.auth.id", "guest.id", "request.price"]))
            .prop_map(|(op, path)| (field("age"), op, OperandKind::Macro(path.to_string()))),
        ordering.prop_map(|op| (field("seen"), op, OperandKind::Macro("request.now".into()))),
        // Folded at compile time, so its string is not marked: it is never bound.
        (equality, "[a-z]{0,6}").prop_map(|(op, text)| {
            let role = OperandKind::Macro("request.auth.role".into());
            (role, op, OperandKind::Literal(Literal::String(text)))
        }),
    ];
    let comparison = (comparisons, any::<bool>()).prop_map(|((left, op, right), swap)| {
        let (left, op, right) = match op.flipped() {
            Some(flipped) if swap => (right, flipped, left),
            _ => (left, op, right),
        };
        Expr::Compare(Comparison { left: at(left), op, op_position: 0, right: at(right) })
    });
    let list = (
        proptest::sample::select(vec!["name", "species", "email", "site", "bio"]),
        proptest::collection::vec(marked_text(), 1..4),
    )
        .prop_map(|(name, texts)| {
            Expr::In(InList {
                operand: at(field(name)),
                in_position: 0,
                items: texts.into_iter().map(|text| ListItem { literal: Literal::String(text), position: 0 }).collect(),
            })
        });
    prop_oneof![4 => comparison, 1 => list]
}

/// Well-typed trees over `animals`: they all compile.
fn typed_tree() -> impl Strategy<Value = Expr> {
    typed_leaf().prop_recursive(5, 32, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

/// A well-typed filter's text with a few characters deleted, tokens inserted or the
/// end cut off: plausible near-misses.
fn mutated_filter() -> impl Strategy<Value = String> {
    let edit = (0u8..3, any::<proptest::sample::Index>(), token());
    (typed_tree(), proptest::collection::vec(edit, 0..4)).prop_map(|(expr, edits)| {
        let mut chars: Vec<char> = expr.to_string().chars().collect();
        for (kind, index, token) in edits {
            let at = index.index(chars.len() + 1);
            match kind {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => {
                    let tail = chars.split_off(at);
                    chars.extend(token.chars());
                    chars.extend(tail);
                }
                _ => chars.truncate(at),
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        let _ = parse(&input);
        compile_both(&input);
    }

    #[test]
    fn token_soup_never_panics(input in token_soup()) {
        if let Ok(expr) = parse(&input) {
            // What parses is written back in a canonical form that parses the same.
            let again = parse(&expr.to_string());
            prop_assert_eq!(again.map(|e| strip(&e)), Ok(strip(&expr)));
        }
        compile_both(&input);
    }

    #[test]
    fn near_misses_never_panic(input in mutated_filter()) {
        if let Ok(expr) = parse(&input) {
            let again = parse(&expr.to_string());
            prop_assert_eq!(again.map(|e| strip(&e)), Ok(strip(&expr)));
        }
        compile_both(&input);
    }

    #[test]
    fn deep_and_long_inputs_are_refused_not_overflowed(
        opens in 0usize..5000,
        piece in proptest::sample::select(vec!["(", "!", "!(", "((", "a = 1 && "]),
    ) {
        let input = format!("{}a = 1", piece.repeat(opens));
        let _ = parse(&input);
        compile_both(&input);
    }

    #[test]
    fn written_trees_parse_back_to_themselves(expr in any_tree()) {
        let text = expr.to_string();
        prop_assume!(text.chars().count() <= MAX_INPUT_CHARS);
        prop_assume!(count_conditions(&expr) <= MAX_CONDITIONS);
        let parsed = parse(&text).map(|e| strip(&e));
        prop_assert_eq!(parsed, Ok(expr), "text: {}", text);
    }

    #[test]
    fn string_literals_never_reach_the_sql_text(expr in marked_tree()) {
        let schema = animals();
        let lookup = macros;
        let ctx = CompileContext::new(&schema).with_macros(&lookup);
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let mut w = SqlWriter::new(dialect);
            if compile(&expr, &ctx, &mut w).is_ok() {
                let (sql, params) = w.finish();
                prop_assert!(!sql.contains('§'), "{}", sql);
                let placeholder = if dialect == Dialect::Sqlite { '?' } else { '$' };
                prop_assert_eq!(sql.matches(placeholder).count(), params.len());
            }
        }
    }

    #[test]
    fn decide_refuses_what_compile_refuses(expr in marked_tree()) {
        decide_agrees_with_compile(&expr)?;
    }

    #[test]
    fn decide_refuses_what_compile_refuses_in_any_tree(expr in any_tree()) {
        decide_agrees_with_compile(&expr)?;
    }

    #[test]
    fn decide_accepts_well_typed_trees(expr in typed_tree()) {
        decide_agrees_with_compile(&expr)?;
    }

    #[test]
    fn well_typed_trees_compile_with_every_string_bound(expr in typed_tree()) {
        prop_assume!(count_conditions(&expr) <= MAX_CONDITIONS);
        let text = expr.to_string();
        prop_assert_eq!(parse(&text).map(|e| strip(&e)), Ok(expr.clone()));
        let schema = animals();
        let lookup = macros;
        let ctx = CompileContext::new(&schema).with_macros(&lookup);
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let mut w = SqlWriter::new(dialect);
            let compiled = compile(&expr, &ctx, &mut w);
            prop_assert!(compiled.is_ok(), "{}: {:?}", text, compiled);
            let (sql, params) = w.finish();
            prop_assert!(!sql.contains('§'), "{}", sql);
            let placeholder = if dialect == Dialect::Sqlite { '?' } else { '$' };
            prop_assert_eq!(sql.matches(placeholder).count(), params.len());
            // Every marked string of the filter is among the parameters.
            let marked_in_text = text.matches('§').count();
            let marked_in_params: usize = params
                .iter()
                .map(|p| match p {
                    Value::Text(bound) => bound.matches('§').count(),
                    _ => 0,
                })
                .sum();
            prop_assert_eq!(marked_in_text, marked_in_params);
        }
    }

    #[test]
    fn the_sql_shape_does_not_depend_on_string_values(text in any_text()) {
        // Whatever a string holds (quotes, `%`, `--`, `$1`, `?`), the SQL is the same as
        // for a plain one and the string travels as a parameter.
        let schema = animals();
        let ctx = CompileContext::new(&schema);
        let quoted = Literal::String(text.clone()).to_string();
        for template in [
            "name = {}",
            "{} != species",
            "bio ~ {}",
            "email !~ {}",
            "site in ({}, 'x')",
            "name > {} || name <= {}",
        ] {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let compiled = |literal: &str| {
                    let mut w = SqlWriter::new(dialect);
                    compile_filter(&template.replace("{}", literal), &ctx, &mut w)
                        .map(|()| w.finish())
                };
                let (plain_sql, _) = compiled("'plain'").unwrap();
                let (sql, params) = compiled(&quoted).unwrap();
                prop_assert_eq!(&sql, &plain_sql, "{}", template);
                // `~` binds the text with LIKE wildcards escaped.
                let escaped: String = text
                    .chars()
                    .flat_map(|c| {
                        let escape = matches!(c, '%' | '_' | '\\').then_some('\\');
                        escape.into_iter().chain(std::iter::once(c))
                    })
                    .collect();
                let bound = params.iter().any(|p| match p {
                    Value::Text(bound) => bound == &text || bound == &escaped,
                    _ => false,
                });
                prop_assert!(bound, "{:?} not bound in {:?}", text, params);
            }
        }
    }
}
