//! The catalog snapshot: every table with what requests need precomputed (its
//! validator with compiled patterns).

use std::collections::HashMap;
use std::sync::Arc;
use tessera_schema::validate::RowValidator;
use tessera_schema::TableSchema;

/// A table as requests use it.
pub struct Table {
    pub schema: TableSchema,
    pub validator: RowValidator,
}

/// An immutable view of all tables.
#[derive(Default)]
pub struct Catalog {
    tables: Vec<Arc<Table>>,
    by_name: HashMap<String, Arc<Table>>,
    by_id: HashMap<i64, Arc<Table>>,
}

impl Catalog {
    pub fn new(schemas: Vec<TableSchema>) -> Catalog {
        let tables: Vec<Arc<Table>> = schemas
            .into_iter()
            .map(|schema| Arc::new(Table { validator: RowValidator::new(&schema), schema }))
            .collect();
        let by_name = tables.iter().map(|t| (t.schema.name.to_ascii_lowercase(), t.clone())).collect();
        let by_id = tables.iter().map(|t| (t.schema.id, t.clone())).collect();
        Catalog { tables, by_name, by_id }
    }

    /// Tables in creation order.
    pub fn tables(&self) -> &[Arc<Table>] {
        &self.tables
    }

    /// By name (case-insensitive) or by numeric id.
    pub fn find(&self, key: &str) -> Option<Arc<Table>> {
        if let Some(table) = self.by_name.get(&key.to_ascii_lowercase()) {
            return Some(table.clone());
        }
        key.parse::<i64>().ok().and_then(|id| self.by_id.get(&id).cloned())
    }
}
