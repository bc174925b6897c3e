//! Deleting objects that no row points at any more. Always called after the database
//! change committed; a failure here is logged, not answered: the row change stands, and
//! at worst an object is left over (never a row pointing at a missing object).

use super::refs::{names_in, prepare, Uploaded};
use crate::catalog::Table;
use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_files::storage::{object_key, table_prefixes, thumbs_prefix};
use tessera_schema::plan::{Plan, Step};
use tessera_schema::FieldType;

impl App {
    /// Before a write: merges the request's uploads into `body` and refuses file names
    /// the row does not hold; returns the names the write drops. Reads the current row
    /// only when the write touches a file field.
    pub(crate) async fn prepare_file_write(
        &self,
        table: &Table,
        id: Option<i64>,
        body: &mut Json,
        uploaded: &Uploaded,
        replace: bool,
    ) -> Result<Vec<String>, CoreError> {
        let schema = &table.schema;
        if !table.has_files() {
            return Ok(Vec::new());
        }
        let Some(id) = id else { return prepare(schema, body, None, uploaded, false) };
        let touches = replace
            || !uploaded.is_empty()
            || body.as_object().is_some_and(|map| {
                map.keys().any(|key| schema.field(key).is_some_and(|(_, def)| def.field_type == FieldType::File))
            });
        if !touches {
            return Ok(Vec::new());
        }
        let old = match self.store().get_row(schema, id, None, None, &[]).await? {
            Some(text) => serde_json::from_str::<Json>(&text).ok(),
            // The update will answer 404; nothing to check against.
            None => None,
        };
        match old {
            Some(old) => prepare(schema, body, Some(&old), uploaded, replace),
            None => prepare(schema, body, None, uploaded, replace),
        }
    }

    /// Deletes files (and their thumbnails) of a table once no row points at them: now, or
    /// inside a request's transaction once it has committed.
    pub(crate) async fn remove_files(&self, table_id: i64, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let app = self.clone();
        self.store().after_commit(Box::pin(async move { app.remove_files_now(table_id, names).await })).await;
    }

    async fn remove_files_now(&self, table_id: i64, names: Vec<String>) {
        let Ok(storage) = self.file_storage() else { return };
        for name in names {
            if let Err(e) = storage.delete(&object_key(table_id, &name)).await {
                tracing::warn!("could not delete file {name} of table {table_id}: {e}");
            }
            if let Err(e) = storage.delete_prefix(&thumbs_prefix(table_id, &name)).await {
                tracing::warn!("could not delete the thumbnails of {name} of table {table_id}: {e}");
            }
        }
    }

    /// Deletes every object of a dropped table.
    pub(crate) async fn remove_table_files(&self, table_id: i64) {
        let Ok(storage) = self.file_storage() else { return };
        for prefix in table_prefixes(table_id) {
            if let Err(e) = storage.delete_prefix(&prefix).await {
                tracing::warn!("could not delete the files of dropped table {table_id}: {e}");
            }
        }
    }

    /// Before a migration: the names held by file fields the plan drops (read first, as
    /// the column is gone afterwards).
    pub(crate) async fn dropped_field_files(&self, plan: &Plan) -> Result<Vec<String>, CoreError> {
        let mut names = Vec::new();
        for field in dropped_file_fields(plan) {
            for value in self.store().file_values(&plan.before, field).await? {
                match serde_json::from_str::<Json>(&value) {
                    Ok(list @ Json::Array(_)) => names.extend(names_in(Some(&list))),
                    _ => names.push(value),
                }
            }
        }
        Ok(names)
    }
}

/// The file fields a plan drops (by their name before the migration).
fn dropped_file_fields(plan: &Plan) -> Vec<&str> {
    plan.steps
        .iter()
        .filter_map(|step| match step {
            Step::DropField { name, field } if field.field_type == FieldType::File => Some(name.as_str()),
            _ => None,
        })
        .collect()
}
