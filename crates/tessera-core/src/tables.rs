//! Table services: create, change (PUT/PATCH with dry runs), drop, history.

use crate::access::check_rules;
use crate::auth::Caller;
use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_schema::plan::{plan_patch, plan_put, Plan, TablePatch};
use tessera_schema::{
    parse_fields, validate_table_name, FieldDef, FieldType, FieldsError, Rules, TableSchema, OWNER_FIELD,
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
            fields
                .insert(OWNER_FIELD.into(), FieldDef { indexed: true, ..FieldDef::new(FieldType::Integer) }.managed());
        }
        let defaults = if owner { Rules::owned() } else { Rules::default() };
        let rules = match &request.rules {
            Some(changes) => defaults.merged(changes).map_err(CoreError::InvalidRules)?,
            None => defaults,
        };
        let draft = TableSchema { rules, ..TableSchema::new(0, request.name.clone(), 1, fields) };
        check_rules(&draft)?;
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

    async fn run_plan(&self, plan: Plan, dry_run: bool) -> Result<MigrationReport, CoreError> {
        if plan.before.kind != tessera_schema::TableKind::Base && plan.after.name != plan.before.name {
            return Err(CoreError::Forbidden("the users table cannot be renamed".into()));
        }
        check_rules(&plan.after)?;
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
        let report = result?;
        self.remove_files(plan.before.id, dropped_files).await;
        Ok(report)
    }

    pub async fn table_history(&self, key: &str, caller: &Caller) -> Result<Vec<HistoryEntry>, CoreError> {
        caller.require_admin("read table history")?;
        let table = self.table(key)?;
        Ok(self.store().history(table.schema.id).await?)
    }
}
