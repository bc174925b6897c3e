//! `?fields=name,age,zoo.name`: which fields a read returns, of its own rows and of the
//! related rows it embeds with `expand`.
//!
//! An entry is a field of the table (`name`), or a path through the expansions to a field
//! of the related rows (`zoo.name`, `zoo.owner.email`), or `*` (`zoo.*`) for all fields of
//! that level. A level that no entry names, or that `*` names, returns all its fields, so
//! `expand=zoo&fields=zoo.name` is the whole animal with only its zoo's name. A path must
//! be expanded: `fields` picks from what `expand` embeds, it does not embed anything.

use crate::expand::{clip, ExpandNode};
use crate::CoreError;
use tessera_query::FieldResolver;
use tessera_schema::{FieldType, TableSchema};

/// The resolved columns of one level of a `fields` selection.
pub type Columns = Vec<(String, FieldType)>;

/// The fields named for one level, while the entries are read.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    all: bool,
    columns: Columns,
}

impl Selection {
    /// Adds `name` (a field of `schema`, or `*`); `entry` is the whole entry, for errors.
    fn add(&mut self, schema: &TableSchema, name: &str, entry: &str) -> Result<(), CoreError> {
        if name == "*" {
            self.all = true;
            return Ok(());
        }
        let field = schema.resolve(name).ok_or_else(|| {
            invalid(format!("'fields' names unknown field '{}' (table '{}')", clip(entry), schema.name))
        })?;
        if !self.columns.iter().any(|(column, _)| column == &field.column) {
            self.columns.push((field.column, field.field_type));
        }
        Ok(())
    }

    /// The columns to return: `None` for all of them.
    pub(crate) fn columns(&self) -> Option<&[(String, FieldType)]> {
        (!self.all && !self.columns.is_empty()).then_some(self.columns.as_slice())
    }
}

fn invalid(message: String) -> CoreError {
    CoreError::bad_request("fields", message)
}

/// Reads a `fields` parameter: returns the columns of the table's own rows and records
/// each expansion's on its node (`nodes`, as parsed from `expand`).
pub fn parse_fields(text: &str, schema: &TableSchema, nodes: &mut [ExpandNode]) -> Result<Option<Columns>, CoreError> {
    let mut own = Selection::default();
    for entry in text.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err(invalid("'fields' has an empty entry".to_string()));
        }
        match entry.rsplit_once('.') {
            None => own.add(schema, entry, entry)?,
            Some((path, name)) => {
                let node = ExpandNode::find_mut(nodes, path).ok_or_else(|| {
                    invalid(format!(
                        "'fields' names '{}', but '{}' is not expanded: add it to 'expand'",
                        clip(entry),
                        clip(path)
                    ))
                })?;
                let (table, selection) = node.selection_mut();
                selection.add(&table.schema, name, entry)?;
            }
        }
    }
    Ok(own.columns().map(<[_]>::to_vec))
}
