//! The stored files a delete takes with it: the deleted rows' own, and those of the rows
//! the database deletes with them through `on_delete: cascade` relations (followed as
//! far as they go). The database removes cascaded rows itself, so their names are read
//! first (see `crate::cascade`), inside the delete's transaction and locked (Postgres
//! `FOR UPDATE`; SQLite's one writer holds everything) so that no write adds a file or
//! a referencing row in between; the objects go once the delete commits.

use super::refs::names_in;
use crate::catalog::{file_field_names, Table};
use crate::App;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use tessera_schema::TableSchema;
use tessera_store::{AccessFilter, StoreError};

/// Stored names a delete removes, per table id.
#[derive(Default)]
struct DoomedFiles(BTreeMap<i64, BTreeSet<String>>);

impl DoomedFiles {
    /// Adds the names a row (JSON with its file fields) holds.
    fn add_row(&mut self, schema: &TableSchema, row: &Json) {
        let names = file_field_names(schema).flat_map(|field| names_in(row.get(field)));
        self.0.entry(schema.id).or_default().extend(names);
    }

    /// Adds the names of rows read as JSON text.
    fn add_rows(&mut self, schema: &TableSchema, rows: &[String]) {
        for text in rows {
            self.add_row(schema, &serde_json::from_str(text).unwrap_or_default());
        }
    }
}

impl App {
    /// Deletes row `id` (as [`tessera_store::Store::delete_row`]) and, once that commits,
    /// the files of every row the delete removes.
    pub(crate) async fn delete_row_and_files(
        &self,
        table: &Table,
        id: i64,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<bool, StoreError> {
        let store = self.store();
        let work = async {
            let mut doomed = DoomedFiles::default();
            // Read and locked first: no referencing row can be added from here on.
            let own = store.file_rows(&table.schema, "id", &[id]).await?;
            doomed.add_rows(&table.schema, &own);
            if table.cascades_to_files {
                self.add_cascaded(&mut doomed, &table.schema, vec![id]).await?;
            }
            let deleted = store.delete_row(&table.schema, id, access).await?;
            if deleted {
                self.remove_doomed(doomed).await;
            }
            Ok(deleted)
        };
        store.atomic(work, |outcome| matches!(outcome, Ok(true))).await?
    }

    /// Deletes every row a filter matches (as [`tessera_store::Store::delete_where`]) and,
    /// once that commits, the files of every row the delete removes; the deleted rows.
    pub(crate) async fn delete_where_and_files(
        &self,
        table: &Table,
        filter: Option<&tessera_store::graph::GraphFilter<'_>>,
        access: Option<&AccessFilter<'_>>,
    ) -> Result<Vec<String>, StoreError> {
        let store = self.store();
        let work = async {
            let mut doomed = DoomedFiles::default();
            if table.cascades_to_files {
                let ids = store.ids_where(&table.schema, filter, access).await?;
                self.add_cascaded(&mut doomed, &table.schema, ids).await?;
            }
            let rows = store.delete_where(&table.schema, filter, access).await?;
            doomed.add_rows(&table.schema, &rows);
            self.remove_doomed(doomed).await;
            Ok(rows)
        };
        if table.cascades_to_files {
            store.atomic(work, Result::is_ok).await?
        } else {
            work.await
        }
    }

    /// Adds the files of the rows that deleting `ids` of `table` removes through
    /// cascading relations.
    async fn add_cascaded(
        &self,
        doomed: &mut DoomedFiles,
        table: &TableSchema,
        ids: Vec<i64>,
    ) -> Result<(), StoreError> {
        let reaches_files = |child: &Table| child.has_files() || child.cascades_to_files;
        for level in self.cascaded_rows(table, ids, reaches_files).await? {
            for row in &level.rows {
                doomed.add_row(&level.table.schema, row);
            }
        }
        Ok(())
    }

    async fn remove_doomed(&self, doomed: DoomedFiles) {
        for (table_id, names) in doomed.0 {
            self.remove_files(table_id, names.into_iter().collect()).await;
        }
    }
}
