//! Property tests: lossless conversions never lose a value, random schema edits applied to
//! random data never lose or change a value on a lossless step and leave only valid data,
//! and validation never panics on arbitrary input.

mod common;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use common::*;
use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use tessera_schema::convert::{classify, convert, type_conversion, Conversion};
use tessera_schema::plan::{plan_patch, plan_put, FieldSource, Plan, Step, StepKind, TablePatch};
use tessera_schema::validate::{check_default, check_value, coerce, coerce_text, RowValidator, WriteMode};
use tessera_schema::{FieldDef, FieldType, TableSchema, Value};

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// Enum values the generators draw from; they look like values of the other types so
/// enum conversions succeed often enough to matter.
const POOL: [&str; 12] = ["a", "b", "red", "1", "2", "01", "-3", "true", "false", "2024-05-01", "x@y.co", "1.5"];

const PATTERNS: [&str; 5] = ["[a-z]*", "[a-z0-9 .@:/-]*", ".*@.*", "[^x]*", "-?[0-9]+"];
const LENGTHS: [u32; 8] = [1, 3, 5, 10, 27, 36, 254, 3000];
const BOUNDS: [f64; 8] = [-9_007_199_254_740_992.0, -100.0, -0.5, 0.0, 1.0, 100.0, 1e6, 9_007_199_254_740_992.0];

/// A random source of values of every type; `candidate` picks the one a field needs.
#[derive(Debug, Clone)]
struct Seed {
    choose: u8,
    pick: usize,
    small: i64,
    big: i64,
    float: f64,
    text: String,
    flag: bool,
    id: u128,
    day: i32,
    second: u32,
    micros: u32,
    doc: Json,
}

fn json_doc() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        any::<String>().prop_map(Json::String),
        "[a-z0-9 .:@-]{0,12}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::vec(("[a-zA-Z_]{0,6}", inner), 0..5)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

fn finite_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        (-1000i32..1000).prop_map(f64::from),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 10.0),
        Just(-0.0),
        Just(1e300),
        Just(5e-324),
    ]
}

fn seed() -> impl Strategy<Value = Seed> {
    (
        (any::<u8>(), any::<usize>(), -300i64..300, any::<i64>(), finite_float()),
        (
            prop_oneof!["[a-z0-9 .@:/-]{0,12}", any::<String>(), Just(String::new())],
            any::<bool>(),
            any::<u128>(),
            1i32..=3_652_059,
            0u32..86_400,
            0u32..1_000_000,
            json_doc(),
        ),
    )
        .prop_map(|((choose, pick, small, big, float), (text, flag, id, day, second, micros, doc))| Seed {
            choose,
            pick,
            small,
            big,
            float,
            text,
            flag,
            id,
            day,
            second,
            micros,
            doc,
        })
}

