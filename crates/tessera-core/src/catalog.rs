//! The catalog snapshot: every table with what requests need precomputed (its
//! validator with compiled patterns).

use crate::access::CompiledRule;
use std::collections::HashMap;
use std::sync::Arc;
use tessera_schema::relations::cascade_reaches;
use tessera_schema::validate::RowValidator;
use tessera_schema::{Action, FieldType, TableKind, TableSchema};

/// A table as requests use it.
pub struct Table {
    pub schema: TableSchema,
    pub validator: RowValidator,
    /// The rules, parsed, in [`Action::ALL`] order.
    rules: Vec<CompiledRule>,
    /// Whether deleting a row deletes rows with file fields through cascading relations:
    /// then their stored names are read before the delete (see `files::on_delete`).
    pub cascades_to_files: bool,
}

impl Table {
    fn new(schema: TableSchema, cascades_to_files: bool) -> Table {
        let rules = Action::ALL.iter().map(|action| CompiledRule::new(schema.rules.get(*action))).collect();
        Table { validator: RowValidator::new(&schema), schema, rules, cascades_to_files }
    }

    /// Whether the table has file fields (whose objects go when a row goes).
    pub fn has_files(&self) -> bool {
        has_files(&self.schema)
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
        let reach: Vec<bool> = {
            let all: Vec<&TableSchema> = schemas.iter().collect();
            all.iter().map(|schema| cascade_reaches(&all, &schema.name, has_files)).collect()
        };
        let tables: Vec<Arc<Table>> =
            schemas.into_iter().zip(reach).map(|(schema, reach)| Arc::new(Table::new(schema, reach))).collect();
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

/// Whether a table has file fields.
pub fn has_files(schema: &TableSchema) -> bool {
    file_field_names(schema).next().is_some()
}

/// The names of a table's file fields (hidden ones included).
pub fn file_field_names(schema: &TableSchema) -> impl Iterator<Item = &str> {
    schema.fields.iter().filter(|(_, def)| def.field_type == FieldType::File).map(|(name, _)| name.as_str())
}
