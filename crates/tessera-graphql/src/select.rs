//! A root field's selection as the store's [`GraphSelect`] tree: which keys each object
//! has, which related rows each relation reads, and the caller's rule for every table on
//! the way (`list` for arrays and aggregates, `view` for single rows — as REST's expand).
//!
//! The tree is what the store compiles into ONE statement, so the number of statements a
//! query runs does not depend on how many rows or levels it returns.

use crate::filter::{order_keys, where_cond, Cond};
use crate::model::{Model, OutField, TableModel};
use crate::selection::{Arguments, Sel};
use crate::{GqlError, Limits};
use async_graphql::Value as GqlValue;
use tessera_core::access::{authorize, RequestMacros};
use tessera_core::auth::Caller;
use tessera_core::paths::PathResolver;
use tessera_query::SqlWriter;
use tessera_schema::Action;
use tessera_store::graph::push_filter;
use tessera_store::graph::{
    AggregateColumn, AggregateField, AggregateFieldKind, AggregateFunction, AggregateKind, AggregateOutput,
    AggregateValue, FilePart, GraphField, GraphFilter, GraphSelect, GraphValue,
};
use tessera_store::AccessFilter;

/// Builds selections for one request.
pub struct Planner<'a> {
    pub model: &'a Model,
    pub caller: &'a Caller,
    pub macros: &'a RequestMacros<'a>,
    pub limits: &'a Limits,
    pub dialect: tessera_query::Dialect,
    /// Rows the query may return at most, summed over the levels so far.
    pub nodes: std::cell::Cell<u64>,
}

/// The selected fields grouped by response key, in first-seen order (a key selected twice,
/// e.g. through fragments, merges its sub-selections).
fn grouped<'s>(fields: Vec<Sel<'s>>) -> Vec<(String, Vec<Sel<'s>>)> {
    let mut groups: Vec<(String, Vec<Sel<'s>>)> = Vec::new();
    for field in fields {
        let key = field.key();
        match groups.iter_mut().find(|(k, _)| k == key) {
            Some((_, list)) => list.push(field),
            None => groups.push((key.to_string(), vec![field])),
        }
    }
    groups
}

/// The keys of a `File` object.
fn file_keys(selection: Vec<Sel<'_>>) -> Vec<(String, FilePart)> {
    grouped(selection)
        .into_iter()
        .filter_map(|(key, group)| match group[0].name() {
            "name" => Some((key, FilePart::Name)),
            "url" => Some((key, FilePart::Url)),
            "__typename" => Some((key, FilePart::Text("File".into()))),
            _ => None,
        })
        .collect()
}

/// The merged sub-selection of a group.
fn children<'s>(group: &[Sel<'s>]) -> Result<Vec<Sel<'s>>, GqlError> {
    let mut out = Vec::new();
    for field in group {
        out.extend(field.children()?);
    }
    Ok(out)
}

impl<'a> Planner<'a> {
    /// The caller's access to a table for `action`: `Ok((filter, denied))`, or the refusal
    /// when `refuse` (a root field), where a nested relation is just empty.
    fn access(
        &self,
        table: &'a TableModel,
        action: Action,
        refuse: bool,
    ) -> Result<(Vec<AccessFilter<'a>>, bool), GqlError> {
        match authorize(&table.table, action, self.caller, None) {
            Ok(None) => Ok((Vec::new(), false)),
            Ok(Some(expr)) => Ok((vec![AccessFilter { expr, macros: self.macros }], false)),
            Err(e) if refuse => Err(e.into()),
            Err(_) => Ok((Vec::new(), true)),
        }
    }

    /// The rows of a field returning rows: its `where`, `order_by`, `limit`, `offset`, with
    /// `rows` the most rows of the level above.
    pub fn rows(
        &self,
        table: &'a TableModel,
        args: &Arguments,
        action: Action,
        refuse: bool,
        parent_rows: u64,
    ) -> Result<(GraphSelect<'a>, u64), GqlError> {
        let (access, denied) = self.access(table, action, refuse)?;
        let filter = match args.get("where") {
            Some(value) => self.filter(table, value)?,
            None => None,
        };
        let order = match args.get("order_by") {
            Some(value) => order_keys(self.model, table, value, self.caller)?,
            None => Vec::new(),
        };
        let limit = match args.get("limit") {
            None | Some(GqlValue::Null) => self.limits.default_rows,
            Some(GqlValue::Number(n)) => match n.as_u64() {
                Some(n) if n <= u64::from(self.limits.max_rows) => n as u32,
                _ => {
                    return Err(GqlError::limit(format!(
                        "limit must be between 0 and {}, got {n}",
                        self.limits.max_rows
                    )))
                }
            },
            Some(_) => return Err(GqlError::bad_input("limit must be an integer")),
        };
        let offset = match args.get("offset") {
            None | Some(GqlValue::Null) => 0,
            Some(GqlValue::Number(n)) => {
                n.as_u64().ok_or_else(|| GqlError::bad_input("offset must not be negative"))?
            }
            Some(_) => return Err(GqlError::bad_input("offset must be an integer")),
        };
        let rows = parent_rows.saturating_mul(u64::from(limit));
        self.count_nodes(rows)?;
        let select = GraphSelect {
            schema: &table.table.schema,
            access,
            denied,
            filter,
            order,
            limit: Some(limit),
            offset,
            fields: Vec::new(),
        };
        Ok((select, rows))
    }

