//! Who keeps a row from being deleted: the 409 answer to a delete the database refused
//! because a relation with `on_delete: restrict` points at the row — or at a row the
//! delete would remove through `cascade` relations (see `crate::cascade`).

use crate::catalog::Table;
use crate::error::Referrer;
use crate::{App, CoreError};
use tessera_schema::relations::inbound;
use tessera_schema::{OnDelete, TableSchema};
use tessera_store::StoreError;

impl App {
    /// The 409 for a delete of row `id` that a `restrict` relation refused.
    pub(crate) async fn referenced(&self, table: &Table, id: i64) -> CoreError {
        match self.referrers(&table.schema, id).await {
            Ok(by) => CoreError::Referenced { table: table.schema.name.clone(), id: id.to_string(), by },
            Err(e) => e.into(),
        }
    }

    async fn referrers(&self, schema: &TableSchema, id: i64) -> Result<Vec<Referrer>, StoreError> {
        let catalog = self.catalog();
        let schemas: Vec<&TableSchema> = catalog.tables().iter().map(|t| &t.schema).collect();
        // The row itself, then every row the delete would remove through cascades.
        let mut doomed = vec![(schema.name.clone(), vec![id], None::<String>)];
        for level in self.cascaded_rows(schema, vec![id], |_| true).await? {
            if !level.new_ids.is_empty() {
                let name = level.table.schema.name.clone();
                doomed.push((name.clone(), level.new_ids, Some(name)));
            }
        }
        let mut by: Vec<Referrer> = Vec::new();
        for (target, ids, via) in doomed {
            for link in inbound(schemas.iter().copied(), &target) {
                if link.def.on_delete() != OnDelete::Restrict {
                    continue;
                }
                let rows = self.store().count_links(&link, &ids).await?;
                let same = |r: &&mut Referrer| r.table == link.table && r.field == link.field && r.via == via;
                match by.iter_mut().find(same) {
                    Some(known) => known.rows += rows,
                    None if rows > 0 => {
                        by.push(Referrer { table: link.table, field: link.field, rows, via: via.clone() })
                    }
                    None => {}
                }
            }
        }
        Ok(by)
    }
}
