//! Runs compiled filters on a real SQLite table (laid out as the store lays out user
//! tables: STRICT, decimals, dates and uuids as canonical text, booleans as integers)
//! and checks the rows they select against the documented meaning, computed here
//! independently of the compiler: null semantics, `!=` as the complement of `=`, `!(…)`
//! as the complement of its group, `~` as an ASCII-case-insensitive substring test with
//! `%`, `_` and `\` taken literally, flipped sides, decimals compared by value. Also
//! checks that a filter `decide` calls always (never) decided selects every row (none).

use proptest::prelude::*;
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use serde_json::json;
use std::cmp::Ordering;
use tessera_query::filter::{
    compile, decide, parse, CompareOp, Comparison, CompileContext, Decision, Expr, InList, ListItem, Literal, Operand,
    OperandKind,
};
use tessera_query::{Dialect, SqlWriter};
use tessera_schema::{parse_fields, TableSchema, Value};

fn animals() -> TableSchema {
    TableSchema {
        id: 1,
        name: "animals".into(),
        version: 1,
        fields: parse_fields(&json!({
            "name": "string",
            "bio": "text",
            "age": "integer",
            "weight": "float",
            "price": "decimal",
            "active": "boolean",
            "born": "date",
            "seen": "datetime",
            "tag": "uuid",
            "doc": "json",
        }))
        .unwrap(),
        kind: Default::default(),
        rules: Default::default(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Bio,
    Age,
    Weight,
    Price,
    Active,
    Born,
    Seen,
    Tag,
    Doc,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Bio => "bio",
            Field::Age => "age",
            Field::Weight => "weight",
            Field::Price => "price",
            Field::Active => "active",
            Field::Born => "born",
            Field::Seen => "seen",
            Field::Tag => "tag",
            Field::Doc => "doc",
        }
    }
}

/// A row of the test table; `None` is SQL NULL.
struct Row {
    id: i64,
    name: Option<&'static str>,
    bio: Option<&'static str>,
    age: Option<i64>,
    weight: Option<f64>,
    /// Canonical decimal text.
    price: Option<&'static str>,
    active: Option<bool>,
    born: Option<&'static str>,
    seen: Option<&'static str>,
    tag: Option<&'static str>,
    doc: Option<&'static str>,
}

const fn row(id: i64) -> Row {
    Row {
        id,
        name: None,
        bio: None,
        age: None,
        weight: None,
        price: None,
        active: None,
        born: None,
        seen: None,
        tag: None,
        doc: None,
    }
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: Some("Leo"),
            bio: Some("likes fish"),
            age: Some(3),
            weight: Some(4.5),
            price: Some("12.5"),
            active: Some(true),
            born: Some("2020-01-15"),
            seen: Some("2024-01-01T00:00:00.000000Z"),
            tag: Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            doc: Some("{}"),
            ..row(1)
        },
        Row {
            name: Some("leopard"),
            age: Some(5),
            weight: Some(60.0),
            price: Some("100"),
            active: Some(false),
            born: Some("2018-06-01"),
            seen: Some("2024-03-05T12:30:00.000000Z"),
            ..row(2)
        },
        Row {
            name: Some("cat_100%"),
            bio: Some("a\\b"),
            tag: Some("00000000-0000-0000-0000-000000000000"),
            doc: Some("[1]"),
            ..row(3)
        },
        Row {
            bio: Some("LEO"),
            age: Some(0),
            weight: Some(-1.0),
            price: Some("-3"),
            active: Some(true),
            born: Some("2024-02-29"),
            seen: Some("2023-12-31T23:59:59.999999Z"),
            ..row(4)
        },
        Row {
            name: Some(""),
            bio: Some(""),
            age: Some(-2),
            weight: Some(0.5),
            price: Some("0.1"),
            active: Some(false),
            born: Some("2020-01-15"),
            ..row(5)
        },
        Row {
            name: Some("Émile"),
            bio: Some("émile"),
            age: Some(3),
            weight: Some(3.0),
            price: Some("3"),
            tag: Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            ..row(6)
        },
        Row {
            name: Some("a\\b"),
            bio: Some("100%"),
            age: Some(1),
            weight: Some(1.0),
            price: Some("1"),
            active: Some(true),
            seen: Some("2024-01-01T00:00:00.000000Z"),
            ..row(7)
        },
        row(8),
    ]
}

