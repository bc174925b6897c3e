//! The SQL of a GraphQL selection: one statement per root field, whatever its nesting.
//!
//! A selection names the keys of the response (aliases included), so the database builds
//! the response's JSON exactly as the client asked for it: each object level is a
//! `json_object`/`json_build_object` of the selected columns, each relation a correlated
//! subquery inside it (an object for a many-to-one link, an aggregated array for the
//! others), each carrying the related table's access rule for the caller. A page of rows
//! is chosen in a subquery first (filter, order, limit, offset) and only its rows become
//! JSON, aggregated in the page's order.

use crate::expand::Join;
use crate::row_queries::{json_value_sql, link_ids_expr, push_in_ids, AccessFilter};
use tessera_query::filter::{compile, CompileContext, Expr, FilterError};
use tessera_query::{quote_ident, Dialect, FieldResolver, ResolvedField, SqlWriter};
use tessera_schema::{FieldType, TableSchema, Value};

/// Postgres functions take at most 100 arguments: 50 key/value pairs per object call.
const PG_PAIRS_PER_CALL: usize = 50;

/// The rows of one table a selection reads, and what it reads of each.
pub struct GraphSelect<'a> {
    pub schema: &'a TableSchema,
    /// The caller's rules for these rows, all of which must hold (none: every row).
    pub access: Vec<AccessFilter<'a>>,
    /// The caller may read none of them.
    pub denied: bool,
    /// The client's `where`, with the resolver its field names (and paths) resolve with.
    pub filter: Option<GraphFilter<'a>>,
    pub order: Vec<GraphOrder>,
    pub limit: Option<u32>,
    pub offset: u64,
    pub fields: Vec<GraphField<'a>>,
}

/// A client's condition on rows: filter expressions (each with the resolver its field
/// names and paths resolve with) combined with AND/OR/NOT, and conditions on related rows
/// that must exist.
pub enum GraphFilter<'a> {
    Expr {
        expr: Expr,
        resolver: Box<dyn FieldResolver + Send + Sync + 'a>,
    },
    And(Vec<GraphFilter<'a>>),
    Or(Vec<GraphFilter<'a>>),
    Not(Box<GraphFilter<'a>>),
    /// Some related row (of an array relation) the caller may list matches `inner`.
    Exists {
        join: Join,
        schema: &'a TableSchema,
        access: Vec<AccessFilter<'a>>,
        denied: bool,
        inner: Option<Box<GraphFilter<'a>>>,
    },
}

/// Writes a condition on the row `alias` as one parenthesized SQL condition; related
/// rows get aliases `<prefix>1`, `<prefix>2`, ... from `next`.
pub fn push_filter(
    w: &mut SqlWriter,
    filter: &GraphFilter<'_>,
    alias: &str,
    prefix: &str,
    next: &mut usize,
) -> Result<(), FilterError> {
    match filter {
        GraphFilter::Expr { expr, resolver } => {
            compile(expr, &CompileContext::new(resolver.as_ref()).with_qualifier(alias), w)?;
        }
        GraphFilter::And(parts) | GraphFilter::Or(parts) => {
            let joiner = if matches!(filter, GraphFilter::And(_)) { " AND " } else { " OR " };
            if parts.is_empty() {
                w.push(if joiner == " AND " { "(1 = 1)" } else { "(1 = 0)" });
                return Ok(());
            }
            w.push("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    w.push(joiner);
                }
                push_filter(w, part, alias, prefix, next)?;
            }
            w.push(")");
        }
        GraphFilter::Not(inner) => {
            // Exactly the rows the inner condition does not match (unknown counts as no).
            w.push("(NOT COALESCE(");
            push_filter(w, inner, alias, prefix, next)?;
            w.push(", FALSE))");
        }
        GraphFilter::Exists { join, schema, access, denied, inner } => {
            *next += 1;
            let related = format!("{prefix}{next}");
            let link = format!("{prefix}{next}l");
            w.push("EXISTS (SELECT 1 FROM ").push_ident(&schema.name).push(" AS ").push_ident(&related);
            w.push(&related_rows(join, &related, &link, alias));
            if *denied {
                w.push(" AND 1 = 0");
            }
            for rule in access {
                w.push(" AND ");
                compile(rule.expr, &CompileContext::new(*schema).with_macros(rule.macros).with_qualifier(&related), w)?;
            }
            if let Some(inner) = inner {
                w.push(" AND ");
                push_filter(w, inner, &related, prefix, next)?;
            }
            w.push(")");
        }
    }
    Ok(())
}

/// One key of an `order_by`.
#[derive(Debug, Clone)]
pub struct GraphOrder {
    pub field: ResolvedField,
    pub descending: bool,
    /// `Some(true)`: nulls first; `Some(false)`: nulls last; `None`: the database's default.
    pub nulls_first: Option<bool>,
}

/// One key of a response object and where its value comes from.
pub struct GraphField<'a> {
    pub key: String,
    pub value: GraphValue<'a>,
}

