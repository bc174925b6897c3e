//! Bulk writes on Postgres as one statement per chunk with one array parameter per
//! column: `INSERT INTO t (a, b) SELECT u.a, u.b::numeric FROM unnest($1::text[],
//! $2::text[]) AS u(a, b)`. The statement text depends only on the columns, so it is
//! prepared once, and Postgres parses a handful of parameters instead of one per value
//! (a multi-row VALUES list of 1000 rows carries thousands).

use tessera_query::quote_ident;
use tessera_schema::{FieldType, Value};
use tokio_postgres::types::ToSql;

/// The values of one column, as the array type its field type travels in.
pub(crate) enum ColumnArray {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    /// Text, and types sent as canonical text and cast by the statement.
    Text(Vec<Option<String>>),
}

impl ColumnArray {
    pub(crate) fn new(field_type: FieldType, capacity: usize) -> ColumnArray {
        match field_type {
            FieldType::Integer | FieldType::Relation => ColumnArray::Int(Vec::with_capacity(capacity)),
            FieldType::Float => ColumnArray::Float(Vec::with_capacity(capacity)),
            FieldType::Boolean => ColumnArray::Bool(Vec::with_capacity(capacity)),
            _ => ColumnArray::Text(Vec::with_capacity(capacity)),
        }
    }

    /// Appends a validated value of the column's field type.
    pub(crate) fn push(&mut self, value: Value) {
        match (self, value) {
            (ColumnArray::Int(values), Value::Integer(i)) => values.push(Some(i)),
            (ColumnArray::Float(values), Value::Float(f)) => values.push(Some(f)),
            (ColumnArray::Float(values), Value::Integer(i)) => values.push(Some(i as f64)),
            (ColumnArray::Bool(values), Value::Boolean(b)) => values.push(Some(b)),
            (ColumnArray::Text(values), Value::Text(text)) => values.push(Some(text)),
            (ColumnArray::Text(values), Value::Json(json)) => values.push(Some(json.to_string())),
            (ColumnArray::Int(values), _) => values.push(None),
            (ColumnArray::Float(values), _) => values.push(None),
            (ColumnArray::Bool(values), _) => values.push(None),
            (ColumnArray::Text(values), _) => values.push(None),
        }
    }

    pub(crate) fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            ColumnArray::Int(values) => values,
            ColumnArray::Float(values) => values,
            ColumnArray::Bool(values) => values,
            ColumnArray::Text(values) => values,
        }
    }
}

fn array_type(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Integer | FieldType::Relation => "int8[]",
        FieldType::Float => "float8[]",
        FieldType::Boolean => "bool[]",
        _ => "text[]",
    }
}

fn element_cast(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Decimal => "::numeric",
        FieldType::Date => "::date",
        FieldType::Datetime => "::timestamptz",
        FieldType::Uuid => "::uuid",
        FieldType::Json => "::jsonb",
        _ => "",
    }
}

/// `INSERT INTO table (columns) SELECT ... FROM unnest($1::t[], ...) AS u(...) RETURNING ...`.
pub(crate) fn unnest_insert_sql(table: &str, columns: &[(&str, FieldType)], returning: &str) -> String {
    let names: Vec<String> = columns.iter().map(|(name, _)| quote_ident(name)).collect();
    let aliases: Vec<String> = (1..=columns.len()).map(|i| format!("c{i}")).collect();
    let selected: Vec<String> = columns
        .iter()
        .zip(&aliases)
        .map(|((_, field_type), alias)| format!("u.{alias}{}", element_cast(*field_type)))
        .collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, field_type))| format!("${}::{}", i + 1, array_type(*field_type)))
        .collect();
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM unnest({}) AS u({}) RETURNING {returning}",
        quote_ident(table),
        names.join(", "),
        selected.join(", "),
        arrays.join(", "),
        aliases.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_array_per_column() {
        let sql = unnest_insert_sql("t", &[("a", FieldType::Integer), ("b", FieldType::Decimal)], "\"id\"");
        assert_eq!(
            sql,
            "INSERT INTO \"t\" (\"a\", \"b\") SELECT u.c1, u.c2::numeric FROM unnest($1::int8[], $2::text[]) AS u(c1, c2) RETURNING \"id\""
        );
    }
}
