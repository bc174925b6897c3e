//! SQL for file fields: the stored names rows hold, read before a delete or a migration
//! removes them so their objects can be deleted once the change commits.

use crate::row_queries::{output_type, push_in_ids, push_lock, row_json, Column};
use crate::{Store, StoreError};
use tessera_query::{quote_ident, Dialect, SqlWriter};
use tessera_schema::{FieldType, TableSchema, Value};

/// `SELECT <column> FROM <table> WHERE <column> IS NOT NULL`, as text.
pub fn file_values(dialect: Dialect, schema: &TableSchema, field: &str) -> String {
    let column = quote_ident(field);
    let cast = if dialect == Dialect::Postgres { "::text" } else { "" };
    format!("SELECT {column}{cast} FROM {} WHERE {column} IS NOT NULL", quote_ident(&schema.name))
}

/// `SELECT {"id": .., <file field>: ..} FROM <table> WHERE <column> IN (<ids>) FOR UPDATE`:
/// the rows a delete of `ids` (by `id`, or by a relation `column` that cascades) removes,
/// with every file field, hidden ones included.
pub fn file_rows(dialect: Dialect, schema: &TableSchema, column: &str, ids: &[i64]) -> (String, Vec<Value>) {
    let mut columns = vec![Column::plain("id", FieldType::Integer)];
    columns.extend(
        schema
            .fields
            .iter()
            .filter(|(_, def)| def.field_type == FieldType::File)
            .map(|(name, def)| Column::plain(name, output_type(def))),
    );
    let mut w = SqlWriter::new(dialect);
    w.push("SELECT ").push(&row_json(dialect, &columns, None)).push(" FROM ").push_ident(&schema.name);
    w.push(" WHERE ").push_ident(column);
    push_in_ids(&mut w, ids);
    push_lock(&mut w);
    w.finish()
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