/// One key of a file's object.
pub enum FilePart {
    /// The stored file name.
    Name,
    /// The URL that serves it.
    Url,
    /// A constant string (`__typename`).
    Text(String),
}

/// The value of one response key.
pub enum GraphValue<'a> {
    /// A column (`id`, a user field, a timestamp).
    Column { column: String, field_type: FieldType },
    /// The ids of a `multiple` relation, in their order.
    LinkIds { junction: String },
    /// A file field as an object of `keys` (or a list of them); `url_prefix` ends with `/`
    /// and the row id, the field and the name follow.
    File { column: String, multiple: bool, url_prefix: String, keys: Vec<(String, FilePart)> },
    /// A constant string.
    Text(String),
    /// The related row of a many-to-one relation, or null.
    Object { join: Join, select: Box<GraphSelect<'a>> },
    /// The related rows of any other relation, as an array.
    Array { join: Join, select: Box<GraphSelect<'a>> },
    /// Aggregates over related rows (`<relation>_aggregate`).
    Aggregate { join: Join, select: Box<GraphSelect<'a>>, outputs: Vec<AggregateOutput> },
}

/// One key of an aggregate object: `aggregate { ... }`, `nodes` (the rows, as the
/// select's fields say), or a constant.
pub struct AggregateOutput {
    pub key: String,
    pub kind: AggregateKind,
}

pub enum AggregateKind {
    /// The rows, at most `limit` of them if given (else the select's limit).
    Nodes {
        limit: Option<u32>,
    },
    Text(String),
    Aggregate(Vec<AggregateField>),
}

/// One key of `aggregate { count sum { age } ... }`.
pub struct AggregateField {
    pub key: String,
    pub kind: AggregateFieldKind,
}

pub enum AggregateFieldKind {
    /// `count`, of rows or of non-null (distinct) values of one column.
    Count {
        column: Option<String>,
        distinct: bool,
    },
    /// `sum`, `avg`, `min` or `max` of each listed column.
    Function {
        function: AggregateFunction,
        columns: Vec<AggregateColumn>,
    },
    Text(String),
}

/// One key of `sum { ... }` and the like: a column's aggregate, or a constant text (a
/// `__typename`).
pub struct AggregateColumn {
    pub key: String,
    pub value: AggregateValue,
}

pub enum AggregateValue {
    Column { column: String, field_type: FieldType },
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFunction {
    Sum,
    Avg,
    Min,
    Max,
}

/// What a root field reads.
pub enum GraphRoot<'a> {
    /// The rows as a JSON array.
    List(GraphSelect<'a>),
    /// One row by id, or null.
    ById(GraphSelect<'a>, i64),
    /// The rows with these ids as a JSON array (a mutation's `returning`).
    ByIds(GraphSelect<'a>, Vec<i64>),
    /// An aggregate object.
    Aggregate(GraphSelect<'a>, Vec<AggregateOutput>),
}

/// The one statement of a root field; it answers one row holding the JSON text (none for a
/// missing row by id).
pub fn root_statement(dialect: Dialect, root: &GraphRoot<'_>) -> Result<(String, Vec<Value>), FilterError> {
    let mut w = SqlWriter::new(dialect);
    let mut aliases = Aliases::default();
    let postgres = dialect == Dialect::Postgres;
    // Postgres drivers read text: the JSON value is cast, around a scalar subquery where
    // the value is an aggregate.
    w.push(if postgres { "SELECT (" } else { "SELECT " });
    match root {
        GraphRoot::ById(select, id) => {
            let alias = aliases.next();
            push_object(&mut w, select, &alias, &mut aliases)?;
            w.push(if postgres { ")::text" } else { "" });
            w.push(" FROM ").push_ident(&select.schema.name).push(" AS ").push_ident(&alias);
            w.push(" WHERE ").push_qualified(&alias, "id").push(" = ");
            w.push_param(Value::Integer(*id), FieldType::Integer);
            push_conditions(&mut w, select, &alias)?;
            return Ok(w.finish());
        }
        GraphRoot::List(select) => {
            w.push(if postgres { "SELECT " } else { "" });
            push_array(&mut w, select, None, &mut aliases, select.limit, |_, _| {})?;
        }
        GraphRoot::ByIds(select, ids) => {
            w.push(if postgres { "SELECT " } else { "" });
            push_array(&mut w, select, None, &mut aliases, select.limit, |w, alias| {
                w.push(" AND ").push_qualified(alias, "id");
                push_in_ids(w, ids);
            })?;
        }
        GraphRoot::Aggregate(select, outputs) => {
            w.push(if postgres { "SELECT " } else { "" });
            push_aggregate(&mut w, select, outputs, None, &mut aliases)?;
        }
    }
    w.push(if postgres { ")::text" } else { "" });
    Ok(w.finish())
}

/// Distinct table aliases within one statement (`g1`, `g2`, ...).
#[derive(Default)]
struct Aliases(usize);

impl Aliases {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("g{}", self.0)
    }
}

/// The row's JSON object: one pair per field, in the selection's order.
fn push_object(
    w: &mut SqlWriter,
    select: &GraphSelect<'_>,
    alias: &str,
    aliases: &mut Aliases,
) -> Result<(), FilterError> {
    let dialect = w.dialect();
    let chunked = dialect == Dialect::Postgres && select.fields.len() > PG_PAIRS_PER_CALL;
    match (dialect, chunked) {
        (Dialect::Sqlite, _) => w.push("json_object("),
        (Dialect::Postgres, false) => w.push("json_build_object("),
        (Dialect::Postgres, true) => w.push("(jsonb_build_object("),
    };
    for (i, field) in select.fields.iter().enumerate() {
        if i > 0 && chunked && i % PG_PAIRS_PER_CALL == 0 {
            w.push(") || jsonb_build_object(");
        } else if i > 0 {
            w.push(", ");
        }
        w.push(&text_literal(&field.key)).push(", ");
        push_value(w, &field.value, alias, aliases)?;
    }
    w.push(if chunked { "))::json" } else { ")" });
    Ok(())
}

/// A string literal. Keys are GraphQL names (letters, digits, underscores) and texts are
/// names of the catalog, but quotes are doubled anyway.
fn text_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn push_value(
    w: &mut SqlWriter,
    value: &GraphValue<'_>,
    alias: &str,
    aliases: &mut Aliases,
) -> Result<(), FilterError> {
    let dialect = w.dialect();
    match value {
        GraphValue::Column { column, field_type } => {
            let col = format!("{}.{}", quote_ident(alias), quote_ident(column));
            w.push(&json_value_sql(dialect, *field_type, col));
        }
        GraphValue::LinkIds { junction } => {
            let id = format!("{}.\"id\"", quote_ident(alias));
            w.push(&link_ids_expr(dialect, junction, &id));
        }
        GraphValue::File { column, multiple, url_prefix, keys } => {
            w.push(&file_sql(dialect, alias, column, *multiple, url_prefix, keys));
        }
        GraphValue::Text(text) => {
            w.push(&text_literal(text));
        }
        GraphValue::Object { join, select } => {
            let inner = aliases.next();
            let (i, o) = (quote_ident(&inner), quote_ident(alias));
            w.push("(SELECT ");
            push_object(w, select, &inner, aliases)?;
            w.push(" FROM ").push_ident(&select.schema.name).push(" AS ").push(&i);
            match join {
                Join::Forward { column } => w.push(&format!(" WHERE {i}.\"id\" = {o}.{}", quote_ident(column))),
                // Only many-to-one relations are objects; anything else finds no row.
                _ => w.push(" WHERE 1 = 0"),
            };
            push_conditions(w, select, &inner)?;
            w.push(")");
        }
        GraphValue::Array { join, select } => {
            w.push("(SELECT ");
            push_array(w, select, Some((join, alias)), aliases, select.limit, |_, _| {})?;
            w.push(")");
        }
        GraphValue::Aggregate { join, select, outputs } => {
            w.push("(SELECT ");
            push_aggregate(w, select, outputs, Some((join, alias)), aliases)?;
            w.push(")");
        }
    }
    Ok(())
}

/// The object of `keys` (`name`, `url`) of a single file column, or an array of them for a
/// multiple one (which keeps its names as a JSON list).
fn file_sql(
    dialect: Dialect,
    alias: &str,
    column: &str,
    multiple: bool,
    url_prefix: &str,
    keys: &[(String, FilePart)],
) -> String {
    let col = format!("{}.{}", quote_ident(alias), quote_ident(column));
    let id = format!("{}.\"id\"", quote_ident(alias));
    let object = |name: &str| {
        let pairs: Vec<String> = keys
            .iter()
            .map(|(key, part)| {
                let value = match part {
                    FilePart::Name => name.to_string(),
                    FilePart::Url => format!(
                        "{} || {id} || {} || {name}",
                        text_literal(url_prefix),
                        text_literal(&format!("/{column}/"))
                    ),
                    FilePart::Text(text) => text_literal(text),
                };
                format!("{}, {value}", text_literal(key))
            })
            .collect();
        match dialect {
            Dialect::Sqlite => format!("json_object({})", pairs.join(", ")),
            Dialect::Postgres => format!("json_build_object({})", pairs.join(", ")),
        }
    };
    match (dialect, multiple) {
        (_, false) => format!("CASE WHEN {col} IS NULL THEN NULL ELSE {} END", object(&col)),
        (Dialect::Sqlite, true) => format!(
            "(SELECT coalesce(json_group_array(json({}) ORDER BY \"f\".\"key\"), json('[]')) FROM json_each(coalesce({col}, '[]')) AS \"f\")",
            object("\"f\".\"value\"")
        ),
        (Dialect::Postgres, true) => format!(
            "(SELECT coalesce(json_agg({} ORDER BY \"f\".\"n\"), '[]'::json) FROM json_array_elements_text(coalesce({col}, '[]')::json) WITH ORDINALITY AS \"f\"(\"name\", \"n\"))",
            object("\"f\".\"name\"")
        ),
    }
}

/// ` [JOIN <junction> AS link ON ...] WHERE <related rows belong to outer>`: the rows
/// (aliased `related`) a relation links to the row `outer`.
fn related_rows(join: &Join, related: &str, link: &str, outer: &str) -> String {
    let (r, l, o) = (quote_ident(related), quote_ident(link), quote_ident(outer));
    match join {
        Join::Forward { column } => format!(" WHERE {r}.\"id\" = {o}.{}", quote_ident(column)),
        Join::Reverse { column } => format!(" WHERE {r}.{} = {o}.\"id\"", quote_ident(column)),
        Join::ForwardMany { junction } => format!(
            " JOIN {} AS {l} ON {l}.\"target_id\" = {r}.\"id\" WHERE {l}.\"source_id\" = {o}.\"id\"",
            quote_ident(junction)
        ),
        Join::ReverseMany { junction } => format!(
            " JOIN {} AS {l} ON {l}.\"source_id\" = {r}.\"id\" WHERE {l}.\"target_id\" = {o}.\"id\"",
            quote_ident(junction)
        ),
    }
}

/// ` AND <rule> AND <where>` (` AND 1 = 0` when the caller may read none of the rows).
fn push_conditions(w: &mut SqlWriter, select: &GraphSelect<'_>, alias: &str) -> Result<(), FilterError> {
    if select.denied {
        w.push(" AND 1 = 0");
        return Ok(());
    }
    for access in &select.access {
        w.push(" AND ");
        compile(access.expr, &CompileContext::new(select.schema).with_macros(access.macros).with_qualifier(alias), w)?;
    }
    if let Some(filter) = &select.filter {
        w.push(" AND ");
        push_filter(w, filter, alias, &format!("_{alias}e"), &mut 0)?;
    }
    Ok(())
}

/// `coalesce(<array of the page's objects, in order>, []) FROM <page>`; `extra` may add a
/// condition to the page.
fn push_array(
    w: &mut SqlWriter,
    select: &GraphSelect<'_>,
    correlated: Option<(&Join, &str)>,
    aliases: &mut Aliases,
    limit: Option<u32>,
    extra: impl FnOnce(&mut SqlWriter, &str),
) -> Result<(), FilterError> {
    let page = aliases.next();
    let mut object = w.fragment();
    push_object(&mut object, select, &page, aliases)?;
    let dialect = w.dialect();
    // The page's own order, repeated on its (few) rows: a window numbering the rows
    // inside the page would make SQLite number every matching row before the limit.
    let position = format!("{}.\"_pos\"", quote_ident(&page));
    let order = order_sql(dialect, select, &page, &position, correlated.map(|(join, _)| join));
    w.append_wrapped(object, |object| match dialect {
        Dialect::Sqlite => format!("coalesce(json_group_array(json({object}) ORDER BY {order}), json('[]'))"),
        Dialect::Postgres => format!("coalesce(json_agg({object} ORDER BY {order}), '[]'::json)"),
    });
    w.push(" FROM ");
    push_page(w, select, correlated, &page, aliases, limit, extra)?;
    if dialect == Dialect::Postgres {
        // Always true (a row's id is never null), but it reads the page's whole row, so
        // Postgres keeps every column of the page instead of projecting the selected ones
        // out of each scanned row before the sort: a page sorted from ~49,000 rows ran
        // at 55% of the speed without it (BENCHMARKS.md, "GraphQL (issue 5)").
        w.push(&format!(" WHERE NOT ({} IS NULL)", quote_ident(&page)));
    }
    Ok(())
}

/// `(SELECT g.*[, link.position AS _pos] FROM t AS g [JOIN junction] WHERE
/// <join> AND <rule> AND <where> ORDER BY ... LIMIT ? OFFSET ?) AS <page>`.
fn push_page(
    w: &mut SqlWriter,
    select: &GraphSelect<'_>,
    correlated: Option<(&Join, &str)>,
    page: &str,
    aliases: &mut Aliases,
    limit: Option<u32>,
    extra: impl FnOnce(&mut SqlWriter, &str),
) -> Result<(), FilterError> {
    let inner = aliases.next();
    let link = aliases.next();
    let i = quote_ident(&inner);
    let join = correlated.map(|(join, _)| join);
    let position = format!("{}.\"position\"", quote_ident(&link));
    let order = order_sql(w.dialect(), select, &inner, &position, join);
    match join {
        Some(Join::ForwardMany { .. }) => w.push(&format!("(SELECT {i}.*, {position} AS \"_pos\" FROM ")),
        _ => w.push(&format!("(SELECT {i}.* FROM ")),
    };
    w.push_ident(&select.schema.name).push(" AS ").push(&i);
    match correlated {
        None => w.push(" WHERE 1 = 1"),
        Some((join, outer)) => w.push(&related_rows(join, &inner, &link, outer)),
    };
    push_conditions(w, select, &inner)?;
    extra(w, &inner);
    w.push(" ORDER BY ").push(&order);
    w.push_page(limit, select.offset);
    w.push(") AS ").push_ident(page);
    Ok(())
}

/// The order keys, then tie-breaks: the junction's position for a `multiple` relation (the
/// order its ids were given in), then the id.
fn order_sql(dialect: Dialect, select: &GraphSelect<'_>, alias: &str, position: &str, join: Option<&Join>) -> String {
    let mut w = SqlWriter::new(dialect);
    for key in &select.order {
        w.push_field(Some(alias), &key.field);
        w.push(if key.descending { " DESC" } else { " ASC" });
        match key.nulls_first {
            Some(true) => w.push(" NULLS FIRST, "),
            Some(false) => w.push(" NULLS LAST, "),
            None => w.push(", "),
        };
    }
    if let Some(Join::ForwardMany { .. }) = join {
        w.push(position).push(", ");
    }
    w.push_qualified(alias, "id").push(" ASC");
    w.finish().0
}

/// `json_object('aggregate', (SELECT json_object('count', count(*), ...) FROM <page>),
/// 'nodes', (SELECT [...] FROM <page>))`: each output over its own page, as the nodes may
/// have a smaller limit than the aggregate.
fn push_aggregate(
    w: &mut SqlWriter,
    select: &GraphSelect<'_>,
    outputs: &[AggregateOutput],
    correlated: Option<(&Join, &str)>,
    aliases: &mut Aliases,
) -> Result<(), FilterError> {
    let dialect = w.dialect();
    let open = match dialect {
        Dialect::Sqlite => "json_object(",
        Dialect::Postgres => "json_build_object(",
    };
    w.push(open);
    for (i, output) in outputs.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        w.push(&text_literal(&output.key)).push(", ");
        match &output.kind {
            AggregateKind::Text(text) => {
                w.push(&text_literal(text));
            }
            AggregateKind::Nodes { limit } => {
                w.push("(SELECT ");
                push_array(w, select, correlated, aliases, limit.or(select.limit), |_, _| {})?;
                w.push(")");
            }
            AggregateKind::Aggregate(fields) => {
                let page = aliases.next();
                let p = quote_ident(&page);
                w.push("(SELECT ").push(open);
                for (j, field) in fields.iter().enumerate() {
                    if j > 0 {
                        w.push(", ");
                    }
                    w.push(&text_literal(&field.key)).push(", ");
                    w.push(&aggregate_sql(dialect, &field.kind, &p));
                }
                w.push(") FROM ");
                push_page(w, select, correlated, &page, aliases, select.limit, |_, _| {})?;
                w.push(")");
            }
        }
    }
    w.push(")");
    Ok(())
}

fn aggregate_sql(dialect: Dialect, kind: &AggregateFieldKind, page: &str) -> String {
    match kind {
        AggregateFieldKind::Text(text) => text_literal(text),
        AggregateFieldKind::Count { column: None, .. } => "count(*)".into(),
        AggregateFieldKind::Count { column: Some(column), distinct } => {
            format!("count({}{page}.{})", if *distinct { "DISTINCT " } else { "" }, quote_ident(column))
        }
        AggregateFieldKind::Function { function, columns } => {
            let pairs: Vec<String> = columns
                .iter()
                .map(|AggregateColumn { key, value }| {
                    let value = match value {
                        AggregateValue::Text(text) => text_literal(text),
                        AggregateValue::Column { column, field_type } => {
                            let col = format!("{page}.{}", quote_ident(column));
                            match (function, dialect) {
                                (AggregateFunction::Sum, _) => format!("sum({col})"),
                                (AggregateFunction::Avg, Dialect::Postgres) => format!("avg({col})::float8"),
                                (AggregateFunction::Avg, Dialect::Sqlite) => format!("avg({col})"),
                                (AggregateFunction::Min, _) => {
                                    json_value_sql(dialect, *field_type, format!("min({col})"))
                                }
                                (AggregateFunction::Max, _) => {
                                    json_value_sql(dialect, *field_type, format!("max({col})"))
                                }
                            }
                        }
                    };
                    format!("{}, {value}", text_literal(key))
                })
                .collect();
            match dialect {
                Dialect::Sqlite => format!("json_object({})", pairs.join(", ")),
                Dialect::Postgres => format!("json_build_object({})", pairs.join(", ")),
            }
        }
    }
}
