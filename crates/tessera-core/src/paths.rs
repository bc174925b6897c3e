//! Field names that reach into related tables: `filter=zoo.name = "Berlin"`,
//! `sort=zoo.name`, up to [`MAX_PATH_HOPS`] relations deep.
//!
//! A path may only pass through tables whose every row the caller may view (a public or
//! `authenticated` view rule they meet, or an admin): a filter on a related field would
//! otherwise reveal values of rows the caller cannot read. Other paths are unknown
//! fields, as a hidden field is.

use crate::access::authorize;
use crate::auth::Caller;
use crate::catalog::{Catalog, Table};
use std::sync::Arc;
use tessera_query::{FieldResolver, Hop, ResolvedField};
use tessera_schema::{Action, FieldType};

/// Most relations one field path follows (`a.b.c.field` is three).
pub const MAX_PATH_HOPS: usize = 3;

/// Resolves a table's own fields and paths into related tables, for one caller.
pub struct PathResolver<'a> {
    pub catalog: &'a Catalog,
    pub root: &'a Table,
    pub caller: &'a Caller,
}

impl FieldResolver for PathResolver<'_> {
    fn resolve(&self, name: &str) -> Option<ResolvedField> {
        let Some((links, last)) = name.rsplit_once('.') else {
            return self.root.schema.resolve(name);
        };
        let mut table: Option<Arc<Table>> = None;
        let mut path = Vec::new();
        for segment in links.split('.') {
            if path.len() == MAX_PATH_HOPS {
                return None;
            }
            let schema = table.as_ref().map_or(&self.root.schema, |t| &t.schema);
            let (column, def) = schema.field(segment)?;
            if def.field_type != FieldType::Relation || !def.is_column() || def.hidden {
                return None;
            }
            let target = self.catalog.find(def.target.as_deref()?)?;
            if !matches!(authorize(&target, Action::View, self.caller, None), Ok(None)) {
                return None;
            }
            path.push(Hop { column: column.to_string(), table: target.schema.name.clone() });
            table = Some(target);
        }
        let mut field = table?.schema.resolve(last)?;
        field.path = path;
        Some(field)
    }
}
