//! Table services: create, change (PUT/PATCH with dry runs), drop, history.

use crate::access::check_rules;
use crate::auth::Caller;
use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_schema::plan::{plan_patch, plan_put, Plan, Step, TablePatch};
use tessera_schema::relations::{inbound, outbound};
use tessera_schema::{
    parse_fields, validate_table_name, FieldDef, FieldType, FieldsError, OnDelete, Rules, TableSchema, OWNER_FIELD,
};
use tessera_store::{HistoryEntry, MigrationReport};

/// A create-table request: `{"name": ..., "fields": {...}}`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTable {
    pub name: String,
    #[serde(default = "empty_object")]
    pub fields: Json,
    /// Whether rows get an `owner` set to the creating user (default: yes).
    #[serde(default)]
    pub owner: Option<bool>,
    /// Rules to change from the defaults, by action.
    #[serde(default)]
    pub rules: Option<Json>,
}

/// A whole-schema request (PUT): `{"fields": {...}}`, optionally with a new `name`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTable {
    #[serde(default)]
    pub name: Option<String>,
    pub fields: Json,
    /// Rules to change, by action.
    #[serde(default)]
    pub rules: Option<Json>,
}

fn empty_object() -> Json {
    Json::Object(Default::default())
}

impl App {
    /// Creates a table (admins only). With an owner (the default), rows get an `owner`
    /// field the server sets to the creating user, and the owner may change and delete them.
    pub async fn create_table(&self, request: CreateTable, caller: &Caller) -> Result<TableSchema, CoreError> {
        caller.require_admin("create tables")?;
        validate_table_name(&request.name)?;
        let mut fields = parse_fields(&request.fields)?;
        let owner = request.owner.unwrap_or(true);
        if owner {
            if fields.keys().any(|name| name.eq_ignore_ascii_case(OWNER_FIELD)) {
                return Err(FieldsError::BadField {
                    field: OWNER_FIELD.into(),
                    message: "is set by tessera on tables with an owner; create the table with \"owner\": false to define it yourself".into(),
                }
                .into());
            }
            fields.insert(OWNER_FIELD.into(), self.owner_field());
        }
        let defaults = if owner { Rules::owned() } else { Rules::default() };
        let rules = match &request.rules {
            Some(changes) => defaults.merged(changes).map_err(CoreError::InvalidRules)?,
            None => defaults,
        };
        let mut draft = TableSchema { rules, ..TableSchema::new(0, request.name.clone(), 1, fields) };
        check_rules(&draft)?;
        self.resolve_targets(&mut draft)?;
        if self.catalog().find(&request.name).is_some_and(|t| t.schema.name.eq_ignore_ascii_case(&request.name)) {
            return Err(CoreError::TableExists(request.name));
        }
        let schema = self.store().create_table(draft).await?;
        self.reload_catalog().await?;
        Ok(schema)
    }

    /// Drops a table and its rows (admins only; the users table stays).
    pub async fn drop_table(&self, key: &str, caller: &Caller) -> Result<(), CoreError> {
        caller.require_admin("drop tables")?;
        let table = self.table(key)?;
        if table.is_users() {
            return Err(CoreError::Forbidden("the users table cannot be dropped".into()));
        }
        let catalog = self.catalog();
        let by: Vec<String> = inbound(catalog.tables().iter().map(|t| &t.schema), &table.schema.name)
            .into_iter()
            .filter(|link| link.table_id != table.schema.id)
            .map(|link| format!("{}.{}", link.table, link.field))
            .collect();
        if !by.is_empty() {
            return Err(CoreError::TableReferenced { table: table.schema.name.clone(), by });
        }
        let result = self.store().drop_table(&table.schema).await;
        self.reload_catalog().await?;
        result?;
        self.remove_table_files(table.schema.id).await;
        Ok(())
    }

    /// Migrates a table to a whole desired schema.
    pub async fn replace_table(
        &self,
        key: &str,
        request: ReplaceTable,
        dry_run: bool,
        caller: &Caller,
    ) -> Result<MigrationReport, CoreError> {
        caller.require_admin("change tables")?;
        let table = self.table(key)?;
        let plan = plan_put(&table.schema, request.name.as_deref(), &request.fields, request.rules.as_ref())?;
        self.run_plan(plan, dry_run).await
    }

    /// Applies explicit changes (renames, single-field changes, rules).
    pub async fn patch_table(
        &self,
        key: &str,
        patch: TablePatch,
        dry_run: bool,
        caller: &Caller,
    ) -> Result<MigrationReport, CoreError> {
        caller.require_admin("change tables")?;
        let table = self.table(key)?;
        let plan = plan_patch(&table.schema, &patch)?;
        self.run_plan(plan, dry_run).await
    }

