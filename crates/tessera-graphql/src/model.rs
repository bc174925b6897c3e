//! How the catalog appears in GraphQL: one object type per table, named after the table,
//! with its fields, relations and the names derived from it (`<table>_bool_exp`,
//! `insert_<table>`, ...).
//!
//! Table and field names are already valid GraphQL names (a letter, then letters, digits
//! and underscores). The mapping only has to avoid collisions:
//! - a table whose name or derived names clash with GraphQL's or tessera's own type names
//!   or with another table's derived names is exposed as `<table>_table` (in creation
//!   order, the later table gives way);
//! - a many-to-one relation field `zoo` is the object `zoo` and its id `zoo_id`;
//! - the rows pointing at a table through a relation appear on it as an array named after
//!   the pointing table (`animals`) when that is unambiguous, else `<table>_via_<field>`
//!   (as REST's `expand`), each with a `<name>_aggregate` beside it.

use indexmap::IndexMap;
use std::collections::HashSet;
use std::sync::Arc;
use tessera_core::{Catalog, Table};
use tessera_schema::relations::{inbound, junction_name};
use tessera_schema::FieldType;
use tessera_store::Join;

/// Names of types tessera's schema always has, and GraphQL's own.
pub const FIXED_TYPES: [&str; 18] = [
    "Query",
    "Mutation",
    "Subscription",
    "String",
    "Int",
    "Float",
    "Boolean",
    "ID",
    "DateTime",
    "Date",
    "JSON",
    "Decimal",
    "UUID",
    "File",
    "AuthPayload",
    "order_by",
    "Int_comparison_exp",
    "String_comparison_exp",
];

/// What one field of a table's object type reads.
#[derive(Debug, Clone)]
pub enum OutField {
    /// A column: `id`, a user field, a timestamp, or a many-to-one relation's id.
    Column { column: String, field_type: FieldType },
    /// A file field: `{name, url}` or a list of them.
    File { column: String, multiple: bool },
    /// The ids a `multiple` relation lists.
    LinkIds { junction: String },
    /// The related row of a many-to-one relation.
    Object { column: String, target: String },
    /// Related rows: a `multiple` relation or a reverse relation.
    Array { join: Join, target: String },
    /// Aggregates over the related rows of an array relation.
    Aggregate { join: Join, target: String },
}

/// One table as GraphQL sees it.
pub struct TableModel {
    pub table: Arc<Table>,
    /// The object type's name; every derived name starts with it.
    pub base: String,
    /// Output fields by GraphQL name, in schema order.
    pub fields: IndexMap<String, OutField>,
}

impl TableModel {
    /// The table's name for core calls.
    pub fn key(&self) -> &str {
        &self.table.schema.name
    }
}

/// The whole catalog as GraphQL sees it.
pub struct Model {
    pub catalog: Arc<Catalog>,
    /// By object type name.
    pub tables: IndexMap<String, TableModel>,
}

/// The names a table with object type `base` adds to the schema.
pub fn derived_names(base: &str) -> Vec<String> {
    let types = [
        "",
        "_bool_exp",
        "_order_by",
        "_insert_input",
        "_set_input",
        "_inc_input",
        "_pk_columns_input",
        "_mutation_response",
        "_aggregate",
        "_aggregate_fields",
        "_sum_fields",
        "_avg_fields",
        "_min_fields",
        "_max_fields",
        "_select_column",
        "_by_pk",
    ];
    let mut names: Vec<String> = types.iter().map(|suffix| format!("{base}{suffix}")).collect();
    for prefix in ["insert_", "update_", "delete_"] {
        names.push(format!("{prefix}{base}"));
        names.push(format!("{prefix}{base}_one"));
        names.push(format!("{prefix}{base}_by_pk"));
    }
    names
}

