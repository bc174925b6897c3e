//! How tables point at each other: the relation fields of a catalog, seen from either end,
//! and the names tessera gives the tables and keys behind them.
//!
//! A single relation is a foreign-key column on the referencing table. A relation with
//! `multiple` is a junction table (`source_id`, `target_id`, `position`) that tessera
//! creates, renames and drops with the field; its name derives from the table id (which
//! survives renames) and the field name.

use crate::field::{FieldDef, FieldType};
use crate::table::TableSchema;

/// One relation field, as the catalog holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The table holding the field.
    pub table_id: i64,
    pub table: String,
    pub field: String,
    pub def: FieldDef,
}

impl Link {
    /// The table the relation points at.
    pub fn target(&self) -> &str {
        self.def.target.as_deref().unwrap_or_default()
    }

    /// The junction table of a `multiple` relation.
    pub fn junction(&self) -> Option<String> {
        self.def.multiple.then(|| junction_name(self.table_id, &self.field))
    }

    /// The name a reverse expansion uses: `<table>_via_<field>`.
    pub fn reverse_name(&self) -> String {
        format!("{}_via_{}", self.table, self.field)
    }
}

/// The junction table of the `multiple` relation `field` of table `table_id`.
pub fn junction_name(table_id: i64, field: &str) -> String {
    format!("_tessera_links_{table_id}_{}", field.to_ascii_lowercase())
}

/// The relation fields of one table.
pub fn outbound(schema: &TableSchema) -> impl Iterator<Item = Link> + '_ {
    schema.fields.iter().filter(|(_, def)| def.field_type == FieldType::Relation).map(|(name, def)| Link {
        table_id: schema.id,
        table: schema.name.clone(),
        field: name.clone(),
        def: def.clone(),
    })
}

/// Every relation field of `tables` that points at `target` (by name, case-insensitively),
/// including the target's own relations to itself.
pub fn inbound<'a>(tables: impl IntoIterator<Item = &'a TableSchema>, target: &str) -> Vec<Link> {
    tables.into_iter().flat_map(outbound).filter(|link| link.target().eq_ignore_ascii_case(target)).collect()
}

/// The relation fields of `schema` whose target is not among `tables` (by name).
pub fn dangling<'a>(schema: &TableSchema, tables: impl IntoIterator<Item = &'a TableSchema> + Clone) -> Option<Link> {
    outbound(schema).find(|link| {
        !link.target().eq_ignore_ascii_case(&schema.name)
            && !tables.clone().into_iter().any(|t| t.name.eq_ignore_ascii_case(link.target()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_fields;
    use serde_json::json;

    fn table(id: i64, name: &str, fields: serde_json::Value) -> TableSchema {
        TableSchema::new(id, name, 1, parse_fields(&fields).unwrap())
    }

    #[test]
    fn finds_links_both_ways() {
        let zoos = table(1, "zoos", json!({"name": "string"}));
        let animals = table(
            2,
            "animals",
            json!({"zoo": {"type": "relation", "target": "Zoos"}, "friends": {"type": "relation", "target": "animals", "multiple": true}}),
        );
        let inbound_zoos = inbound([&zoos, &animals], "zoos");
        assert_eq!(inbound_zoos.len(), 1);
        assert_eq!(inbound_zoos[0].reverse_name(), "animals_via_zoo");
        assert_eq!(inbound_zoos[0].junction(), None);
        let self_links = inbound([&zoos, &animals], "animals");
        assert_eq!(self_links[0].junction().as_deref(), Some("_tessera_links_2_friends"));
        assert!(dangling(&animals, [&zoos]).is_none());
        assert_eq!(dangling(&animals, [&animals]).unwrap().field, "zoo");
    }
}
