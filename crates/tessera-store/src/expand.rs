//! Related rows embedded in a row's JSON (`?expand=`), read in the same statement as the
//! rows themselves: a single related row of a list page is a `LEFT JOIN` whose columns
//! tessera writes as JSON ([`crate::typed_rows`]); arrays, nested expansions and the
//! expansions of a row read by id are correlated subqueries whose value is JSON text
//! built by the database. So a page of rows with any number of expansions, nested or not,
//! is ONE statement and one round trip.
//!
//! Each expansion carries the access rule of its table for the caller (compiled into its
//! subquery, qualified by the subquery's alias), so an embedded row is one the caller
//! could read by itself.

use crate::row_queries::{row_object, selected_columns, AccessFilter};
use tessera_query::filter::{compile, CompileContext, FilterError};
use tessera_query::{quote_ident, Dialect, SqlWriter};
use tessera_schema::{FieldType, TableSchema};

/// How the rows of an expansion relate to the row they are embedded in.
#[derive(Debug, Clone, PartialEq)]
pub enum Join {
    /// The row's relation column holds the related row's id: one row or null.
    Forward { column: String },
    /// The row's `multiple` relation lists the related ids in a junction: an array.
    ForwardMany { junction: String },
    /// The related table's relation column holds this row's id: an array.
    Reverse { column: String },
    /// The related table's `multiple` relation lists this row's id: an array.
    ReverseMany { junction: String },
}

impl Join {
    fn is_many(&self) -> bool {
        !matches!(self, Join::Forward { .. })
    }
}

/// One expansion: the key it appears under in `expand`, the related table and how it
/// joins, the caller's access to it, and nested expansions of the related rows.
pub struct Expansion<'a> {
    pub name: String,
    pub schema: &'a TableSchema,
    pub join: Join,
    /// Rows of the related table the caller may see: all (`None`), or those a rule matches.
    pub access: Option<AccessFilter<'a>>,
    /// The caller may see none of them: the expansion is null or empty.
    pub denied: bool,
    /// Most rows of an array expansion.
    pub limit: u32,
    /// The fields of the related rows to return (`?fields=zoo.name`); `None` for all.
    pub fields: Option<&'a [(String, FieldType)]>,
    pub children: Vec<Expansion<'a>>,
}

/// A single related row joined to a page of rows instead of looked up per row (on
/// Postgres a correlated subquery over a small table becomes a sequential scan per row;
/// see [`push_joins`] for how the join is written).
pub(crate) struct PendingJoin<'e, 'a> {
    alias: String,
    expansion: &'e Expansion<'a>,
}

impl<'e, 'a> PendingJoin<'e, 'a> {
    pub(crate) fn new(alias: String, expansion: &'e Expansion<'a>) -> Self {
        PendingJoin { alias, expansion }
    }
}

/// ` LEFT JOIN <table> AS <alias> ON <alias>.id = <outer>.<column> [AND <rule>]` for each
/// pending join; on Postgres `= ANY(ARRAY[<outer>.<column>])`.
///
/// `= ANY(ARRAY[..])` and not `=` on Postgres: it can neither hash nor merge on it, so it joins
/// with one primary-key probe per page row (a nested loop), which keeps the page's order.
/// With `=` it hashed the page, scanned the whole related table and sorted the page again,
/// and it weighed the hash and merge joins whenever it planned (then every request: the
/// LIMIT was a parameter, see `SqlWriter::push_page`). On the zoo benchmark's expanded page (20
/// animals, 100 zoos) that is 3 to 7 points more of the plain list's transactions/s at
/// the database (`bench/expand_sql.sh`; figures in BENCHMARKS.md, issue 4).
pub(crate) fn push_joins(w: &mut SqlWriter, outer: &str, joins: &[PendingJoin<'_, '_>]) -> Result<(), FilterError> {
    for join in joins {
        let Join::Forward { column } = &join.expansion.join else { continue };
        let (a, o) = (quote_ident(&join.alias), quote_ident(outer));
        let (table, column) = (quote_ident(&join.expansion.schema.name), quote_ident(column));
        w.push(&match w.dialect() {
            Dialect::Sqlite => format!(" LEFT JOIN {table} AS {a} ON {a}.\"id\" = {o}.{column}"),
            Dialect::Postgres => format!(" LEFT JOIN {table} AS {a} ON {a}.\"id\" = ANY(ARRAY[{o}.{column}])"),
        });
        push_access(w, join.expansion, &join.alias)?;
    }
    Ok(())
}

