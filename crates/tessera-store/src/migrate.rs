//! The dialect-independent half of executing a migration plan: which rows a plan has to
//! look at, converting one row to the new layout (reporting the values that fail), the
//! ALTER statements of plans that need no rebuild, and the report a dry run returns.
//!
//! Conversions run in Rust through `tessera_schema::convert::convert`, the same function
//! the unit and property tests exercise, so both stores judge data by one set of rules
//! instead of two hand-written SQL translations of them.

use crate::error::FailingRow;
use crate::table_queries;
use serde::Serialize;
use std::collections::HashMap;
use tessera_query::Dialect;
use tessera_schema::convert::Converter;
use tessera_schema::plan::{FieldSource, Plan, Step, StepKind};
use tessera_schema::relations::junction_name;
use tessera_schema::{FieldDef, FieldType, TableSchema, Value};

/// How many failing rows a refusal lists (the count covers all of them).
pub const MAX_REPORTED_FAILURES: usize = 10;

/// Rows read per page while scanning or copying a table.
pub const PAGE_ROWS: i64 = 2000;

/// One step of a plan with what it does to the data.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    #[serde(flatten)]
    pub step: Step,
    pub kind: StepKind,
    /// Rows whose stored values this step reads or rewrites.
    pub rows_touched: i64,
}

/// The outcome (or, in a dry run, the forecast) of a migration.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub dry_run: bool,
    pub applied: bool,
    pub from_version: i64,
    pub to_version: i64,
    /// The table is copied into a new one (SQLite cannot ALTER a column's type).
    pub rebuild: bool,
    pub rows: i64,
    pub steps: Vec<StepReport>,
    pub failing_rows: u64,
    pub failures: Vec<FailingRow>,
    pub schema: TableSchema,
    /// What the change does to other tables (relations that follow a rename).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependents: Vec<String>,
}

impl MigrationReport {
    pub(crate) fn new(dialect: Dialect, plan: &Plan, rows: i64, dry_run: bool) -> MigrationReport {
        MigrationReport {
            dry_run,
            applied: false,
            from_version: plan.before.version,
            to_version: plan.after.version,
            rebuild: needs_rebuild(dialect, &plan.columns_only()),
            rows,
            steps: plan
                .steps
                .iter()
                .map(|step| StepReport {
                    step: step.clone(),
                    kind: step.kind(),
                    rows_touched: match step {
                        Step::RenameTable { .. } | Step::RenameField { .. } | Step::ChangeRules { .. } => 0,
                        _ => rows,
                    },
                })
                .collect(),
            failing_rows: 0,
            failures: Vec::new(),
            schema: plan.after.clone(),
            dependents: Vec::new(),
        }
    }
}

/// Whether existing values must be read to decide if the plan may apply.
pub fn needs_scan(plan: &Plan) -> bool {
    plan.sources().iter().any(|(_, source)| match source {
        FieldSource::Convert { .. } => true,
        FieldSource::New { field } => field.required && field.default.is_none(),
        FieldSource::Keep { .. } => false,
    })
}

/// Whether the table must be copied into a new one: any field changes definition, or
/// (SQLite) a relation column is dropped, which `ALTER TABLE ... DROP COLUMN` refuses for
/// a foreign key. Other renames, drops and additions are plain ALTERs on both stores.
/// `plan` is a [`Plan::columns_only`] plan.
pub fn needs_rebuild(dialect: Dialect, plan: &Plan) -> bool {
    let drops_relation = || {
        plan.steps
            .iter()
            .any(|step| matches!(step, Step::DropField { field, .. } if field.field_type == FieldType::Relation))
    };
    plan.sources().iter().any(|(_, source)| matches!(source, FieldSource::Convert { .. }))
        || (dialect == Dialect::Sqlite && drops_relation())
}

/// The junction-table statements of a plan: drops to run before the table changes, and
/// creations and renames to run after it (a junction refers to the table by its new name).
pub fn junction_statements(dialect: Dialect, plan: &Plan) -> (Vec<String>, Vec<String>) {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let table_id = plan.before.id;
    for step in &plan.steps {
        match step {
            Step::DropField { name, field } if !field.is_column() => {
                before.push(table_queries::drop_table(&junction_name(table_id, name)));
            }
            Step::AddField { name, field } if !field.is_column() => {
                after.push(table_queries::create_junction(dialect, &plan.after.name, table_id, name, field));
            }
            Step::RenameField { from, to } if plan.before.fields.get(from).is_some_and(|def| !def.is_column()) => {
                let (old, new) = (junction_name(table_id, from), junction_name(table_id, to));
                if old != new {
                    after.push(table_queries::rename_table(&old, &new));
                }
            }
            _ => {}
        }
    }
    (before, after)
}

/// Converts rows from the old layout (the `before` fields, in order) to the new one
/// (the `after` fields, in order), checking uniqueness of fields that become unique.
pub struct RowConverter<'a> {
    plan: &'a Plan,
    /// For each new field: index of its source among the old fields, and the conversion.
    sources: Vec<(&'a str, Source<'a>)>,
    /// Seen values of fields that become unique: canonical text -> first row id.
    unique_seen: HashMap<usize, HashMap<String, i64>>,
    pub failing: u64,
    pub failures: Vec<FailingRow>,
}

