//! Migration planning: the difference between a table's schema and the one a user asks
//! for, as explicit steps the store executes in one transaction.
//!
//! `PUT` gives the whole desired field map and is diffed by name; it can add, drop and
//! alter, but never guesses a rename (a missing field is a drop). `PATCH` says renames
//! explicitly, so a rename can never turn into drop + add and lose data.

use crate::convert::{classify, Conversion};
use crate::field::FieldDef;
use crate::ident::{validate_table_name, IdentError};
use crate::rules::Rules;
use crate::table::{parse_fields, FieldsError, TableSchema, MAX_FIELDS};
use crate::validate::check_default;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use thiserror::Error;

/// One step of a migration.
// A plan holds a handful of steps, built once per schema change: boxing the field
// definitions would buy nothing but indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    RenameTable {
        from: String,
        to: String,
    },
    RenameField {
        from: String,
        to: String,
    },
    AddField {
        name: String,
        field: FieldDef,
    },
    DropField {
        name: String,
        field: FieldDef,
    },
    /// `name` is the field's name after the migration's renames.
    AlterField {
        name: String,
        from: FieldDef,
        to: FieldDef,
    },
    /// New access rules; no data or DDL is involved.
    ChangeRules {
        from: Rules,
        to: Rules,
    },
}

/// How a step treats existing data, as reported in a dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Keeps every value; cannot fail on data.
    Lossless,
    /// Applies only if every existing row passes; otherwise the migration is refused.
    Checked,
    /// Removes data on purpose (an explicit drop).
    Destructive,
}

impl Step {
    /// How this step treats existing rows.
    pub fn kind(&self) -> StepKind {
        match self {
            Step::RenameTable { .. } | Step::RenameField { .. } | Step::ChangeRules { .. } => StepKind::Lossless,
            Step::DropField { .. } => StepKind::Destructive,
            Step::AddField { field, .. } => {
                if field.required && field.default.is_none() {
                    StepKind::Checked
                } else {
                    StepKind::Lossless
                }
            }
            Step::AlterField { from, to, .. } => match classify(from, to) {
                Conversion::Lossless => StepKind::Lossless,
                _ => StepKind::Checked,
            },
        }
    }
}

/// Where a field of the new schema takes its values from.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldSource<'a> {
    /// Same column, same definition, maybe renamed.
    Keep { old_name: &'a str },
    /// Existing column converted to a new definition.
    Convert { old_name: &'a str, from: &'a FieldDef, to: &'a FieldDef },
    /// New column: existing rows get the default, or null.
    New { field: &'a FieldDef },
}

/// A planned migration from `before` to `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub before: TableSchema,
    pub after: TableSchema,
    pub steps: Vec<Step>,
    /// Other tables whose relations point at this one, with `target` following a rename
    /// of it: their catalog entries are rewritten in the migration's transaction (the
    /// database's foreign keys follow the rename by themselves). Filled by the caller,
    /// which knows the catalog.
    pub retargeted: Vec<TableSchema>,
}

impl Plan {
    /// The same plan over the fields that are columns of the table: what the store
    /// checks, converts and rebuilds. Junction-table fields (relations with `multiple`)
    /// are created, renamed and dropped on their own.
    pub fn columns_only(&self) -> Plan {
        let column = |def: &FieldDef| def.is_column();
        let mut before = self.before.clone();
        before.fields.retain(|_, def| column(def));
        let mut after = self.after.clone();
        after.fields.retain(|_, def| column(def));
        let steps = self
            .steps
            .iter()
            .filter(|step| match step {
                Step::AddField { field, .. } | Step::DropField { field, .. } => column(field),
                Step::AlterField { from, to, .. } => column(from) && column(to),
                Step::RenameField { from, .. } => self.before.fields.get(from).is_none_or(column),
                Step::RenameTable { .. } | Step::ChangeRules { .. } => true,
            })
            .cloned()
            .collect();
        Plan { before, after, steps, retargeted: Vec::new() }
    }

    /// True when the requested schema equals the current one.
    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }

    /// For every field of the new schema (in its order), where its values come from.
    pub fn sources(&self) -> Vec<(&str, FieldSource<'_>)> {
        self.after
            .fields
            .iter()
            .map(|(name, to)| {
                let old_name = self.old_name_of(name);
                let source = match old_name.and_then(|old| self.before.fields.get_key_value(old)) {
                    Some((old_name, from)) if from == to => FieldSource::Keep { old_name },
                    Some((old_name, from)) => FieldSource::Convert { old_name, from, to },
                    None => FieldSource::New { field: to },
                };
                (name.as_str(), source)
            })
            .collect()
    }

    /// The name a field of the new schema had before, if it existed.
    pub fn old_name_of<'a>(&'a self, new_name: &'a str) -> Option<&'a str> {
        let renamed_from = self.steps.iter().find_map(|step| match step {
            Step::RenameField { from, to } if to == new_name => Some(from.as_str()),
            _ => None,
        });
        match renamed_from {
            Some(from) => Some(from),
            None if self.steps.iter().any(|s| matches!(s, Step::AddField { name, .. } if name == new_name)) => None,
            None => self.before.fields.contains_key(new_name).then_some(new_name),
        }
    }

    /// Whether any step changes the table itself (not only its rules): only then are its
    /// columns and indexes touched.
    pub fn changes_table(&self) -> bool {
        self.steps.iter().any(|s| !matches!(s, Step::ChangeRules { .. }))
    }

    /// Whether any step has to look at (and possibly convert) existing data.
    pub fn touches_data(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::AlterField { .. } | Step::AddField { .. }))
    }
}

