//! The rows a delete removes through `on_delete: cascade` relations. The database
//! deletes them itself, so whoever needs to know about them (their stored files, the
//! `restrict` relations that point at them) reads them first: level by level along the
//! relations, as far as they go, one statement per relation and level — inside a
//! transaction the rows stay locked (Postgres `FOR UPDATE`) until the delete.

use crate::catalog::Table;
use crate::App;
use serde_json::Value as Json;
use std::collections::HashSet;
use std::sync::Arc;
use tessera_schema::relations::cascading;
use tessera_schema::TableSchema;
use tessera_store::StoreError;

/// The rows one cascading relation reaches from the level before.
pub(crate) struct Cascaded {
    pub table: Arc<Table>,
    /// Each row's `id` and file fields.
    pub rows: Vec<Json>,
    /// The ids among them not reached before: the walk goes on from these.
    pub new_ids: Vec<i64>,
}

impl App {
    /// Walks the cascading relations from rows `ids` of `schema` into the tables `follow`
    /// accepts; every relation and level reached, in walk order.
    pub(crate) async fn cascaded_rows(
        &self,
        schema: &TableSchema,
        ids: Vec<i64>,
        follow: impl Fn(&Table) -> bool,
    ) -> Result<Vec<Cascaded>, StoreError> {
        let catalog = self.catalog();
        let schemas: Vec<&TableSchema> = catalog.tables().iter().map(|t| &t.schema).collect();
        let mut seen: HashSet<(i64, i64)> = ids.iter().map(|id| (schema.id, *id)).collect();
        let mut pending = vec![(schema.name.clone(), ids)];
        let mut reached = Vec::new();
        while let Some((target, ids)) = pending.pop() {
            for link in cascading(schemas.iter().copied(), &target) {
                let Some(child) = catalog.find(&link.table).filter(|child| follow(child)) else { continue };
                let rows: Vec<Json> = (self.store().file_rows(&child.schema, &link.field, &ids).await?.iter())
                    .filter_map(|text| serde_json::from_str(text).ok())
                    .collect();
                let new_ids: Vec<i64> = rows
                    .iter()
                    .filter_map(|row| row.get("id").and_then(Json::as_i64))
                    .filter(|id| seen.insert((child.schema.id, *id)))
                    .collect();
                if !new_ids.is_empty() {
                    pending.push((child.schema.name.clone(), new_ids.clone()));
                }
                reached.push(Cascaded { table: child, rows, new_ids });
            }
        }
        Ok(reached)
    }
}