enum Source<'a> {
    Keep(usize),
    /// The converter compiles the target's pattern once, not per row.
    Convert(usize, Box<Converter>),
    New(&'a FieldDef, Value),
}

impl<'a> RowConverter<'a> {
    pub fn new(plan: &'a Plan) -> RowConverter<'a> {
        let old_index = |old_name: &str| plan.before.fields.get_index_of(old_name).expect("planned source exists");
        let mut unique_seen = HashMap::new();
        let sources = plan
            .sources()
            .into_iter()
            .enumerate()
            .map(|(i, (name, source))| {
                let source = match source {
                    FieldSource::Keep { old_name } => Source::Keep(old_index(old_name)),
                    FieldSource::Convert { old_name, from, to } => {
                        if to.unique {
                            unique_seen.insert(i, HashMap::new());
                        }
                        Source::Convert(old_index(old_name), Box::new(Converter::new(from, to)))
                    }
                    FieldSource::New { field } => Source::New(field, default_value(field)),
                };
                (name, source)
            })
            .collect();
        RowConverter { plan, sources, unique_seen, failing: 0, failures: Vec::new() }
    }

    /// The new row for an old one, or `None` (and a recorded failure) if a value fails.
    pub fn convert_row(&mut self, id: i64, old: &[Value]) -> Option<Vec<Value>> {
        let mut new_row = Vec::with_capacity(self.sources.len());
        let mut failure: Option<FailingRow> = None;
        for (i, (name, source)) in self.sources.iter().enumerate() {
            let result = match source {
                Source::Keep(index) => Ok(old[*index].clone()),
                Source::Convert(index, converter) => converter.convert(&old[*index]),
                Source::New(field, default) => {
                    if default.is_null() && field.required {
                        Err("the new field is required and has no default".to_string())
                    } else {
                        Ok(default.clone())
                    }
                }
            };
            let value = match result {
                Ok(value) => value,
                Err(reason) => {
                    let value = match source {
                        Source::Keep(index) | Source::Convert(index, ..) => old[*index].to_json(),
                        Source::New(..) => serde_json::Value::Null,
                    };
                    failure.get_or_insert(FailingRow { id, field: name.to_string(), value, reason });
                    continue;
                }
            };
            if let Some(seen) = self.unique_seen.get_mut(&i) {
                if !value.is_null() {
                    let key = value.to_json().to_string();
                    if let Some(first) = seen.get(&key) {
                        let stored = match source {
                            Source::Keep(index) | Source::Convert(index, _) => old[*index].to_json(),
                            Source::New(..) => value.to_json(),
                        };
                        failure.get_or_insert(FailingRow {
                            id,
                            field: name.to_string(),
                            value: stored,
                            reason: format!("duplicates the value of row {first}, but the field becomes unique"),
                        });
                    } else {
                        seen.insert(key, id);
                    }
                }
            }
            new_row.push(value);
        }
        match failure {
            None => Some(new_row),
            Some(failure) => {
                self.failing += 1;
                if self.failures.len() < MAX_REPORTED_FAILURES {
                    self.failures.push(failure);
                }
                None
            }
        }
    }

    pub fn plan(&self) -> &Plan {
        self.plan
    }
}

/// The default value a new field gives to existing rows (already validated at planning).
pub fn default_value(field: &FieldDef) -> Value {
    field.default.as_ref().and_then(|json| tessera_schema::validate::coerce(field, json).ok()).unwrap_or(Value::Null)
}

/// The ALTER statements of a plan that needs no rebuild, in order; indexes are dropped
/// before and recreated after by the caller. Defaults of new fields are filled by the
/// caller with a bound `UPDATE` (DDL cannot take parameters).
pub fn alter_statements(dialect: Dialect, plan: &Plan) -> Vec<String> {
    let mut statements = Vec::new();
    let mut table = plan.before.name.clone();
    for step in &plan.steps {
        match step {
            Step::RenameTable { to, .. } => {
                if table.eq_ignore_ascii_case(to) {
                    // SQLite refuses a rename that changes only case: go through a temporary name.
                    let temp = rebuild_name(plan.before.id);
                    statements.push(table_queries::rename_table(&table, &temp));
                    table = temp;
                }
                statements.push(table_queries::rename_table(&table, to));
                table = to.clone();
            }
            Step::RenameField { from, to } => statements.push(table_queries::rename_column(&table, from, to)),
            Step::DropField { name, .. } => statements.push(table_queries::drop_column(&table, name)),
            Step::AddField { name, field } => statements.push(table_queries::add_column(dialect, &table, name, field)),
            Step::AlterField { .. } => unreachable!("plans with altered fields are rebuilt"),
            Step::ChangeRules { .. } => {}
        }
    }
    statements
}

/// The name a table is rebuilt under before it is swapped in.
pub fn rebuild_name(table_id: i64) -> String {
    format!("_tessera_rebuild_{table_id}")
}