/// ` AND <rule>` of an expansion's table for the caller (` AND 1 = 0` when denied).
fn push_access(w: &mut SqlWriter, expansion: &Expansion<'_>, alias: &str) -> Result<(), FilterError> {
    if expansion.denied {
        w.push(" AND 1 = 0");
    } else if let Some(access) = &expansion.access {
        w.push(" AND ");
        compile(
            access.expr,
            &CompileContext::new(expansion.schema).with_macros(access.macros).with_qualifier(alias),
            w,
        )?;
    }
    Ok(())
}

/// Writes a row's JSON object (columns qualified by `qualifier`) with an `expand` object
/// holding each expansion: JSON text (SQLite `json_object`, Postgres concatenation).
fn push_row_object(
    w: &mut SqlWriter,
    columns: &[crate::row_queries::Column<'_>],
    qualifier: &str,
    expansions: &[Expansion<'_>],
    aliases: &mut usize,
) -> Result<(), FilterError> {
    if expansions.is_empty() {
        w.push(&row_object(w.dialect(), columns, Some(qualifier), &[]));
        return Ok(());
    }
    let dialect = w.dialect();
    let mut inner = w.fragment();
    for (i, expansion) in expansions.iter().enumerate() {
        // Keys are validated names: safe as string literals (and in JSON).
        let name = &expansion.name;
        match (dialect, i) {
            (Dialect::Sqlite, 0) => inner.push(&format!("json_object('{name}', ")),
            (Dialect::Sqlite, _) => inner.push(&format!(", '{name}', ")),
            (Dialect::Postgres, 0) => inner.push(&format!("'{{\"{name}\":' || coalesce(")),
            (Dialect::Postgres, _) => inner.push(&format!(", 'null') || ',\"{name}\":' || coalesce(")),
        };
        push_expansion(&mut inner, qualifier, expansion, aliases)?;
    }
    inner.push(match dialect {
        Dialect::Sqlite => ")",
        Dialect::Postgres => ", 'null') || '}'",
    });
    // The columns bind nothing, so the expansions' parameters stay in text order.
    w.append_wrapped(inner, |expand| row_object(dialect, columns, Some(qualifier), &[("expand", expand.to_string())]));
    Ok(())
}

/// One expansion's subquery, whose value is JSON text; the embedding row is `outer`.
pub(crate) fn push_expansion(
    w: &mut SqlWriter,
    outer: &str,
    expansion: &Expansion<'_>,
    aliases: &mut usize,
) -> Result<(), FilterError> {
    *aliases += 1;
    let alias = format!("x{aliases}");
    let link = format!("l{aliases}");
    let dialect = w.dialect();
    let columns = selected_columns(expansion.schema, expansion.fields);
    let target = quote_ident(&expansion.schema.name);
    let (a, l, o) = (quote_ident(&alias), quote_ident(&link), quote_ident(outer));
    let many = expansion.join.is_many();
    if many {
        w.push(match dialect {
            Dialect::Sqlite => {
                "(SELECT coalesce(json_group_array(json(\"v\") ORDER BY \"p\"), json('[]')) FROM (SELECT "
            }
            Dialect::Postgres => {
                "(SELECT coalesce('[' || string_agg(\"v\", ',' ORDER BY \"p\") || ']', '[]') FROM (SELECT "
            }
        });
    } else {
        w.push("(SELECT ");
    }
    push_row_object(w, &columns, &alias, &expansion.children, aliases)?;
    let order = match &expansion.join {
        Join::ForwardMany { .. } => format!("{l}.\"position\""),
        _ => format!("{a}.\"id\""),
    };
    if many {
        w.push(" AS \"v\", ").push(&order).push(" AS \"p\"");
    }
    w.push(&format!(" FROM {target} AS {a}"));
    match &expansion.join {
        Join::Forward { column } => {
            w.push(&format!(" WHERE {a}.\"id\" = {o}.{}", quote_ident(column)));
        }
        Join::ForwardMany { junction } => {
            w.push(&format!(
                " JOIN {} AS {l} ON {l}.\"target_id\" = {a}.\"id\" WHERE {l}.\"source_id\" = {o}.\"id\"",
                quote_ident(junction)
            ));
        }
        Join::Reverse { column } => {
            w.push(&format!(" WHERE {a}.{} = {o}.\"id\"", quote_ident(column)));
        }
        Join::ReverseMany { junction } => {
            w.push(&format!(
                " JOIN {} AS {l} ON {l}.\"source_id\" = {a}.\"id\" WHERE {l}.\"target_id\" = {o}.\"id\"",
                quote_ident(junction)
            ));
        }
    }
    push_access(w, expansion, &alias)?;
    if many {
        w.push(&format!(" ORDER BY {order}")).push_page(Some(expansion.limit), 0).push(") AS \"s\")");
    } else {
        w.push(")");
    }
    Ok(())
}