fn database() -> Connection {
    let connection = Connection::open_in_memory().unwrap();
    tessera_store::sqlite_functions::register(&connection).unwrap();
    connection
        .execute(
            "CREATE TABLE \"animals\" (\"id\" INTEGER PRIMARY KEY, \"name\" TEXT, \"bio\" TEXT, \
             \"age\" INTEGER, \"weight\" REAL, \"price\" TEXT, \"active\" INTEGER, \"born\" TEXT, \
             \"seen\" TEXT, \"tag\" TEXT, \"doc\" TEXT) STRICT",
            [],
        )
        .unwrap();
    for r in rows() {
        connection
            .execute(
                "INSERT INTO \"animals\" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rusqlite::params![
                    r.id, r.name, r.bio, r.age, r.weight, r.price, r.active, r.born, r.seen, r.tag, r.doc
                ],
            )
            .unwrap();
    }
    connection
}

fn to_sql(value: Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Integer(number) => SqlValue::Integer(number),
        Value::Float(number) => SqlValue::Real(number),
        Value::Boolean(flag) => SqlValue::Integer(i64::from(flag)),
        Value::Text(text) => SqlValue::Text(text),
        Value::Json(json) => SqlValue::Text(json.to_string()),
    }
}

/// The ids of the rows the compiled filter selects.
fn select(connection: &Connection, expr: &Expr) -> Vec<i64> {
    let schema = animals();
    let mut w = SqlWriter::new(Dialect::Sqlite);
    w.push("SELECT \"id\" FROM \"animals\" WHERE ");
    compile(expr, &CompileContext::new(&schema), &mut w).unwrap_or_else(|e| panic!("{expr}: {e}"));
    w.push(" ORDER BY \"id\"");
    let (sql, params) = w.finish();
    let mut statement = connection.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ids = statement
        .query_map(rusqlite::params_from_iter(params.into_iter().map(to_sql)), |row| row.get::<_, i64>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect::<Result<Vec<i64>, _>>()
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    ids
}

fn select_text(connection: &Connection, filter: &str) -> Vec<i64> {
    let expr = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    select(connection, &expr)
}

#[test]
fn documented_examples_select_the_expected_rows() {
    let connection = database();
    for (filter, ids) in [
        // `~` ignores ASCII case; the field must be non-null to contain anything.
        ("name ~ 'leo'", vec![1, 2]),
        ("name !~ 'leo'", vec![3, 4, 5, 6, 7, 8]),
        // Wildcards and backslashes are literal.
        ("name ~ '_'", vec![3]),
        ("name ~ '%'", vec![3]),
        ("bio ~ '%'", vec![7]),
        (r"name ~ '\\'", vec![7]),
        (r"bio ~ 'a\\b'", vec![3]),
        // Every non-null text contains the empty string.
        ("bio ~ ''", vec![1, 3, 4, 5, 6, 7]),
        // `!=` keeps nulls; `=` null is IS NULL.
        ("age != 3", vec![2, 3, 4, 5, 7, 8]),
        ("age = null", vec![3, 8]),
        ("age != null", vec![1, 2, 4, 5, 6, 7]),
        // Ordering never matches null; `!( )` is the exact complement.
        ("age > 1", vec![1, 2, 6]),
        ("!(age > 1)", vec![3, 4, 5, 7, 8]),
        ("1 < age", vec![1, 2, 6]),
        ("age in (0, 1, 3)", vec![1, 4, 6, 7]),
        ("!(age in (0, 1, 3))", vec![2, 3, 5, 8]),
        ("age = 2.5 || age < 0.5", vec![4, 5]),
        // Decimals compare by value, not as text.
        ("price > 9", vec![1, 2]),
        ("price = '12.50'", vec![1]),
        ("price <= 0.1", vec![4, 5]),
        ("weight >= 3 && weight < 60", vec![1, 6]),
        ("active = true", vec![1, 4, 7]),
        ("active != true", vec![2, 3, 5, 6, 8]),
        ("born >= '2020-01-15'", vec![1, 4, 5]),
        ("seen >= '2024-01-01'", vec![1, 2, 7]),
        ("seen < '2024-01-01T00:00:00Z'", vec![4]),
        ("seen = '2024-03-05T14:30:00+02:00'", vec![2]),
        ("tag = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", vec![1]),
        ("tag ~ 'BC99'", vec![1]),
        ("doc != null", vec![1, 3]),
        // Two fields: null equals null.
        ("name = bio", vec![5, 8]),
        ("name != bio", vec![1, 2, 3, 4, 6, 7]),
        ("age = weight", vec![3, 6, 7, 8]),
        ("weight > age", vec![1, 2, 5]),
        ("1 = 1 && age = 0", vec![4]),
        ("1 = 0 || age = 0", vec![4]),
        ("age > 0 && (name ~ 'LEO' || bio ~ 'é')", vec![1, 2, 6]),
    ] {
        assert_eq!(select_text(&connection, filter), ids, "{filter}");
    }
}

/// What a literal means when compared with its field, for the reference evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Meaning {
    Null,
    Int(i64),
    Number(f64),
    Text(String),
    Bool(bool),
}

