//! Table services: create, change (PUT/PATCH with dry runs), drop, history.

use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_schema::plan::{plan_patch, plan_put, Plan, TablePatch};
use tessera_schema::{parse_fields, validate_table_name, TableSchema};
use tessera_store::{HistoryEntry, MigrationReport};

/// A create-table request: `{"name": ..., "fields": {...}}`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTable {
    pub name: String,
    #[serde(default = "empty_object")]
    pub fields: Json,
}

/// A whole-schema request (PUT): `{"fields": {...}}`, optionally with a new `name`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTable {
    #[serde(default)]
    pub name: Option<String>,
    pub fields: Json,
}

fn empty_object() -> Json {
    Json::Object(Default::default())
}

impl App {
    pub async fn create_table(&self, request: CreateTable) -> Result<TableSchema, CoreError> {
        validate_table_name(&request.name)?;
        let fields = parse_fields(&request.fields)?;
        if self.catalog().find(&request.name).is_some_and(|t| t.schema.name.eq_ignore_ascii_case(&request.name)) {
            return Err(CoreError::TableExists(request.name));
        }
        let schema = self.store().create_table(&request.name, fields).await?;
        self.reload_catalog().await?;
        Ok(schema)
    }

    pub async fn drop_table(&self, key: &str) -> Result<(), CoreError> {
        let table = self.table(key)?;
        let result = self.store().drop_table(&table.schema).await;
        self.reload_catalog().await?;
        Ok(result?)
    }

    /// Migrates a table to a whole desired schema.
    pub async fn replace_table(
        &self,
        key: &str,
        request: ReplaceTable,
        dry_run: bool,
    ) -> Result<MigrationReport, CoreError> {
        let table = self.table(key)?;
        let plan = plan_put(&table.schema, request.name.as_deref(), &request.fields)?;
        self.run_plan(plan, dry_run).await
    }

    /// Applies explicit changes (renames, single-field changes).
    pub async fn patch_table(&self, key: &str, patch: TablePatch, dry_run: bool) -> Result<MigrationReport, CoreError> {
        let table = self.table(key)?;
        let plan = plan_patch(&table.schema, &patch)?;
        self.run_plan(plan, dry_run).await
    }

    async fn run_plan(&self, plan: Plan, dry_run: bool) -> Result<MigrationReport, CoreError> {
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
        let result = self.store().migrate(&plan, dry_run).await;
        if !dry_run {
            self.reload_catalog().await?;
        }
        Ok(result?)
    }

    pub async fn table_history(&self, key: &str) -> Result<Vec<HistoryEntry>, CoreError> {
        let table = self.table(key)?;
        Ok(self.store().history(table.schema.id).await?)
    }
}