/// Why a requested schema change cannot be planned.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error(transparent)]
    Fields(#[from] FieldsError),
    #[error(transparent)]
    BadName(#[from] IdentError),
    #[error("field '{0}' does not exist")]
    UnknownField(String),
    #[error("field '{0}' already exists")]
    FieldExists(String),
    #[error("field '{0}' is named by more than one change")]
    Conflict(String),
    #[error("field '{field}' cannot change from {from} to {to}: no conversion exists; drop and re-add the field to replace its data")]
    Refused { field: String, from: String, to: String },
    #[error("invalid patch: {0}")]
    BadPatch(String),
    #[error("field '{0}' is managed by tessera: it cannot be renamed, dropped or changed")]
    Managed(String),
    #[error("invalid rules: {0}")]
    BadRules(String),
}

impl PlanError {
    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            PlanError::Fields(e) => e.field(),
            PlanError::UnknownField(f) | PlanError::FieldExists(f) | PlanError::Conflict(f) | PlanError::Managed(f) => {
                Some(f)
            }
            PlanError::Refused { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Plans a `PUT`: the desired field map replaces the current one. `new_name`, when given
/// and different, renames the table; `rules`, when given, changes the rules it names.
/// Fields managed by tessera are kept whether or not the desired map repeats them.
pub fn plan_put(
    before: &TableSchema,
    new_name: Option<&str>,
    desired: &Json,
    rules: Option<&Json>,
) -> Result<Plan, PlanError> {
    let desired = keep_managed_fields(before, parse_fields(desired)?)?;
    let mut steps = Vec::new();
    push_table_rename(before, new_name, &mut steps)?;
    for (name, from) in &before.fields {
        if !desired.keys().any(|n| n.eq_ignore_ascii_case(name)) {
            steps.push(Step::DropField { name: name.clone(), field: from.clone() });
        }
    }
    for (name, to) in &desired {
        match before.field(name) {
            Some((old_name, from)) => {
                if old_name != name {
                    steps.push(Step::RenameField { from: old_name.to_string(), to: name.clone() });
                }
                push_alter(name, from, to, &mut steps)?;
            }
            None => steps.push(Step::AddField { name: name.clone(), field: to.clone() }),
        }
    }
    let after = TableSchema {
        id: before.id,
        name: new_name.unwrap_or(&before.name).to_string(),
        version: before.version + 1,
        fields: desired,
        kind: before.kind,
        rules: changed_rules(before, rules, &mut steps)?,
    };
    Ok(Plan { before: before.clone(), after, steps, retargeted: Vec::new() })
}

/// An explicit schema change (`PATCH /api/tables/{table}`). Applied in this order:
/// table rename, field renames, drops, alterations (by new name), additions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TablePatch {
    /// New table name.
    #[serde(default)]
    pub name: Option<String>,
    /// Old field name -> new field name; data is kept.
    #[serde(default)]
    pub rename_fields: IndexMap<String, String>,
    /// New fields, as in a create body.
    #[serde(default)]
    pub add_fields: Option<Json>,
    /// Field name -> new definition. An object without `type` changes only the options
    /// it names and keeps the rest.
    #[serde(default)]
    pub alter_fields: IndexMap<String, Json>,
    /// Fields to drop (their data is removed).
    #[serde(default)]
    pub drop_fields: Vec<String>,
    /// Action -> new rule, for the actions to change.
    #[serde(default)]
    pub rules: Option<Json>,
}

/// Plans a `PATCH`.
pub fn plan_patch(before: &TableSchema, patch: &TablePatch) -> Result<Plan, PlanError> {
    let mut steps = Vec::new();
    push_table_rename(before, patch.name.as_deref(), &mut steps)?;
    let mut fields = before.fields.clone();
    let mut touched: Vec<String> = Vec::new();
    let mut touch = |name: &str| -> Result<(), PlanError> {
        if touched.iter().any(|t| t.eq_ignore_ascii_case(name)) {
            return Err(PlanError::Conflict(name.to_string()));
        }
        touched.push(name.to_string());
        Ok(())
    };

    for (from, to) in &patch.rename_fields {
        crate::ident::validate_field_name(to)?;
        let (old_name, def) = before.field(from).ok_or_else(|| PlanError::UnknownField(from.clone()))?;
        refuse_managed(old_name, def)?;
        let old_name = old_name.to_string();
        touch(&old_name)?;
        if fields.keys().any(|n| n.eq_ignore_ascii_case(to) && !n.eq_ignore_ascii_case(&old_name)) {
            return Err(PlanError::FieldExists(to.clone()));
        }
        let index = fields.get_index_of(&old_name).expect("field exists");
        let (_, def) = fields.shift_remove_index(index).expect("field exists");
        fields.shift_insert(index, to.clone(), def);
        steps.push(Step::RenameField { from: old_name, to: to.clone() });
    }
    for name in &patch.drop_fields {
        let (current, def) = find_field(&fields, name)?;
        refuse_managed(&current, &def)?;
        touch(&current)?;
        let def = fields.shift_remove(&current).expect("field exists");
        steps.push(Step::DropField { name: current, field: def });
    }
    for (name, spec) in &patch.alter_fields {
        let (current, from) = find_field(&fields, name)?;
        refuse_managed(&current, &from)?;
        let to = merged_definition(&from, spec)
            .map_err(|message| PlanError::Fields(FieldsError::BadField { field: current.clone(), message }))?;
        push_alter(&current, &from, &to, &mut steps)?;
        fields.insert(current, to);
    }
    if let Some(add) = &patch.add_fields {
        for (name, def) in parse_fields(add)? {
            if fields.keys().any(|n| n.eq_ignore_ascii_case(&name)) {
                return Err(PlanError::FieldExists(name));
            }
            steps.push(Step::AddField { name: name.clone(), field: def.clone() });
            fields.insert(name, def);
        }
    }
    if fields.len() > MAX_FIELDS {
        return Err(FieldsError::TooMany(fields.len()).into());
    }
    let after = TableSchema {
        id: before.id,
        name: patch.name.clone().unwrap_or_else(|| before.name.clone()),
        version: before.version + 1,
        fields,
        kind: before.kind,
        rules: changed_rules(before, patch.rules.as_ref(), &mut steps)?,
    };
    Ok(Plan { before: before.clone(), after, steps, retargeted: Vec::new() })
}

fn refuse_managed(name: &str, def: &FieldDef) -> Result<(), PlanError> {
    if def.system {
        return Err(PlanError::Managed(name.to_string()));
    }
    Ok(())
}

/// A desired field map with the managed fields of `before` put back where they were. A
/// desired map may repeat a managed field only unchanged (e.g. a schema read, edited and
/// sent back).
fn keep_managed_fields(
    before: &TableSchema,
    mut desired: IndexMap<String, FieldDef>,
) -> Result<IndexMap<String, FieldDef>, PlanError> {
    for (index, (name, def)) in before.fields.iter().enumerate().filter(|(_, (_, def))| def.system) {
        match desired.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(n, d)| (n.clone(), d.clone())) {
            Some((given_name, given)) => {
                let same = given_name == *name && FieldDef { system: def.system, hidden: def.hidden, ..given } == *def;
                if !same {
                    return Err(PlanError::Managed(name.clone()));
                }
                desired.insert(name.clone(), def.clone());
            }
            None => {
                desired.shift_insert(index.min(desired.len()), name.clone(), def.clone());
            }
        }
    }
    Ok(desired)
}

/// The rules after a change (or the current ones), recording the change as a step.
fn changed_rules(before: &TableSchema, changes: Option<&Json>, steps: &mut Vec<Step>) -> Result<Rules, PlanError> {
    let Some(changes) = changes else { return Ok(before.rules.clone()) };
    let rules = before.rules.merged(changes).map_err(PlanError::BadRules)?;
    if rules != before.rules {
        steps.push(Step::ChangeRules { from: before.rules.clone(), to: rules.clone() });
    }
    Ok(rules)
}

fn push_table_rename(before: &TableSchema, new_name: Option<&str>, steps: &mut Vec<Step>) -> Result<(), PlanError> {
    if let Some(to) = new_name.filter(|to| *to != before.name) {
        validate_table_name(to)?;
        steps.push(Step::RenameTable { from: before.name.clone(), to: to.to_string() });
    }
    Ok(())
}

fn push_alter(name: &str, from: &FieldDef, to: &FieldDef, steps: &mut Vec<Step>) -> Result<(), PlanError> {
    if from == to {
        return Ok(());
    }
    if classify(from, to) == Conversion::Refused {
        return Err(PlanError::Refused {
            field: name.to_string(),
            from: from.field_type.to_string(),
            to: to.field_type.to_string(),
        });
    }
    steps.push(Step::AlterField { name: name.to_string(), from: from.clone(), to: to.clone() });
    Ok(())
}

fn find_field(fields: &IndexMap<String, FieldDef>, name: &str) -> Result<(String, FieldDef), PlanError> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, d)| (n.clone(), d.clone()))
        .ok_or_else(|| PlanError::UnknownField(name.to_string()))
}