impl Seed {
    fn date(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.day).unwrap()
    }

    fn date_text(&self) -> String {
        let d = self.date();
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }

    fn datetime_text(&self) -> String {
        let (second, micros) = match self.choose % 3 {
            0 => (0, 0),
            1 => (self.second, 0),
            _ => (self.second, self.micros),
        };
        format!("{}T{:02}:{:02}:{:02}.{:06}Z", self.date_text(), second / 3600, second / 60 % 60, second % 60, micros)
    }

    fn uuid_text(&self) -> String {
        uuid::Uuid::from_u128(self.id).hyphenated().to_string()
    }

    fn word(&self) -> String {
        let word: String = self.text.chars().filter(char::is_ascii_alphanumeric).take(10).collect();
        if word.is_empty() {
            "x".into()
        } else {
            word
        }
    }

    /// An input (JSON, as a request would send) for a field; usually valid, not always.
    fn candidate(&self, def: &FieldDef) -> Json {
        let c = self.choose / 16;
        match def.field_type {
            FieldType::String | FieldType::Text => Json::String(match c % 11 {
                0 | 1 => self.text.clone(),
                2 => self.small.to_string(),
                3 => format!("{}", self.float),
                4 => self.flag.to_string(),
                5 => self.date_text(),
                6 => self.datetime_text(),
                7 => self.uuid_text(),
                8 => self.doc.to_string(),
                9 => format!("{}@ex.com", self.word()),
                _ => POOL[self.pick % POOL.len()].to_string(),
            }),
            FieldType::Integer => Json::from(match c % 2 {
                0 => self.small,
                _ => self.big,
            }),
            FieldType::Float => json!(match c % 2 {
                0 => self.float,
                _ => self.small as f64,
            }),
            FieldType::Decimal => match c % 4 {
                0 => Json::String(self.small.to_string()),
                1 => Json::String(format!("{}.{:02}", self.small, self.pick % 100)),
                2 => Json::String(self.big.to_string()),
                _ => json!(self.float),
            },
            FieldType::Boolean => Json::Bool(self.flag),
            FieldType::Date => Json::String(self.date_text()),
            FieldType::Datetime => Json::String(self.datetime_text()),
            FieldType::Json => match c % 4 {
                0 | 1 => self.doc.clone(),
                2 => Json::String(self.text.clone()),
                _ => Json::from(self.small),
            },
            FieldType::Uuid => Json::String(self.uuid_text()),
            FieldType::Email => Json::String(format!("{}@{}.co", self.word(), self.word())),
            FieldType::Url => Json::String(format!("https://{}.io/{}", self.word(), self.word())),
            FieldType::Enum => {
                let values = def.values.clone().unwrap_or_default();
                if values.is_empty() || matches!(c % 5, 0) {
                    Json::String(POOL[self.pick % POOL.len()].to_string())
                } else {
                    Json::String(values[self.pick % values.len()].clone())
                }
            }
            FieldType::Relation | FieldType::File => unreachable!("only scalar types are generated"),
        }
    }
}

/// How to build a random field definition.
#[derive(Debug, Clone)]
struct DefSeed {
    type_index: usize,
    required: bool,
    unique: bool,
    min: Option<usize>,
    max: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<usize>,
    values: Vec<usize>,
    default: Option<Seed>,
}

fn def_seed() -> impl Strategy<Value = DefSeed> {
    (
        0usize..13,
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.25, 0usize..BOUNDS.len()),
        prop::option::weighted(0.25, 0usize..BOUNDS.len()),
        prop::option::weighted(0.25, 0usize..LENGTHS.len()),
        prop::option::weighted(0.15, 0usize..PATTERNS.len()),
        prop::collection::vec(0usize..POOL.len(), 1..6),
        prop::option::weighted(0.2, seed()),
    )
        .prop_map(|(type_index, required, unique, min, max, max_length, pattern, values, default)| DefSeed {
            type_index,
            required,
            unique,
            min,
            max,
            max_length,
            pattern,
            values,
            default,
        })
}

/// A well-formed field from a seed: options the type does not take are left out.
fn build_def(seed: &DefSeed) -> FieldDef {
    let t = FieldType::SCALARS[seed.type_index];
    let mut def = FieldDef::new(t);
    def.required = seed.required;
    def.unique = seed.unique && t != FieldType::Json;
    if t.is_numeric() {
        def.min = seed.min.map(|i| BOUNDS[i]);
        def.max = seed.max.map(|i| BOUNDS[i]);
        if let (Some(min), Some(max)) = (def.min, def.max) {
            if min > max {
                def.max = None;
            }
        }
    }
    if t.is_textual() {
        def.max_length = seed.max_length.map(|i| LENGTHS[i]);
        def.pattern = seed.pattern.map(|i| PATTERNS[i].to_string());
    }
    if t == FieldType::Enum {
        let mut values: Vec<String> = Vec::new();
        for &i in &seed.values {
            if !values.iter().any(|v| v == POOL[i]) {
                values.push(POOL[i].to_string());
            }
        }
        def.values = Some(values);
    }
    def.check_options().expect("generated options are consistent");
    if let Some(default_seed) = &seed.default {
        if let Ok(value) = coerce(&def, &default_seed.candidate(&def)) {
            if !value.is_null() {
                def.default = Some(value.to_json());
            }
        }
    }
    assert!(check_default(&def).is_ok());
    def
}