    /// One row (by id, or a many-to-one relation's).
    pub fn row(&self, table: &'a TableModel, action: Action, refuse: bool) -> Result<GraphSelect<'a>, GqlError> {
        let (access, denied) = self.access(table, action, refuse)?;
        Ok(GraphSelect {
            schema: &table.table.schema,
            access,
            denied,
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: 0,
            fields: Vec::new(),
        })
    }

    fn count_nodes(&self, rows: u64) -> Result<(), GqlError> {
        let total = self.nodes.get().saturating_add(rows);
        self.nodes.set(total);
        if total > self.limits.max_nodes {
            return Err(GqlError::limit(format!(
                "the query could return up to {total} rows (limits multiply through nested lists); at most {} are allowed — lower the limits",
                self.limits.max_nodes
            )));
        }
        Ok(())
    }

    /// A `where` compiled once here, so a wrong condition is the client's error and not
    /// the statement's.
    pub fn filter(&self, table: &'a TableModel, value: &GqlValue) -> Result<Option<GraphFilter<'a>>, GqlError> {
        let Some(cond) = where_cond(self.model, table, value)? else { return Ok(None) };
        let filter = self.graph_filter(table, cond)?;
        push_filter(&mut SqlWriter::new(self.dialect), &filter, "t", "_te", &mut 0)
            .map_err(|e| GqlError::bad_input(format!("invalid where: {}", e.message)))?;
        Ok(Some(filter))
    }

    /// A condition with the resolvers and rules it is compiled with: paths from `table`,
    /// and the `list` rule of each table whose rows must exist.
    fn graph_filter(&self, table: &'a TableModel, cond: Cond) -> Result<GraphFilter<'a>, GqlError> {
        Ok(match cond {
            Cond::Expr(expr) => GraphFilter::Expr {
                expr,
                resolver: Box::new(PathResolver {
                    catalog: &self.model.catalog,
                    root: &table.table,
                    caller: self.caller,
                }),
            },
            Cond::And(parts) => {
                GraphFilter::And(parts.into_iter().map(|p| self.graph_filter(table, p)).collect::<Result<_, _>>()?)
            }
            Cond::Or(parts) => {
                GraphFilter::Or(parts.into_iter().map(|p| self.graph_filter(table, p)).collect::<Result<_, _>>()?)
            }
            Cond::Not(inner) => GraphFilter::Not(Box::new(self.graph_filter(table, *inner)?)),
            Cond::Exists { join, target, inner } => {
                let target = self.model.table(&target);
                let (access, denied) = self.access(target, Action::List, false)?;
                let inner = match inner {
                    Some(inner) => Some(Box::new(self.graph_filter(target, *inner)?)),
                    None => None,
                };
                GraphFilter::Exists { join, schema: &target.table.schema, access, denied, inner }
            }
        })
    }

    /// The keys of a table's objects for a selection set.
    pub fn fields<'s>(
        &self,
        table: &'a TableModel,
        selection: Vec<Sel<'s>>,
        rows: u64,
    ) -> Result<Vec<GraphField<'a>>, GqlError> {
        let mut fields = Vec::new();
        for (key, group) in grouped(selection) {
            let name = group[0].name();
            if name == "__typename" {
                fields.push(GraphField { key, value: GraphValue::Text(table.base.clone()) });
                continue;
            }
            let Some(field) = table.fields.get(name) else { continue };
            let value = match field {
                OutField::Column { column, field_type } => {
                    GraphValue::Column { column: column.clone(), field_type: *field_type }
                }
                OutField::File { column, multiple } => GraphValue::File {
                    column: column.clone(),
                    multiple: *multiple,
                    url_prefix: format!("/api/files/{}/", table.table.schema.name),
                    keys: file_keys(children(&group)?),
                },
                OutField::LinkIds { junction } => GraphValue::LinkIds { junction: junction.clone() },
                OutField::Object { column, target } => {
                    let target = self.model.table(target);
                    let mut select = self.row(target, Action::View, false)?;
                    select.fields = self.fields(target, children(&group)?, rows)?;
                    GraphValue::Object {
                        join: tessera_store::Join::Forward { column: column.clone() },
                        select: Box::new(select),
                    }
                }
                OutField::Array { join, target } => {
                    let target = self.model.table(target);
                    let (mut select, rows) = self.rows(target, &group[0].arguments()?, Action::List, false, rows)?;
                    select.fields = self.fields(target, children(&group)?, rows)?;
                    GraphValue::Array { join: join.clone(), select: Box::new(select) }
                }
                OutField::Aggregate { join, target } => {
                    let target = self.model.table(target);
                    let (select, outputs) = self.aggregate(target, &group, rows, false)?;
                    GraphValue::Aggregate { join: join.clone(), select: Box::new(select), outputs }
                }
            };
            fields.push(GraphField { key, value });
        }
        Ok(fields)
    }

    /// An aggregate field: its rows (`nodes`) and its `aggregate { ... }` outputs.
    pub fn aggregate<'s>(
        &self,
        table: &'a TableModel,
        group: &[Sel<'s>],
        parent_rows: u64,
        refuse: bool,
    ) -> Result<(GraphSelect<'a>, Vec<AggregateOutput>), GqlError> {
        let args = group[0].arguments()?;
        let (mut select, rows) = self.rows(table, &args, Action::List, refuse, parent_rows)?;
        // Without a `limit`, the aggregate covers every matching row and only the nodes
        // are capped by the default page.
        let nodes_limit = match args.get("limit") {
            None | Some(GqlValue::Null) => select.limit.take(),
            Some(_) => None,
        };
        let mut outputs = Vec::new();
        for (key, parts) in grouped(children(group)?) {
            let kind = match parts[0].name() {
                "__typename" => AggregateKind::Text(format!("{}_aggregate", table.base)),
                "nodes" => {
                    select.fields = self.fields(table, children(&parts)?, rows)?;
                    AggregateKind::Nodes { limit: nodes_limit }
                }
                "aggregate" => AggregateKind::Aggregate(self.aggregate_fields(table, &parts)?),
                _ => continue,
            };
            outputs.push(AggregateOutput { key, kind });
        }
        Ok((select, outputs))
    }

    fn aggregate_fields<'s>(&self, table: &'a TableModel, group: &[Sel<'s>]) -> Result<Vec<AggregateField>, GqlError> {
        let mut fields = Vec::new();
        for (key, parts) in grouped(children(group)?) {
            let kind = match parts[0].name() {
                "__typename" => AggregateFieldKind::Text(format!("{}_aggregate_fields", table.base)),
                "count" => {
                    let args = parts[0].arguments()?;
                    let distinct = matches!(args.get("distinct"), Some(GqlValue::Boolean(true)));
                    let column = match args.get("columns") {
                        None | Some(GqlValue::Null) => None,
                        Some(GqlValue::List(items)) if items.is_empty() => None,
                        Some(GqlValue::List(items)) if items.len() == 1 => Some(self.column_of(table, &items[0])?),
                        Some(GqlValue::Enum(name)) => Some(self.column_of(table, &GqlValue::Enum(name.clone()))?),
                        Some(_) => return Err(GqlError::bad_input("count takes at most one column")),
                    };
                    AggregateFieldKind::Count { column, distinct }
                }
                name @ ("sum" | "avg" | "min" | "max") => {
                    let function = match name {
                        "sum" => AggregateFunction::Sum,
                        "avg" => AggregateFunction::Avg,
                        "min" => AggregateFunction::Min,
                        _ => AggregateFunction::Max,
                    };
                    let mut columns = Vec::new();
                    for (key, items) in grouped(children(&parts)?) {
                        let field = items[0].name();
                        if field == "__typename" {
                            let value = AggregateValue::Text(format!("{}_{name}_fields", table.base));
                            columns.push(AggregateColumn { key, value });
                        } else if let Some(OutField::Column { column, field_type }) = table.fields.get(field) {
                            let value = AggregateValue::Column { column: column.clone(), field_type: *field_type };
                            columns.push(AggregateColumn { key, value });
                        }
                    }
                    AggregateFieldKind::Function { function, columns }
                }
                _ => continue,
            };
            fields.push(AggregateField { key, kind });
        }
        Ok(fields)
    }

    fn column_of(&self, table: &TableModel, value: &GqlValue) -> Result<String, GqlError> {
        let name = match value {
            GqlValue::Enum(name) => name.as_str(),
            GqlValue::String(name) => name.as_str(),
            _ => return Err(GqlError::bad_input("a column name is expected")),
        };
        match table.fields.get(name) {
            Some(OutField::Column { column, .. }) => Ok(column.clone()),
            _ => Err(GqlError::bad_input(format!("unknown column '{name}'"))),
        }
    }
}