/// A full definition (short or long form with `type`) replaces the field; an object
/// without `type` is merged onto the current definition.
fn merged_definition(current: &FieldDef, spec: &Json) -> Result<FieldDef, String> {
    let def = match spec {
        Json::Object(options) if !options.contains_key("type") => {
            let mut merged = serde_json::to_value(current).map_err(|e| e.to_string())?;
            let target = merged.as_object_mut().expect("a field serializes to an object");
            for (key, value) in options {
                if value.is_null() {
                    target.remove(key);
                } else {
                    target.insert(key.clone(), value.clone());
                }
            }
            FieldDef::from_json(&merged)?
        }
        other => FieldDef::from_json(other)?,
    };
    check_default(&def)?;
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldType;
    use serde_json::json;

    fn person() -> TableSchema {
        TableSchema {
            id: 1,
            name: "Person".into(),
            version: 1,
            fields: parse_fields(&json!({"first_name": "string", "age": "integer"})).unwrap(),
            kind: Default::default(),
            rules: Default::default(),
        }
    }

    #[test]
    fn put_diffs_by_name() {
        let plan =
            plan_put(&person(), None, &json!({"first_name": "string", "age": "float", "ok": "boolean"}), None).unwrap();
        assert_eq!(plan.after.version, 2);
        assert!(matches!(&plan.steps[0], Step::AlterField { name, .. } if name == "age"));
        assert!(matches!(&plan.steps[1], Step::AddField { name, .. } if name == "ok"));
        let plan = plan_put(&person(), None, &json!({"first_name": "string"}), None).unwrap();
        assert!(matches!(&plan.steps[0], Step::DropField { name, .. } if name == "age"));
        assert_eq!(plan.steps[0].kind(), StepKind::Destructive);
        assert!(plan_put(&person(), None, &json!({"first_name": "string", "age": "integer"}), None).unwrap().is_noop());
    }

    #[test]
    fn patch_renames_keep_data_sources() {
        let patch: TablePatch = serde_json::from_value(json!({
            "name": "People",
            "rename_fields": {"first_name": "given_name"},
            "alter_fields": {"given_name": {"max_length": 50}},
            "add_fields": {"email": "email"}
        }))
        .unwrap();
        let plan = plan_patch(&person(), &patch).unwrap();
        assert_eq!(plan.after.name, "People");
        let sources = plan.sources();
        assert_eq!(sources[0].0, "given_name");
        assert!(matches!(sources[0].1, FieldSource::Convert { old_name: "first_name", .. }));
        assert!(matches!(sources[1].1, FieldSource::Keep { old_name: "age" }));
        assert!(matches!(sources[2].1, FieldSource::New { .. }));
        assert_eq!(plan.after.fields["given_name"].max_length, Some(50));
        assert_eq!(plan.after.fields["given_name"].field_type, FieldType::String);
    }

    #[test]
    fn patch_refuses_unknown_and_conflicting_fields() {
        let bad = [
            json!({"rename_fields": {"nope": "x"}}),
            json!({"rename_fields": {"age": "first_name"}}),
            json!({"drop_fields": ["nope"]}),
            json!({"drop_fields": ["age", "age"]}),
            json!({"add_fields": {"age": "integer"}}),
            json!({"name": "bad name"}),
        ];
        for patch in bad {
            let patch: TablePatch = serde_json::from_value(patch.clone()).unwrap();
            assert!(plan_patch(&person(), &patch).is_err(), "{patch:?}");
        }
    }

    fn owned_person() -> TableSchema {
        let mut schema = person();
        schema.fields.insert("owner".into(), FieldDef::new(crate::FieldType::Integer).managed());
        schema.rules = Rules::owned();
        schema
    }

    #[test]
    fn managed_fields_survive_put_and_refuse_changes() {
        let before = owned_person();
        let plan = plan_put(&before, None, &json!({"first_name": "string", "age": "integer"}), None).unwrap();
        assert!(plan.is_noop(), "{:?}", plan.steps);
        assert!(plan.after.has_owner());
        let resent =
            plan_put(&before, None, &json!({"first_name": "string", "age": "integer", "owner": "integer"}), None);
        assert!(resent.unwrap().is_noop());
        let changed = plan_put(&before, None, &json!({"first_name": "string", "owner": "text"}), None);
        assert_eq!(changed.unwrap_err(), PlanError::Managed("owner".into()));
        for patch in [
            json!({"drop_fields": ["owner"]}),
            json!({"rename_fields": {"owner": "creator"}}),
            json!({"alter_fields": {"owner": {"indexed": true}}}),
        ] {
            let patch: TablePatch = serde_json::from_value(patch).unwrap();
            assert_eq!(plan_patch(&before, &patch).unwrap_err(), PlanError::Managed("owner".into()));
        }
    }

    #[test]
    fn rule_changes_are_steps_without_table_changes() {
        let patch: TablePatch = serde_json::from_value(json!({"rules": {"list": "authenticated"}})).unwrap();
        let plan = plan_patch(&owned_person(), &patch).unwrap();
        assert!(!plan.is_noop());
        assert!(!plan.changes_table());
        assert_eq!(plan.after.rules.list, crate::Rule::Authenticated);
        let same: TablePatch = serde_json::from_value(json!({"rules": {"list": "public"}})).unwrap();
        assert!(plan_patch(&owned_person(), &same).unwrap().is_noop());
        let bad: TablePatch = serde_json::from_value(json!({"rules": {"lists": "public"}})).unwrap();
        assert!(matches!(plan_patch(&owned_person(), &bad), Err(PlanError::BadRules(_))));
    }
}
