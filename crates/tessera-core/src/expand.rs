//! `?expand=zoo,zoo.owner,animals_via_zoo`: which related rows to embed in each row.
//!
//! A path names relation fields of the table (`zoo`), then of the related table
//! (`zoo.owner`), up to [`MAX_EXPAND_DEPTH`] levels; a reverse relation is written
//! `<table>_via_<field>` (the animals whose `zoo` is this row). Array expansions (reverse
//! relations and relations with `multiple`) return at most [`DEFAULT_EXPAND_LIMIT`] rows,
//! or `name:N` rows. Each embedded row obeys its table's rules for the caller: `view` for
//! a single related row, `list` for arrays; an expansion the caller may not read at all
//! is null or empty rather than an error, so one hidden relation never hides the page.

use crate::access::{authorize, RequestMacros};
use crate::auth::Caller;
use crate::catalog::{Catalog, Table};
use crate::fields::Selection;
use crate::CoreError;
use std::sync::Arc;
use tessera_schema::relations::{inbound, junction_name};
use tessera_schema::{Action, FieldType};
use tessera_store::{AccessFilter, Expansion, Join};

/// Deepest expansion path (`a.b.c`).
pub const MAX_EXPAND_DEPTH: usize = 3;
/// Most expansions in one request, nested ones included.
pub const MAX_EXPANSIONS: usize = 10;
/// Rows of an array expansion unless the path says `name:N`.
pub const DEFAULT_EXPAND_LIMIT: u32 = 100;
/// Largest `N` of `name:N`.
pub const MAX_EXPAND_LIMIT: u32 = 1000;

/// One parsed expansion, holding the related table.
pub struct ExpandNode {
    name: String,
    table: Arc<Table>,
    join: Join,
    limit: u32,
    /// The related rows' fields picked by `?fields=` (all unless it names this path).
    fields: Selection,
    children: Vec<ExpandNode>,
}

impl ExpandNode {
    /// The node of an expansion path (`zoo.owner`, names as in `expand`, any case).
    pub(crate) fn find_mut<'n>(nodes: &'n mut [ExpandNode], path: &str) -> Option<&'n mut ExpandNode> {
        let (first, rest) = match path.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (path, None),
        };
        let node = nodes.iter_mut().find(|node| node.name.eq_ignore_ascii_case(first))?;
        match rest {
            Some(rest) => ExpandNode::find_mut(&mut node.children, rest),
            None => Some(node),
        }
    }

    /// The related table and the selection of its fields, to add to.
    pub(crate) fn selection_mut(&mut self) -> (&Table, &mut Selection) {
        (&self.table, &mut self.fields)
    }
}

fn invalid(message: String) -> CoreError {
    CoreError::bad_request("expand", message)
}

/// Parses an `expand` parameter against the catalog.
pub fn parse_expand(catalog: &Catalog, root: &Table, text: &str) -> Result<Vec<ExpandNode>, CoreError> {
    let mut roots: Vec<ExpandNode> = Vec::new();
    let mut count = 0;
    for path in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let segments: Vec<&str> = path.split('.').collect();
        if segments.len() > MAX_EXPAND_DEPTH {
            return Err(invalid(format!("'expand' path '{}' is deeper than {MAX_EXPAND_DEPTH} levels", clip(path))));
        }
        let mut level = &mut roots;
        // The table the segment is read against: the root, then each related table (an
        // `Arc` clone: a request does not copy schemas).
        let mut related: Option<Arc<Table>> = None;
        for segment in segments {
            let table_schema = related.as_ref().map_or(&root.schema, |table| &table.schema);
            let (name, limit) = match segment.split_once(':') {
                Some((name, limit)) => (name, Some(parse_limit(limit)?)),
                None => (segment, None),
            };
            let index = match level.iter().position(|node| node.name.eq_ignore_ascii_case(name)) {
                Some(index) => index,
                None => {
                    count += 1;
                    if count > MAX_EXPANSIONS {
                        return Err(invalid(format!("'expand' may name at most {MAX_EXPANSIONS} relations")));
                    }
                    level.push(resolve(catalog, table_schema, name)?);
                    level.len() - 1
                }
            };
            let node = &mut level[index];
            if let Some(limit) = limit {
                node.limit = limit;
            }
            related = Some(node.table.clone());
            level = &mut node.children;
        }
    }
    Ok(roots)
}

fn parse_limit(text: &str) -> Result<u32, CoreError> {
    match text.parse::<u32>() {
        Ok(limit) if (1..=MAX_EXPAND_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(invalid(format!("an 'expand' limit must be between 1 and {MAX_EXPAND_LIMIT}, got '{}'", clip(text)))),
    }
}

/// The first 64 characters of a user's text, to quote it in an error.
pub(crate) fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// One segment: a relation field of `table`, or a reverse relation `<table>_via_<field>`.
fn resolve(catalog: &Catalog, table: &tessera_schema::TableSchema, name: &str) -> Result<ExpandNode, CoreError> {
    let node = |name: String, related: Arc<Table>, join: Join| ExpandNode {
        name,
        table: related,
        join,
        limit: DEFAULT_EXPAND_LIMIT,
        fields: Selection::default(),
        children: Vec::new(),
    };
    if let Some((field, def)) =
        table.field(name).filter(|(_, def)| def.field_type == FieldType::Relation && !def.hidden)
    {
        let target = def.target.as_deref().unwrap_or_default();
        let related = catalog
            .find(target)
            .ok_or_else(|| invalid(format!("relation '{field}' points at table '{target}', which does not exist")))?;
        let join = if def.is_column() {
            Join::Forward { column: field.to_string() }
        } else {
            Join::ForwardMany { junction: junction_name(table.id, field) }
        };
        return Ok(node(field.to_string(), related, join));
    }
    let schemas: Vec<&tessera_schema::TableSchema> = catalog.tables().iter().map(|t| &t.schema).collect();
    if let Some(link) = inbound(schemas, &table.name).into_iter().find(|l| l.reverse_name().eq_ignore_ascii_case(name))
    {
        let related = catalog.find(&link.table).ok_or_else(|| invalid(format!("table '{}' is gone", link.table)))?;
        let join = match link.junction() {
            Some(junction) => Join::ReverseMany { junction },
            None => Join::Reverse { column: link.field.clone() },
        };
        return Ok(node(link.reverse_name(), related, join));
    }
    Err(invalid(format!(
        "'expand' names '{}', which is neither a relation field of table '{}' nor a reverse relation (<table>_via_<field>) pointing at it",
        clip(name),
        table.name
    )))
}

/// The store's expansions for one caller: each with its table's rule for that caller.
pub fn expansions<'a>(nodes: &'a [ExpandNode], caller: &Caller, macros: &'a RequestMacros<'a>) -> Vec<Expansion<'a>> {
    nodes
        .iter()
        .map(|node| {
            let action = if matches!(node.join, Join::Forward { .. }) { Action::View } else { Action::List };
            let (access, denied) = match authorize(&node.table, action, caller, None) {
                Ok(None) => (None, false),
                Ok(Some(expr)) => (Some(AccessFilter { expr, macros }), false),
                Err(_) => (None, true),
            };
            Expansion {
                name: node.name.clone(),
                schema: &node.table.schema,
                join: node.join.clone(),
                access,
                denied,
                limit: node.limit,
                fields: node.fields.columns(),
                children: expansions(&node.children, caller, macros),
            }
        })
        .collect()
}
