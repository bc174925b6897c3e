//! How tables point at each other: the relation fields of a catalog, seen from either end,
//! and the names tessera gives the tables and keys behind them.
//!
//! A single relation is a foreign-key column on the referencing table. A relation with
//! `multiple` is a junction table (`source_id`, `target_id`, `position`) that tessera
//! creates, renames and drops with the field; its name derives from the table id (which
//! survives renames) and the field name.

use crate::field::{FieldDef, FieldType, OnDelete};
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

/// The single relations whose rows go with the row they point at (`on_delete: cascade`):
/// what deleting a `target` row deletes too. A `multiple` relation only loses its
/// junction rows.
pub fn cascading<'a>(tables: impl IntoIterator<Item = &'a TableSchema>, target: &str) -> Vec<Link> {
    inbound(tables, target)
        .into_iter()
        .filter(|link| !link.def.multiple && link.def.on_delete() == OnDelete::Cascade)
        .collect()
}

/// Whether deleting a row of `table` deletes, through cascading relations (followed as
/// far as they go, cycles included), a row of a table for which `holds` is true. The
/// deleted row itself does not count; other rows of `table` reached through a relation
/// to itself do.
pub fn cascade_reaches(tables: &[&TableSchema], table: &str, holds: impl Fn(&TableSchema) -> bool) -> bool {
    let mut seen: Vec<String> = Vec::new();
    let mut pending = vec![table.to_ascii_lowercase()];
    while let Some(target) = pending.pop() {
        for link in cascading(tables.iter().copied(), &target) {
            let Some(child) = tables.iter().find(|t| t.name.eq_ignore_ascii_case(&link.table)) else { continue };
            if holds(child) {
                return true;
            }
            let name = child.name.to_ascii_lowercase();
            if !seen.contains(&name) {
                seen.push(name.clone());
                pending.push(name);
            }
        }
    }
    false
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

    #[test]
    fn follows_cascades_through_chains_and_cycles() {
        let zoos = table(1, "zoos", json!({"name": "string"}));
        let animals = table(
            2,
            "animals",
            json!({
                "zoo": {"type": "relation", "target": "zoos", "on_delete": "cascade"},
                "keeper": {"type": "relation", "target": "keepers", "on_delete": "set_null"},
                "friends": {"type": "relation", "target": "zoos", "multiple": true}
            }),
        );
        let visits = table(
            3,
            "visits",
            json!({"animal": {"type": "relation", "target": "animals", "on_delete": "cascade"}, "photo": "file"}),
        );
        let keepers =
            table(4, "keepers", json!({"mentor": {"type": "relation", "target": "keepers", "on_delete": "cascade"}}));
        let tables = [&zoos, &animals, &visits, &keepers];
        assert_eq!(cascading(tables, "zoos").iter().map(|l| l.field.as_str()).collect::<Vec<_>>(), ["zoo"]);
        let photos = |t: &TableSchema| t.fields.contains_key("photo");
        assert!(cascade_reaches(&tables, "zoos", photos), "zoos -> animals -> visits");
        assert!(cascade_reaches(&tables, "Animals", photos));
        assert!(!cascade_reaches(&tables, "visits", photos), "a row's own table does not count");
        // set_null and multiple relations delete nothing; a cycle ends.
        assert!(!cascade_reaches(&tables, "keepers", photos));
        assert!(cascade_reaches(&tables, "keepers", |t| t.name == "keepers"), "other rows through itself");
    }
}