/// A valid, non-null value of the field from a seed, if the seed yields one.
fn valid_value(def: &FieldDef, seed: &Seed) -> Option<Value> {
    coerce(def, &seed.candidate(def)).ok().filter(|v| !v.is_null())
}

/// Converts and converts back (where a way back exists); returns why a value was lost.
fn loses(value: &Value, from: &FieldDef, to: &FieldDef) -> Option<String> {
    let converted = match convert(value, from, to) {
        Ok(converted) => converted,
        Err(e) => return Some(format!("{value:?} failed: {e}")),
    };
    if let Err(e) = check_value(to, &converted) {
        return Some(format!("{value:?} became invalid {converted:?}: {}", e.message));
    }
    // The result is canonical: re-reading it as input changes nothing.
    match coerce(to, &converted.to_json()) {
        Ok(again) if same(&again, &converted) => {}
        other => return Some(format!("{converted:?} is not canonical: {other:?}")),
    }
    if type_conversion(to.field_type, from.field_type) != Conversion::Refused {
        match convert(&converted, to, from) {
            Ok(back) if same(&back, value) => {}
            other => return Some(format!("{value:?} -> {converted:?} -> {other:?}")),
        }
    }
    None
}

fn lossless_type_pairs() -> Vec<(FieldType, FieldType)> {
    let mut pairs = Vec::new();
    for from in FieldType::SCALARS {
        for to in FieldType::SCALARS {
            if type_conversion(from, to) == Conversion::Lossless {
                pairs.push((from, to));
            }
        }
    }
    pairs
}

