//! How the query language finds the fields it names: a table-specific resolver maps a
//! name written by a user to the SQL column and the field's type. Unknown names are a
//! user error, never SQL.

use tessera_schema::{FieldDef, FieldType, TableSchema};

/// A field as the query language sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedField {
    /// The column to write (unquoted; the writer quotes it).
    pub column: String,
    pub field_type: FieldType,
    /// For a field of a related table (`zoo.name`): the relations followed to reach it,
    /// from the row's table on. Empty for the table's own fields.
    pub path: Vec<Hop>,
}

/// One relation followed by a field path: the relation column on the table reached so
/// far, and the table it points at.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub column: String,
    pub table: String,
}

impl ResolvedField {
    /// A field of the table itself.
    pub fn own(column: impl Into<String>, field_type: FieldType) -> ResolvedField {
        ResolvedField { column: column.into(), field_type, path: Vec::new() }
    }

    /// Whether the field lives in a related table.
    pub fn is_related(&self) -> bool {
        !self.path.is_empty()
    }
}

/// Maps user-written field names to columns.
pub trait FieldResolver {
    fn resolve(&self, name: &str) -> Option<ResolvedField>;
}

/// Resolves the fields of one table: its user fields plus `id`, `created_at`,
/// `updated_at`. Names match case-insensitively, as in SQL. Hidden fields (a password
/// hash) are unknown here, so no filter, sort or field list can reach them.
impl FieldResolver for TableSchema {
    fn resolve(&self, name: &str) -> Option<ResolvedField> {
        let system = match name.to_ascii_lowercase().as_str() {
            "id" => Some(("id", FieldType::Integer)),
            "created_at" => Some(("created_at", FieldType::Datetime)),
            "updated_at" => Some(("updated_at", FieldType::Datetime)),
            _ => None,
        };
        if let Some((column, field_type)) = system {
            return Some(ResolvedField::own(column, field_type));
        }
        self.field(name)
            .filter(|(_, def)| !def.hidden && def.is_column())
            .map(|(column, def): (&str, &FieldDef)| ResolvedField::own(column, def.field_type))
    }
}