impl Model {
    pub fn new(catalog: Arc<Catalog>) -> Model {
        let mut taken: HashSet<String> = FIXED_TYPES.iter().map(|s| s.to_string()).collect();
        taken.extend(["me", "register", "login", "refresh", "logout"].map(String::from));
        let mut bases: Vec<(Arc<Table>, String)> = Vec::new();
        for table in catalog.tables() {
            let mut base = table.schema.name.clone();
            while derived_names(&base).iter().any(|name| taken.contains(name)) || base.starts_with("__") {
                base.push_str("_table");
            }
            taken.extend(derived_names(&base));
            bases.push((table.clone(), base));
        }
        let base_of = |table_name: &str| {
            bases.iter().find(|(t, _)| t.schema.name.eq_ignore_ascii_case(table_name)).map(|(_, base)| base.clone())
        };
        let schemas: Vec<&tessera_schema::TableSchema> = catalog.tables().iter().map(|t| &t.schema).collect();
        let mut tables = IndexMap::new();
        for (table, base) in &bases {
            let schema = &table.schema;
            let mut fields: IndexMap<String, OutField> = IndexMap::new();
            fields.insert("id".into(), OutField::Column { column: "id".into(), field_type: FieldType::Integer });
            for (name, def) in schema.fields.iter().filter(|(_, def)| !def.hidden) {
                match def.field_type {
                    FieldType::Relation => {
                        let Some(target) = def.target.as_deref().and_then(base_of) else { continue };
                        if def.is_column() {
                            fields.insert(name.clone(), OutField::Object { column: name.clone(), target });
                            fields
                                .entry(format!("{name}_id"))
                                .or_insert(OutField::Column { column: name.clone(), field_type: FieldType::Integer });
                        } else {
                            let join = Join::ForwardMany { junction: junction_name(schema.id, name) };
                            fields.insert(name.clone(), OutField::Array { join: join.clone(), target: target.clone() });
                            fields
                                .entry(format!("{name}_ids"))
                                .or_insert(OutField::LinkIds { junction: junction_name(schema.id, name) });
                            fields.entry(format!("{name}_aggregate")).or_insert(OutField::Aggregate { join, target });
                        }
                    }
                    FieldType::File => {
                        fields.insert(name.clone(), OutField::File { column: name.clone(), multiple: def.multiple });
                    }
                    field_type => {
                        fields.insert(name.clone(), OutField::Column { column: name.clone(), field_type });
                    }
                }
            }
            for stamp in ["created_at", "updated_at"] {
                fields.insert(stamp.into(), OutField::Column { column: stamp.into(), field_type: FieldType::Datetime });
            }
            let links = inbound(schemas.iter().copied(), &schema.name);
            for link in &links {
                let Some(target) = base_of(&link.table) else { continue };
                let from_same_table = links.iter().filter(|l| l.table.eq_ignore_ascii_case(&link.table)).count();
                let short = link.table.clone();
                let name = if from_same_table == 1
                    && !fields.contains_key(&short)
                    && !fields.contains_key(&format!("{short}_aggregate"))
                {
                    short
                } else {
                    link.reverse_name()
                };
                if fields.contains_key(&name) || fields.contains_key(&format!("{name}_aggregate")) {
                    tracing::warn!(
                        "GraphQL: reverse relation '{name}' of '{}' clashes with a field; not exposed",
                        schema.name
                    );
                    continue;
                }
                let join = match link.junction() {
                    Some(junction) => Join::ReverseMany { junction },
                    None => Join::Reverse { column: link.field.clone() },
                };
                fields.insert(name.clone(), OutField::Array { join: join.clone(), target: target.clone() });
                fields.insert(format!("{name}_aggregate"), OutField::Aggregate { join, target });
            }
            tables.insert(base.clone(), TableModel { table: table.clone(), base: base.clone(), fields });
        }
        Model { catalog, tables }
    }

    pub fn table(&self, base: &str) -> &TableModel {
        &self.tables[base]
    }

    /// What a root field of `Query` reads (`None` for introspection fields).
    pub fn query_root(&self, name: &str) -> Option<QueryRoot<'_>> {
        if name == "me" {
            let users = self.tables.values().find(|t| t.table.is_users())?;
            return Some(QueryRoot::Me(users));
        }
        if let Some(table) = self.tables.get(name) {
            return Some(QueryRoot::List(table));
        }
        // Derived names never clash with another table's (see `Model::new`).
        if let Some(table) = name.strip_suffix("_by_pk").and_then(|base| self.tables.get(base)) {
            return Some(QueryRoot::ByPk(table));
        }
        name.strip_suffix("_aggregate").and_then(|base| self.tables.get(base)).map(QueryRoot::Aggregate)
    }
}

/// A root field of `Query` that reads rows.
#[derive(Clone, Copy)]
pub enum QueryRoot<'m> {
    /// `<table>(where, order_by, limit, offset)`
    List(&'m TableModel),
    /// `<table>_by_pk(id)`
    ByPk(&'m TableModel),
    /// `<table>_aggregate(...)`
    Aggregate(&'m TableModel),
    /// `me`: the caller's own user row.
    Me(&'m TableModel),
}
