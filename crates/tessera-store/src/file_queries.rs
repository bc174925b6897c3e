//! SQL for file fields: the stored names a column holds, read before a migration drops
//! it so its objects can be deleted once the migration commits.

use crate::{Store, StoreError};
use tessera_query::{quote_ident, Dialect};
use tessera_schema::TableSchema;

/// `SELECT <column> FROM <table> WHERE <column> IS NOT NULL`, as text.
pub fn file_values(dialect: Dialect, schema: &TableSchema, field: &str) -> String {
    let column = quote_ident(field);
    let cast = if dialect == Dialect::Postgres { "::text" } else { "" };
    format!("SELECT {column}{cast} FROM {} WHERE {column} IS NOT NULL", quote_ident(&schema.name))
}

impl Store {
    /// Every non-null value of a file field: a stored name, or a JSON list of them.
    pub async fn file_values(&self, schema: &TableSchema, field: &str) -> Result<Vec<String>, StoreError> {
        let sql = file_values(self.dialect(), schema, field);
        match self {
            Store::Sqlite(store) => store.query_strings(sql, Vec::new()).await,
            Store::Postgres(store) => store.query_strings(sql, Vec::new()).await,
        }
    }
}