// ---------------------------------------------------------------------------------------
// (1) Lossless conversions never lose a value
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn lossless_type_pairs_keep_every_value(
        pair in prop::sample::select(lossless_type_pairs()),
        seeds in prop::collection::vec(seed(), 1..8),
    ) {
        let (from, to) = pair;
        let (from_def, to_def) = (bare(from), bare(to));
        let from_def = if from == FieldType::Integer && to == FieldType::Float {
            // Lossless only when bounded within +-2^53.
            FieldDef { min: Some(-9_007_199_254_740_992.0), max: Some(9_007_199_254_740_992.0), ..from_def }
        } else {
            from_def
        };
        let expected = classify(&from_def, &to_def);
        prop_assert_eq!(expected, Conversion::Lossless, "{} -> {}", from, to);
        for seed in &seeds {
            if let Some(value) = valid_value(&from_def, seed) {
                let lost = loses(&value, &from_def, &to_def);
                prop_assert!(lost.is_none(), "{} -> {}: {}", from, to, lost.unwrap_or_default());
            }
        }
        prop_assert_eq!(convert(&Value::Null, &from_def, &to_def), Ok(Value::Null));
    }

    #[test]
    fn lossless_changes_with_options_keep_every_value(
        from_seed in def_seed(),
        to_seed in def_seed(),
        retype in any::<bool>(),
        seeds in prop::collection::vec(seed(), 1..8),
    ) {
        let from_def = build_def(&from_seed);
        // Half the time keep the type, so option changes are exercised on their own.
        let to_seed = if retype { to_seed } else { DefSeed { type_index: from_seed.type_index, ..to_seed } };
        let to_def = build_def(&to_seed);
        if classify(&from_def, &to_def) == Conversion::Lossless {
            for seed in &seeds {
                if let Some(value) = valid_value(&from_def, seed) {
                    let lost = loses(&value, &from_def, &to_def);
                    prop_assert!(lost.is_none(), "{:?} -> {:?}: {}", from_def, to_def, lost.unwrap_or_default());
                }
            }
            if !from_def.required {
                prop_assert_eq!(convert(&Value::Null, &from_def, &to_def), Ok(Value::Null));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// (2) Random schema edits on random data
// ---------------------------------------------------------------------------------------

const NAMES: [&str; 7] = ["a", "b", "c", "d", "e", "f", "A"];

#[derive(Debug, Clone)]
enum Edit {
    /// PUT with one field's definition replaced.
    Retype {
        field: usize,
        def: DefSeed,
    },
    /// PATCH alter with a partial options object (merged onto the current definition).
    Options {
        field: usize,
        options: Json,
    },
    /// PATCH alter with a full definition.
    AlterFull {
        field: usize,
        def: DefSeed,
    },
    Rename {
        field: usize,
        to: usize,
    },
    Add {
        name: usize,
        def: DefSeed,
    },
    Drop {
        field: usize,
    },
}

fn options_patch() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<bool>().prop_map(|b| json!({"required": b})),
        any::<bool>().prop_map(|b| json!({"unique": b})),
        (0usize..LENGTHS.len()).prop_map(|i| json!({"max_length": LENGTHS[i]})),
        Just(json!({"max_length": null})),
        (0usize..PATTERNS.len()).prop_map(|i| json!({"pattern": PATTERNS[i]})),
        Just(json!({"pattern": null})),
        (0usize..BOUNDS.len()).prop_map(|i| json!({"min": BOUNDS[i]})),
        (0usize..BOUNDS.len()).prop_map(|i| json!({"max": BOUNDS[i]})),
        Just(json!({"min": null, "max": null})),
        prop::collection::vec(0usize..POOL.len(), 1..6).prop_map(|picks| {
            let mut values: Vec<&str> = Vec::new();
            for i in picks {
                if !values.contains(&POOL[i]) {
                    values.push(POOL[i]);
                }
            }
            json!({"values": values})
        }),
        any::<bool>().prop_map(|b| json!({"indexed": b})),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), def_seed()).prop_map(|(field, def)| Edit::Retype { field, def }),
        3 => (any::<usize>(), options_patch()).prop_map(|(field, options)| Edit::Options { field, options }),
        2 => (any::<usize>(), def_seed()).prop_map(|(field, def)| Edit::AlterFull { field, def }),
        1 => (any::<usize>(), 0usize..NAMES.len()).prop_map(|(field, to)| Edit::Rename { field, to }),
        1 => (0usize..NAMES.len(), def_seed()).prop_map(|(name, def)| Edit::Add { name, def }),
        1 => any::<usize>().prop_map(|field| Edit::Drop { field }),
    ]
}

fn def_json(def: &FieldDef) -> Json {
    serde_json::to_value(def).unwrap()
}

fn plan_edit(schema: &TableSchema, edit: &Edit) -> Option<Plan> {
    let names: Vec<&String> = schema.fields.keys().collect();
    let field_name = |i: usize| names.get(i % names.len().max(1)).map(|n| n.to_string());
    let patch = |value: Json| -> Option<Plan> {
        let patch: TablePatch = serde_json::from_value(value).ok()?;
        plan_patch(schema, &patch).ok()
    };
    match edit {
        Edit::Retype { field, def } => {
            let name = field_name(*field)?;
            let mut desired = serde_json::Map::new();
            for (n, d) in &schema.fields {
                let d = if *n == name { build_def(def) } else { d.clone() };
                desired.insert(n.clone(), def_json(&d));
            }
            plan_put(schema, None, &Json::Object(desired), None).ok()
        }
        Edit::Options { field, options } => patch(json!({"alter_fields": {field_name(*field)?: options}})),
        Edit::AlterFull { field, def } => {
            patch(json!({"alter_fields": {field_name(*field)?: def_json(&build_def(def))}}))
        }
        Edit::Rename { field, to } => patch(json!({"rename_fields": {field_name(*field)?: NAMES[*to]}})),
        Edit::Add { name, def } => patch(json!({"add_fields": {NAMES[*name]: def_json(&build_def(def))}})),
        Edit::Drop { field } => patch(json!({"drop_fields": [field_name(*field)?]})),
    }
}