/// A filter whose meaning is known: each leaf carries what its literal stands for.
#[derive(Debug, Clone)]
enum Cond {
    /// `field op literal`, written with the sides swapped when `swapped`.
    Compare {
        field: Field,
        op: CompareOp,
        written: Literal,
        meaning: Meaning,
        swapped: bool,
    },
    Fields {
        left: Field,
        op: CompareOp,
        right: Field,
    },
    In {
        field: Field,
        items: Vec<(Literal, Meaning)>,
    },
    /// A comparison of constants, as filter text, and whether it holds.
    Constant {
        filter: &'static str,
        holds: bool,
    },
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

fn operand(kind: OperandKind) -> Operand {
    Operand { kind, position: 0 }
}

fn field_operand(field: Field) -> Operand {
    operand(OperandKind::Field(field.name().to_string()))
}

fn to_expr(cond: &Cond) -> Expr {
    match cond {
        Cond::Compare { field, op, written, swapped, .. } => {
            let literal = operand(OperandKind::Literal(written.clone()));
            let (left, op, right) = match op.flipped() {
                Some(flipped) if *swapped => (literal, flipped, field_operand(*field)),
                _ => (field_operand(*field), *op, literal),
            };
            Expr::Compare(Comparison { left, op, op_position: 0, right })
        }
        Cond::Fields { left, op, right } => Expr::Compare(Comparison {
            left: field_operand(*left),
            op: *op,
            op_position: 0,
            right: field_operand(*right),
        }),
        Cond::In { field, items } => Expr::In(InList {
            operand: field_operand(*field),
            in_position: 0,
            items: items.iter().map(|(literal, _)| ListItem { literal: literal.clone(), position: 0 }).collect(),
        }),
        Cond::Constant { filter, .. } => parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}")),
        Cond::Not(inner) => Expr::Not(Box::new(to_expr(inner))),
        Cond::And(parts) => Expr::And(parts.iter().map(to_expr).collect()),
        Cond::Or(parts) => Expr::Or(parts.iter().map(to_expr).collect()),
    }
}

fn value_of(row: &Row, field: Field) -> Meaning {
    let text = |text: Option<&str>| text.map_or(Meaning::Null, |t| Meaning::Text(t.into()));
    match field {
        Field::Name => text(row.name),
        Field::Bio => text(row.bio),
        Field::Born => text(row.born),
        Field::Seen => text(row.seen),
        Field::Tag => text(row.tag),
        Field::Doc => text(row.doc),
        Field::Age => row.age.map_or(Meaning::Null, Meaning::Int),
        Field::Weight => row.weight.map_or(Meaning::Null, Meaning::Number),
        Field::Price => row.price.map_or(Meaning::Null, |p| Meaning::Number(p.parse().unwrap())),
        Field::Active => row.active.map_or(Meaning::Null, Meaning::Bool),
    }
}

fn order(a: &Meaning, b: &Meaning) -> Ordering {
    let number = |m: &Meaning| match m {
        Meaning::Int(i) => *i as f64,
        Meaning::Number(f) => *f,
        other => panic!("not a number: {other:?}"),
    };
    match (a, b) {
        (Meaning::Int(a), Meaning::Int(b)) => a.cmp(b),
        (Meaning::Text(a), Meaning::Text(b)) => a.cmp(b),
        (Meaning::Bool(a), Meaning::Bool(b)) => a.cmp(b),
        _ => number(a).partial_cmp(&number(b)).unwrap(),
    }
}

/// The documented meaning of `a op b`, two-valued.
fn holds(a: &Meaning, op: CompareOp, b: &Meaning) -> bool {
    let null = (*a == Meaning::Null, *b == Meaning::Null);
    match op {
        CompareOp::Eq => match null {
            (true, true) => true,
            (false, false) => order(a, b) == Ordering::Equal,
            _ => false,
        },
        CompareOp::NotEq => !holds(a, CompareOp::Eq, b),
        CompareOp::Contains => match (a, b) {
            (Meaning::Text(haystack), Meaning::Text(needle)) => {
                haystack.to_lowercase().contains(&needle.to_lowercase())
            }
            _ => false,
        },
        CompareOp::NotContains => !holds(a, CompareOp::Contains, b),
        ordering => {
            if null != (false, false) {
                return false;
            }
            let found = order(a, b);
            match ordering {
                CompareOp::Gt => found == Ordering::Greater,
                CompareOp::Ge => found != Ordering::Less,
                CompareOp::Lt => found == Ordering::Less,
                _ => found != Ordering::Greater,
            }
        }
    }
}

