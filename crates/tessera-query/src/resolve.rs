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
            return Some(ResolvedField { column: column.to_string(), field_type });
        }
        self.field(name).filter(|(_, def)| !def.hidden).map(|(column, def): (&str, &FieldDef)| ResolvedField {
            column: column.to_string(),
            field_type: def.field_type,
        })
    }
}