type Row = HashMap<String, Value>;

/// What applying a plan to the rows did.
enum Outcome {
    Applied(Vec<Row>),
    /// The fields (new names) whose step failed on some row; nothing was changed.
    Refused(Vec<String>),
}

fn step_kind_for(plan: &Plan, new_name: &str) -> StepKind {
    plan.steps
        .iter()
        .find_map(|step| match step {
            Step::AlterField { name, .. } | Step::AddField { name, .. } if name == new_name => Some(step.kind()),
            _ => None,
        })
        .unwrap_or(StepKind::Lossless)
}

/// Applies a plan the way the store does: every value of every row is produced from
/// `plan.sources()`; any failure refuses the whole migration.
fn apply(plan: &Plan, rows: &[Row]) -> Result<Outcome, String> {
    let sources = plan.sources();
    let mut failed: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut new_row = Row::new();
        for (name, source) in &sources {
            let value = match source {
                FieldSource::Keep { old_name } => Ok(row[*old_name].clone()),
                FieldSource::Convert { old_name, from, to } => {
                    let old = &row[*old_name];
                    let result = convert(old, from, to);
                    if step_kind_for(plan, name) == StepKind::Lossless {
                        if let Some(lost) = loses_or_null(old, from, to) {
                            return Err(format!("lossless step on '{name}' lost a value: {lost}"));
                        }
                    }
                    result
                }
                FieldSource::New { field } => {
                    let value = match &field.default {
                        Some(default) => coerce(field, default),
                        None => Ok(Value::Null),
                    };
                    value.and_then(|v| check_value(field, &v).map(|_| v).map_err(|e| e.message))
                }
            };
            match value {
                Ok(value) => {
                    new_row.insert(name.to_string(), value);
                }
                Err(_) => {
                    if !failed.iter().any(|f| f == name) {
                        failed.push(name.to_string());
                    }
                }
            }
        }
        out.push(new_row);
    }
    Ok(if failed.is_empty() { Outcome::Applied(out) } else { Outcome::Refused(failed) })
}

fn loses_or_null(value: &Value, from: &FieldDef, to: &FieldDef) -> Option<String> {
    if value.is_null() {
        return match convert(value, from, to) {
            Ok(Value::Null) => None,
            other => Some(format!("null became {other:?}")),
        };
    }
    loses(value, from, to)
}

fn initial_table(defs: &[DefSeed], cells: &[Vec<Seed>]) -> (TableSchema, Vec<Row>) {
    let mut fields = IndexMap::new();
    for (i, seed) in defs.iter().enumerate() {
        fields.insert(NAMES[i].to_string(), build_def(seed));
    }
    let schema = TableSchema {
        id: 1,
        name: "t".into(),
        version: 1,
        fields,
        kind: Default::default(),
        rules: Default::default(),
    };
    let mut rows = Vec::new();
    'rows: for row_seeds in cells {
        let mut row = Row::new();
        for ((name, def), seed) in schema.fields.iter().zip(row_seeds) {
            let value = match coerce(def, &seed.candidate(def)) {
                Ok(value) => value,
                Err(_) if !def.required => Value::Null,
                Err(_) => continue 'rows,
            };
            row.insert(name.clone(), value);
        }
        rows.push(row);
    }
    (schema, rows)
}