fn evaluate(cond: &Cond, row: &Row) -> bool {
    match cond {
        Cond::Compare { field, op, meaning, .. } => holds(&value_of(row, *field), *op, meaning),
        Cond::Fields { left, op, right } => holds(&value_of(row, *left), *op, &value_of(row, *right)),
        Cond::In { field, items } => {
            let value = value_of(row, *field);
            value != Meaning::Null && items.iter().any(|(_, meaning)| holds(&value, CompareOp::Eq, meaning))
        }
        Cond::Constant { holds, .. } => *holds,
        Cond::Not(inner) => !evaluate(inner, row),
        Cond::And(parts) => parts.iter().all(|part| evaluate(part, row)),
        Cond::Or(parts) => parts.iter().any(|part| evaluate(part, row)),
    }
}

fn text_literal(text: &str) -> (Literal, Meaning) {
    (Literal::String(text.into()), Meaning::Text(text.into()))
}

const TEXTS: &[&str] =
    &["leo", "LEO", "Leo", "%", "_", "\\", "a\\b", "", "cat_", "0%", "é", "É", "mile", "fish", "x", "100%"];

/// A literal a field may be compared with by `op`, and what it means there.
fn literal_for(field: Field) -> BoxedStrategy<(Literal, Meaning)> {
    let int = |range: std::ops::RangeInclusive<i64>| range.prop_map(|i| (Literal::Integer(i), Meaning::Int(i)));
    let fractional = |texts: &'static [&'static str]| {
        proptest::sample::select(texts)
            .prop_map(|t| (Literal::Fractional(t.into()), Meaning::Number(t.parse().unwrap())))
    };
    match field {
        Field::Name | Field::Bio => proptest::sample::select(TEXTS).prop_map(text_literal).boxed(),
        Field::Age => prop_oneof![int(-3..=6), fractional(&["1.5", "-0.5", "3.0", "2.99"])].boxed(),
        Field::Weight => prop_oneof![
            int(-1..=5).prop_map(|(l, m)| match m {
                Meaning::Int(i) => (l, Meaning::Number(i as f64)),
                other => (l, other),
            }),
            fractional(&["0.5", "4.5", "-1.0", "59.9", "1e0"]),
        ]
        .boxed(),
        Field::Price => prop_oneof![
            int(-3..=4),
            fractional(&["12.50", "0.1", "0.10", "-2.5", "1.25e1"]),
            proptest::sample::select(&["12.5", "100.00", "-3", "0.1"][..])
                .prop_map(|t| { (Literal::String(t.into()), Meaning::Number(t.parse().unwrap())) }),
        ]
        .boxed(),
        Field::Active => any::<bool>().prop_map(|b| (Literal::Bool(b), Meaning::Bool(b))).boxed(),
        Field::Born => {
            proptest::sample::select(&["2020-01-15", "2019-12-31", "2024-02-29", "2018-06-01", "2030-01-01"][..])
                .prop_map(text_literal)
                .boxed()
        }
        Field::Seen => proptest::sample::select(
            &[
                ("2024-01-01", "2024-01-01T00:00:00.000000Z"),
                ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000000Z"),
                ("2024-03-05T14:30:00+02:00", "2024-03-05T12:30:00.000000Z"),
                ("2023-12-31T23:59:59.999999Z", "2023-12-31T23:59:59.999999Z"),
                ("2024-01-01 00:00:00.5Z", "2024-01-01T00:00:00.500000Z"),
            ][..],
        )
        .prop_map(|(written, canonical)| (Literal::String(written.into()), Meaning::Text(canonical.into())))
        .boxed(),
        Field::Tag => proptest::sample::select(
            &[
                ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"),
                ("ffffffff-ffff-ffff-ffff-ffffffffffff", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
                ("80000000-0000-0000-0000-000000000000", "80000000-0000-0000-0000-000000000000"),
            ][..],
        )
        .prop_map(|(written, canonical)| (Literal::String(written.into()), Meaning::Text(canonical.into())))
        .boxed(),
        Field::Doc => Just((Literal::Null, Meaning::Null)).boxed(),
    }
}