    async fn run_plan(&self, mut plan: Plan, dry_run: bool) -> Result<MigrationReport, CoreError> {
        if plan.before.kind != tessera_schema::TableKind::Base && plan.after.name != plan.before.name {
            return Err(CoreError::Forbidden("the users table cannot be renamed".into()));
        }
        check_rules(&plan.after)?;
        self.plan_relations(&mut plan)?;
        if let Some(other) = self.catalog().find(&plan.after.name) {
            if other.schema.id != plan.after.id && other.schema.name.eq_ignore_ascii_case(&plan.after.name) {
                return Err(CoreError::TableExists(plan.after.name.clone()));
            }
        }
        if plan.is_noop() && !dry_run {
            // Nothing to change: answer with the current schema, no new version.
            let mut report = self.store().migrate(&plan, true).await?;
            report.schema = plan.before.clone();
            report.to_version = plan.before.version;
            return Ok(report);
        }
        let dropped_files = if dry_run { Vec::new() } else { self.dropped_field_files(&plan).await? };
        let result = self.store().migrate(&plan, dry_run).await;
        if !dry_run {
            self.reload_catalog().await?;
        }
        let mut report = result?;
        self.remove_files(plan.before.id, dropped_files).await;
        report.dependents = plan
            .retargeted
            .iter()
            .flat_map(|other| {
                outbound(other)
                    .filter(|link| link.target() == plan.after.name)
                    .map(|link| format!("{}.{} will point at '{}'", link.table, link.field, plan.after.name))
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(report)
    }

    /// The `owner` field of tables with an owner: a managed relation to the users table;
    /// deleting a user leaves their rows without an owner.
    fn owner_field(&self) -> FieldDef {
        let users = self.catalog().users().map_or_else(|| "users".to_string(), |t| t.schema.name.clone());
        FieldDef { target: Some(users), on_delete: Some(OnDelete::SetNull), ..FieldDef::new(FieldType::Relation) }
            .managed()
    }

    /// Points every relation of `schema` at a table of the catalog (or at itself), spelled
    /// as the catalog spells it.
    fn resolve_targets(&self, schema: &mut TableSchema) -> Result<(), CoreError> {
        let catalog = self.catalog();
        let own_name = schema.name.clone();
        for (name, def) in schema.fields.iter_mut().filter(|(_, def)| def.field_type == FieldType::Relation) {
            let target = def.target.clone().unwrap_or_default();
            let resolved = if target.eq_ignore_ascii_case(&own_name) {
                own_name.clone()
            } else {
                match catalog.find(&target).filter(|t| t.schema.name.eq_ignore_ascii_case(&target)) {
                    Some(table) => table.schema.name.clone(),
                    None => {
                        return Err(CoreError::InvalidRelation(format!(
                            "field '{name}' points at table '{target}', which does not exist"
                        )))
                    }
                }
            };
            def.target = Some(resolved);
        }
        Ok(())
    }

    /// Checks a plan's relations and lets links follow a rename: the table's own
    /// relations to itself and other tables' relations to it get the new name.
    fn plan_relations(&self, plan: &mut Plan) -> Result<(), CoreError> {
        for step in &plan.steps {
            if let Step::AlterField { name, from, to } = step {
                if !from.is_column() && from.on_delete() != to.on_delete() {
                    return Err(CoreError::InvalidRelation(format!(
                        "the on_delete of field '{name}' (a relation with multiple) cannot change; drop the field and add it again"
                    )));
                }
            }
        }
        let (old_name, new_name) = (plan.before.name.clone(), plan.after.name.clone());
        if old_name != new_name {
            retarget(&mut plan.before, &old_name, &new_name);
            retarget(&mut plan.after, &old_name, &new_name);
            let catalog = self.catalog();
            plan.retargeted = catalog
                .tables()
                .iter()
                .filter(|t| t.schema.id != plan.after.id)
                .filter(|t| outbound(&t.schema).any(|link| link.target().eq_ignore_ascii_case(&old_name)))
                .map(|t| {
                    let mut schema = t.schema.clone();
                    retarget(&mut schema, &old_name, &new_name);
                    schema
                })
                .collect();
        }
        self.resolve_targets(&mut plan.after)
    }

    pub async fn table_history(&self, key: &str, caller: &Caller) -> Result<Vec<HistoryEntry>, CoreError> {
        caller.require_admin("read table history")?;
        let table = self.table(key)?;
        Ok(self.store().history(table.schema.id).await?)
    }
}

/// Points the relations of `schema` that target `old_name` at `new_name`.
fn retarget(schema: &mut TableSchema, old_name: &str, new_name: &str) {
    for def in schema.fields.values_mut() {
        if def.target.as_deref().is_some_and(|target| target.eq_ignore_ascii_case(old_name)) {
            def.target = Some(new_name.to_string());
        }
    }
}
