//! The catalog snapshot: every table with what requests need precomputed (its
//! validator with compiled patterns).

use crate::access::CompiledRule;
use std::collections::HashMap;
use std::sync::Arc;
use tessera_schema::validate::RowValidator;
use tessera_schema::{Action, TableKind, TableSchema};

/// A table as requests use it.
pub struct Table {
    pub schema: TableSchema,
    pub validator: RowValidator,
    /// The rules, parsed, in [`Action::ALL`] order.
    rules: Vec<CompiledRule>,
}

impl Table {
    pub fn new(schema: TableSchema) -> Table {
        let rules = Action::ALL.iter().map(|action| CompiledRule::new(schema.rules.get(*action))).collect();
        Table { validator: RowValidator::new(&schema), schema, rules }
    }

    /// The parsed rule of an action.
    pub fn rule(&self, action: Action) -> &CompiledRule {
        let index = Action::ALL.iter().position(|a| *a == action).expect("every action is in ALL");
        &self.rules[index]
    }

    /// Whether this is the built-in users table.
    pub fn is_users(&self) -> bool {
        self.schema.kind == TableKind::Auth
    }
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
        let tables: Vec<Arc<Table>> = schemas.into_iter().map(|schema| Arc::new(Table::new(schema))).collect();
        let by_name = tables.iter().map(|t| (t.schema.name.to_ascii_lowercase(), t.clone())).collect();
        let by_id = tables.iter().map(|t| (t.schema.id, t.clone())).collect();
        Catalog { tables, by_name, by_id }
    }

    /// The built-in users table (absent only while a fresh store is being set up).
    pub fn users(&self) -> Option<Arc<Table>> {
        self.tables.iter().find(|t| t.is_users()).cloned()
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