const FIELDS: &[Field] = &[
    Field::Name,
    Field::Bio,
    Field::Age,
    Field::Weight,
    Field::Price,
    Field::Active,
    Field::Born,
    Field::Seen,
    Field::Tag,
    Field::Doc,
];

fn ops_for(field: Field) -> Vec<CompareOp> {
    match field {
        Field::Name | Field::Bio | Field::Tag => CompareOp::ALL.to_vec(),
        Field::Active | Field::Doc => vec![CompareOp::Eq, CompareOp::NotEq],
        _ => CompareOp::ALL[..6].to_vec(),
    }
}

fn leaf() -> impl Strategy<Value = Cond> {
    let compare = (proptest::sample::select(FIELDS), any::<proptest::sample::Index>(), any::<bool>()).prop_flat_map(
        |(field, op_index, swapped)| {
            let ops = ops_for(field);
            let op = ops[op_index.index(ops.len())];
            let literal = match (field, op) {
                // `~` on a uuid searches for a fragment, not a uuid.
                (Field::Tag, CompareOp::Contains | CompareOp::NotContains) => {
                    proptest::sample::select(&["BC99", "0000", "-", "zz", "F-F"][..]).prop_map(text_literal).boxed()
                }
                _ => literal_for(field),
            };
            literal.prop_map(move |(written, meaning)| Cond::Compare { field, op, written, meaning, swapped })
        },
    );
    let null_test = (
        proptest::sample::select(FIELDS),
        proptest::sample::select(vec![CompareOp::Eq, CompareOp::NotEq]),
        any::<bool>(),
    )
        .prop_map(|(field, op, swapped)| Cond::Compare {
            field,
            op,
            written: Literal::Null,
            meaning: Meaning::Null,
            swapped,
        });
    let fields = (
        proptest::sample::select(
            &[
                (Field::Age, Field::Weight),
                (Field::Weight, Field::Price),
                (Field::Age, Field::Age),
                (Field::Name, Field::Bio),
                (Field::Born, Field::Born),
            ][..],
        ),
        proptest::sample::select(CompareOp::ALL[..6].to_vec()),
    )
        .prop_map(|((left, right), op)| Cond::Fields { left, op, right });
    let list =
        proptest::sample::select(&[Field::Name, Field::Age, Field::Price, Field::Seen, Field::Tag, Field::Active][..])
            .prop_flat_map(|field| {
                proptest::collection::vec(literal_for(field), 1..4).prop_map(move |items| Cond::In { field, items })
            });
    let constant = proptest::sample::select(CONSTANTS).prop_map(|(filter, holds)| Cond::Constant { filter, holds });
    prop_oneof![6 => compare, 1 => null_test, 1 => fields, 1 => list, 1 => constant]
}

/// Comparisons of constants and whether they hold, as the language documents them.
const CONSTANTS: &[(&str, bool)] = &[
    ("1 = 1", true),
    ("1 < 0.5", false),
    ("null = null", true),
    ("null != null", false),
    ("1 = null", false),
    ("true != false", true),
    ("'abc' ~ 'B'", true),
    ("'abc' !~ 'B'", false),
    ("'a' > 'b'", false),
    ("2 in (1, 2)", true),
    ("'a' in ('b', 'c')", false),
];

fn cond() -> impl Strategy<Value = Cond> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Cond::And),
            proptest::collection::vec(inner, 2..4).prop_map(Cond::Or),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_selects_exactly_the_rows_the_filter_means(cond in cond()) {
        let connection = database();
        let expr = to_expr(&cond);
        let expected: Vec<i64> = rows()
            .iter()
            .filter(|row| evaluate(&cond, row))
            .map(|row| row.id)
            .collect();
        prop_assert_eq!(select(&connection, &expr), expected, "filter: {}", expr);
    }

    #[test]
    fn a_decided_filter_selects_every_row_or_none(cond in cond()) {
        let connection = database();
        let expr = to_expr(&cond);
        let schema = animals();
        let decision = decide(&expr, &CompileContext::new(&schema)).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let every: Vec<i64> = rows().iter().map(|row| row.id).collect();
        let selected = select(&connection, &expr);
        match decision {
            Decision::Always => prop_assert_eq!(selected, every, "filter: {}", expr),
            Decision::Never => prop_assert_eq!(selected, Vec::<i64>::new(), "filter: {}", expr),
            Decision::Depends => {}
        }
    }
}
