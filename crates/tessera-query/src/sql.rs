//! SQL text with bound parameters, for SQLite and Postgres.
//!
//! Every user-supplied value goes through [`SqlWriter::push_param`]; every identifier
//! through [`SqlWriter::push_ident`] (double-quoted, quotes doubled). Identifiers are also
//! validated upstream, so quoting is a second line of defence, not the only one.
//!
//! Postgres placeholders carry an explicit cast (`$1::int8`, `$2::text::timestamptz`) so
//! the parameter types are fixed by the SQL text, not inferred from context; that lets the
//! store bind every value as one of four Rust types (i64, f64, bool, String).

use std::fmt::Write;
use tessera_schema::{FieldType, Value};

/// The SQL dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Double-quotes an identifier, doubling embedded quotes.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_quoted_ident(&mut out, name);
    out
}

/// Appends `name` quoted as [`quote_ident`] quotes it: for SQL written on every request
/// (a row's JSON expression names each column), without a String per identifier.
pub fn push_quoted_ident(out: &mut String, name: &str) {
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// Builds one SQL statement and its parameters.
#[derive(Debug, Clone)]
pub struct SqlWriter {
    dialect: Dialect,
    sql: String,
    params: Vec<Value>,
}

impl SqlWriter {
    pub fn new(dialect: Dialect) -> SqlWriter {
        SqlWriter { dialect, sql: String::with_capacity(128), params: Vec::new() }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Appends raw SQL text. Never pass user input here.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a quoted identifier.
    pub fn push_ident(&mut self, name: &str) -> &mut Self {
        self.sql.push_str(&quote_ident(name));
        self
    }

    /// Appends a resolved field in a form that compares by value (see
    /// [`SqlWriter::push_comparable_column`]); a field of a related table is a scalar
    /// subquery following each relation by id (`(SELECT r1.name FROM zoos AS r1 WHERE
    /// r1.id = animals.zoo)`), null when a link is null. `qualifier` names the row's
    /// table or alias; it is required for related fields (an unqualified column inside the
    /// subquery would resolve to the related table).
    pub fn push_field(&mut self, qualifier: Option<&str>, field: &crate::resolve::ResolvedField) -> &mut Self {
        if field.path.is_empty() {
            return self.push_comparable_column(qualifier, &field.column, field.field_type);
        }
        let aliases: Vec<String> = (1..=field.path.len()).map(|n| format!("r{n}")).collect();
        for _ in &field.path {
            self.push("(SELECT ");
        }
        self.push_qualified(aliases.last().expect("a path has hops"), &field.column);
        for (index, hop) in field.path.iter().enumerate().rev() {
            self.push(" FROM ").push_ident(&hop.table).push(" AS ").push_ident(&aliases[index]);
            self.push(" WHERE ").push_qualified(&aliases[index], "id").push(" = ");
            match index.checked_sub(1) {
                Some(previous) => self.push_qualified(&aliases[previous], &hop.column),
                None => match qualifier {
                    Some(q) => self.push_qualified(q, &hop.column),
                    None => self.push_ident(&hop.column),
                },
            };
            self.push(")");
        }
        if self.dialect == Dialect::Sqlite && field.field_type == FieldType::Decimal {
            self.push(" COLLATE tessera_decimal");
        }
        self
    }

    /// Appends `"qualifier"."name"`.
    pub fn push_qualified(&mut self, qualifier: &str, name: &str) -> &mut Self {
        self.push_ident(qualifier).push(".").push_ident(name)
    }

    /// Appends a column in a form that compares by value: SQLite keeps decimals as
    /// canonical text, compared exactly by the `tessera_decimal` collation (registered by
    /// the store on every connection).
    pub fn push_comparable_column(
        &mut self,
        qualifier: Option<&str>,
        column: &str,
        field_type: FieldType,
    ) -> &mut Self {
        match qualifier {
            Some(q) => self.push_qualified(q, column),
            None => self.push_ident(column),
        };
        if self.dialect == Dialect::Sqlite && field_type == FieldType::Decimal {
            self.push(" COLLATE tessera_decimal");
        }
        self
    }

    /// Appends a placeholder for `value`, a value of (or compared with) a field of
    /// `field_type`, and records the value.
    pub fn push_param(&mut self, value: Value, field_type: FieldType) -> &mut Self {
        self.params.push(value);
        match self.dialect {
            Dialect::Sqlite => self.sql.push('?'),
            Dialect::Postgres => {
                let n = self.params.len();
                let cast = postgres_param_cast(self.params.last().expect("just pushed"), field_type);
                self.sql.push_str(&format!("${n}{cast}"));
            }
        }
        self
    }

    /// ` LIMIT <limit>` written as a literal, then ` OFFSET <param>` when `offset` is not 0
    /// (SQLite needs a LIMIT before an OFFSET: `None` with an offset writes `LIMIT -1`).
    ///
    /// Why the limit is a literal: Postgres reuses a prepared statement's generic plan
    /// only when its estimated cost is no worse than a custom plan's, and it estimates a
    /// LIMIT it cannot see as 10% of the rows, so with `LIMIT $n` every execution was
    /// planned again. Measured at the database (pgbench, zoo page of 20 animals): +62%
    /// transactions/s for the plain list, +44-73% for the list with each animal's zoo
    /// (BENCHMARKS.md, session 9). The limit is a number tessera validated, never request
    /// text, and page sizes are few, so the statements stay few; an offset stays a
    /// parameter because offsets are many (one statement per page would be prepared).
    pub fn push_page(&mut self, limit: Option<u32>, offset: u64) -> &mut Self {
        match limit {
            // Writing into a String cannot fail.
            Some(limit) => drop(write!(self.sql, " LIMIT {limit}")),
            None if offset > 0 && self.dialect == Dialect::Sqlite => self.sql.push_str(" LIMIT -1"),
            None => {}
        }
        if offset > 0 {
            self.sql.push_str(" OFFSET ");
            self.push_param(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)), FieldType::Integer);
        }
        self
    }

    /// The statement text and its parameters, in placeholder order.
    pub fn finish(self) -> (String, Vec<Value>) {
        (self.sql, self.params)
    }

    /// A placeholder for the `n`-th parameter (1-based) holding a value of `field_type`,
    /// for statements prepared once and bound many times.
    pub fn placeholder(dialect: Dialect, n: usize, field_type: FieldType) -> String {
        match dialect {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("${n}{}", postgres_cast(field_type)),
        }
    }

    /// An empty writer for a fragment that will be [`SqlWriter::append`]ed to this one:
    /// its placeholders continue this writer's numbering.
    pub fn fragment(&self) -> SqlWriter {
        SqlWriter { dialect: self.dialect, sql: String::with_capacity(128), params: self.params.clone() }
    }

    /// Appends a fragment made by [`SqlWriter::fragment`] (when nothing was bound here
    /// since), wrapped in text that `wrap` puts around it; the wrapping text must hold no
    /// placeholders before the fragment's.
    pub fn append_wrapped(&mut self, fragment: SqlWriter, wrap: impl FnOnce(&str) -> String) -> &mut Self {
        debug_assert!(fragment.params.len() >= self.params.len());
        self.sql.push_str(&wrap(&fragment.sql));
        self.params = fragment.params;
        self
    }

    /// The text written so far.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// The cast that fixes a Postgres parameter's type: the bound Rust type first, then the
/// column's type when the value travels as text.
fn postgres_param_cast(value: &Value, field_type: FieldType) -> &'static str {
    match value {
        Value::Null => postgres_cast(field_type),
        Value::Integer(_) => "::int8",
        Value::Float(_) => "::float8",
        Value::Boolean(_) => "::bool",
        Value::Json(_) => "::text::jsonb",
        Value::Text(_) => match field_type {
            FieldType::Decimal => "::text::numeric",
            FieldType::Date => "::text::date",
            FieldType::Datetime => "::text::timestamptz",
            FieldType::Uuid => "::text::uuid",
            FieldType::Json => "::text::jsonb",
            _ => "::text",
        },
    }
}