fn assert_valid(schema: &TableSchema, rows: &[Row]) -> Result<(), String> {
    for row in rows {
        if row.len() != schema.fields.len() {
            return Err(format!("row has {} values for {} fields", row.len(), schema.fields.len()));
        }
        for (name, def) in &schema.fields {
            let value = row.get(name).ok_or_else(|| format!("row lacks '{name}'"))?;
            check_value(def, value).map_err(|e| format!("'{name}' = {value:?}: {}", e.message))?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn schema_edits_never_lose_data(
        defs in prop::collection::vec(def_seed(), 1..5),
        cells in prop::collection::vec(prop::collection::vec(seed(), 5), 0..7),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (mut schema, mut rows) = initial_table(&defs, &cells);
        prop_assert!(assert_valid(&schema, &rows).is_ok());
        for edit in &edits {
            let Some(plan) = plan_edit(&schema, edit) else { continue };
            match apply(&plan, &rows) {
                Err(lost) => prop_assert!(false, "{:?}: {}", edit, lost),
                Ok(Outcome::Refused(fields)) => {
                    // Only a checked step may fail; the table stays as it was.
                    for field in &fields {
                        prop_assert_eq!(step_kind_for(&plan, field), StepKind::Checked, "{} in {:?}", field, plan.steps);
                    }
                    prop_assert!(!rows.is_empty());
                }
                Ok(Outcome::Applied(new_rows)) => {
                    let checked = assert_valid(&plan.after, &new_rows);
                    prop_assert!(checked.is_ok(), "{:?}: {}", plan.steps, checked.unwrap_err());
                    schema = plan.after.clone();
                    rows = new_rows;
                }
            }
        }
        // What the rows hold is also what a row validator accepts back.
        let validator = RowValidator::new(&schema);
        for row in &rows {
            let body = Json::Object(row.iter().map(|(k, v)| (k.clone(), v.to_json())).collect());
            let values = validator.validate(&body, WriteMode::Replace);
            prop_assert!(values.is_ok(), "{:?}: {:?}", body, values);
            for (name, value) in values.unwrap() {
                prop_assert!(same(&value, &row[&name]), "{} = {:?} read back as {:?}", name, row[&name], value);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// (3) Validation never panics, and its output is canonical
// ---------------------------------------------------------------------------------------

fn fuzz_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9+\\-:.TtZz eE]{0,40}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{0,12})?)?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "[+-]?[0-9]{0,45}(\\.[0-9]{0,45})?([eE][+-]?[0-9]{0,8})?",
        "(https?|HTTP|ftp)://[a-z@:\\[\\]0-9.]{0,20}(/[a-z]{0,5})?",
        "[a-z.@]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn coerce_never_panics_and_is_canonical(def_seed in def_seed(), input in json_doc()) {
        let def = build_def(&def_seed);
        if let Ok(value) = coerce(&def, &input) {
            prop_assert!(check_value(&def, &value).is_ok());
            let again = coerce(&def, &value.to_json());
            prop_assert!(matches!(&again, Ok(v) if same(v, &value)), "{:?} -> {:?} -> {:?}", input, value, again);
        }
    }

    #[test]
    fn text_input_never_panics_and_is_canonical(def_seed in def_seed(), input in fuzz_text()) {
        let def = build_def(&def_seed);
        if let Ok(value) = coerce_text(&def, &input) {
            prop_assert!(check_value(&def, &value).is_ok());
            let again = coerce(&def, &value.to_json());
            prop_assert!(matches!(&again, Ok(v) if same(v, &value)), "{:?} -> {:?} -> {:?}", input, value, again);
        }
        // The same text as a JSON string never panics either.
        let _ = coerce(&def, &Json::String(input));
    }

    #[test]
    fn row_validation_never_panics(defs in prop::collection::vec(def_seed(), 0..5), body in json_doc(), mode in 0u8..3) {
        let mut fields = IndexMap::new();
        for (i, seed) in defs.iter().enumerate() {
            fields.insert(NAMES[i].to_string(), build_def(seed));
        }
        let validator = RowValidator::new(&TableSchema { id: 1, name: "t".into(), version: 1, fields, kind: Default::default(), rules: Default::default(),  });
        let mode = [WriteMode::Create, WriteMode::Replace, WriteMode::Update][mode as usize];
        match validator.validate(&body, mode) {
            Ok(_) => prop_assert!(body.is_object()),
            Err(errors) => prop_assert!(!errors.is_empty() && errors.iter().all(|e| !e.message.is_empty())),
        }
    }

    #[test]
    fn conversions_never_panic(from_seed in def_seed(), to_seed in def_seed(), seed in seed()) {
        let (from, to) = (build_def(&from_seed), build_def(&to_seed));
        if let Some(value) = valid_value(&from, &seed) {
            if let Ok(converted) = convert(&value, &from, &to) {
                prop_assert!(check_value(&to, &converted).is_ok());
            }
        }
        let _ = classify(&from, &to);
    }

    #[test]
    fn datetime_text_order_is_time_order(a in seed(), b in seed(), offset_a in -1439i32..1440, offset_b in -1439i32..1440) {
        let field = bare(FieldType::Datetime);
        let stamp = |s: &Seed, offset: i32| -> Option<(String, NaiveDateTime)> {
            let time = NaiveTime::from_num_seconds_from_midnight_opt(s.second, s.micros * 1000)?;
            let local = NaiveDateTime::new(s.date(), time);
            let sign = if offset < 0 { '-' } else { '+' };
            let input = format!(
                "{}T{:02}:{:02}:{:02}.{:06}{}{:02}:{:02}",
                s.date_text(), local.hour(), local.minute(), local.second(), s.micros,
                sign, offset.abs() / 60, offset.abs() % 60
            );
            let utc = local - chrono::TimeDelta::minutes(i64::from(offset));
            match coerce(&field, &json!(input)) {
                Ok(Value::Text(text)) => Some((text, utc)),
                _ => {
                    assert!(!(1..=9999).contains(&utc.year()), "{input} refused");
                    None
                }
            }
        };
        if let (Some((text_a, time_a)), Some((text_b, time_b))) = (stamp(&a, offset_a), stamp(&b, offset_b)) {
            prop_assert_eq!(text_a.cmp(&text_b), time_a.cmp(&time_b), "{} vs {}", text_a, text_b);
            prop_assert_eq!(text_a.len(), 27);
        }
    }

    #[test]
    fn decimal_canonical_form_is_stable(sign in any::<bool>(), int in "[0-9]{0,20}", frac in "[0-9]{0,18}", exp in prop::option::of(-30i32..30)) {
        let mut input = format!("{}{}", if sign { "-" } else { "" }, int);
        if !frac.is_empty() || int.is_empty() {
            input.push('.');
            input.push_str(&frac);
            if int.is_empty() && frac.is_empty() {
                input.push('0');
            }
        }
        if let Some(e) = exp {
            input.push_str(&format!("e{e}"));
        }
        let field = bare(FieldType::Decimal);
        if let Ok(Value::Text(canonical)) = coerce(&field, &json!(input)) {
            // Canonical shape.
            prop_assert!(!canonical.starts_with('+') && !canonical.contains('e'));
            prop_assert!(canonical != "-0");
            let digits = canonical.trim_start_matches('-');
            prop_assert!(!digits.starts_with('0') || digits == "0" || digits.starts_with("0."), "{}", canonical);
            if canonical.contains('.') {
                prop_assert!(!canonical.ends_with('0') && !canonical.ends_with('.'), "{}", canonical);
            }
            // A fixed point, and numerically the same as the input.
            prop_assert_eq!(coerce(&field, &json!(canonical.clone())), Ok(Value::Text(canonical.clone())));
            let a: f64 = input.parse().unwrap();
            let b: f64 = canonical.parse().unwrap();
            prop_assert_eq!(a, b);
        }
    }
}