/// The cast that fixes a Postgres parameter holding a value of `field_type` (what
/// [`SqlWriter::push_param`] writes for a value of the field's own kind).
pub fn postgres_cast(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Integer | FieldType::Relation => "::int8",
        FieldType::Float => "::float8",
        FieldType::Boolean => "::bool",
        FieldType::Decimal => "::text::numeric",
        FieldType::Date => "::text::date",
        FieldType::Datetime => "::text::timestamptz",
        FieldType::Uuid => "::text::uuid",
        FieldType::Json => "::text::jsonb",
        _ => "::text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("age"), "\"age\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn placeholders_per_dialect() {
        let mut w = SqlWriter::new(Dialect::Postgres);
        w.push_ident("age").push(" > ").push_param(Value::Integer(5), FieldType::Integer);
        w.push(" AND ").push_ident("at").push(" < ").push_param(Value::Text("x".into()), FieldType::Datetime);
        assert_eq!(w.sql(), "\"age\" > $1::int8 AND \"at\" < $2::text::timestamptz");
        let mut w = SqlWriter::new(Dialect::Sqlite);
        w.push_ident("age").push(" = ").push_param(Value::Integer(5), FieldType::Integer);
        let (sql, params) = w.finish();
        assert_eq!(sql, "\"age\" = ?");
        assert_eq!(params, vec![Value::Integer(5)]);
    }
}
