//! `where` and `order_by` arguments as tessera's filter expressions and sort keys, so a
//! GraphQL condition is compiled by the same code (types, coercion, bound values) as a
//! REST `filter`. A many-to-one relation in a condition or an order becomes a field path
//! (`zoo: {name: {_eq: "Berlin"}}` is `zoo.name = "Berlin"`), resolved with the same
//! restriction as REST: only through tables the caller may view in full.

use crate::model::{Model, OutField, TableModel};
use crate::GqlError;
use async_graphql::{Name, Value as GqlValue};
use indexmap::IndexMap;
use tessera_core::auth::Caller;
use tessera_core::paths::PathResolver;
use tessera_query::filter::{CompareOp, Comparison, Expr, InList, ListItem, Literal, Operand, OperandKind};
use tessera_query::FieldResolver;
use tessera_store::graph::GraphOrder;

fn invalid(message: impl Into<String>) -> GqlError {
    GqlError::bad_input(message)
}

fn object<'v>(value: &'v GqlValue, what: &str) -> Result<&'v IndexMap<Name, GqlValue>, GqlError> {
    match value {
        GqlValue::Object(map) => Ok(map),
        _ => Err(invalid(format!("{what} must be an object"))),
    }
}

/// A `where` condition: filter expressions on the fields of one table (and of the tables
/// its many-to-one relations reach, as paths), combined, and conditions on the rows of its
/// array relations (some related row matches), which start a new table.
#[derive(Debug, Clone)]
pub enum Cond {
    Expr(Expr),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Exists { join: tessera_store::Join, target: String, inner: Option<Box<Cond>> },
}

/// Parts combined with AND or OR; plain expressions stay one expression.
fn combine(mut parts: Vec<Cond>, and: bool) -> Option<Cond> {
    if parts.len() <= 1 {
        return parts.pop();
    }
    if parts.iter().all(|p| matches!(p, Cond::Expr(_))) {
        let exprs = parts.into_iter().map(|p| if let Cond::Expr(e) = p { e } else { unreachable!() }).collect();
        return Some(Cond::Expr(if and { Expr::And(exprs) } else { Expr::Or(exprs) }));
    }
    Some(if and { Cond::And(parts) } else { Cond::Or(parts) })
}

/// The condition of a `<table>_bool_exp` value (`None`: no condition).
pub fn where_cond(model: &Model, table: &TableModel, value: &GqlValue) -> Result<Option<Cond>, GqlError> {
    bool_exp(model, table, value, "")
}

fn bool_exp(model: &Model, table: &TableModel, value: &GqlValue, prefix: &str) -> Result<Option<Cond>, GqlError> {
    if matches!(value, GqlValue::Null) {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for (key, value) in object(value, "a where condition")? {
        let part = match key.as_str() {
            "_and" => combine(list_of(model, table, value, prefix)?, true),
            "_or" => list_of(model, table, value, prefix).map(|parts| {
                // An empty `_or` adds no condition.
                combine(parts, false)
            })?,
            "_not" => bool_exp(model, table, value, prefix)?.map(|inner| match inner {
                Cond::Expr(expr) => Cond::Expr(Expr::Not(Box::new(expr))),
                other => Cond::Not(Box::new(other)),
            }),
            name => match table.fields.get(name) {
                Some(OutField::Column { column, .. }) => comparison(&format!("{prefix}{column}"), value)?.map(Cond::Expr),
                Some(OutField::Object { column, target }) => {
                    bool_exp(model, model.table(target), value, &format!("{prefix}{column}."))?
                }
                Some(OutField::Array { join, target }) if prefix.is_empty() => {
                    let inner = bool_exp(model, model.table(target), value, "")?.map(Box::new);
                    Some(Cond::Exists { join: join.clone(), target: target.clone(), inner })
                }
                Some(OutField::Array { .. }) => {
                    return Err(invalid(format!(
                        "'{name}': a condition on the rows of an array relation works on the table's own relations, not through a many-to-one path"
                    )))
                }
                _ => return Err(invalid(format!("cannot filter on '{name}'"))),
            },
        };
        parts.extend(part);
    }
    Ok(combine(parts, true))
}

/// `_and`/`_or` parts.
fn list_of(model: &Model, table: &TableModel, value: &GqlValue, prefix: &str) -> Result<Vec<Cond>, GqlError> {
    let items: Vec<&GqlValue> = match value {
        GqlValue::List(items) => items.iter().collect(),
        GqlValue::Null => Vec::new(),
        single => vec![single],
    };
    let mut parts = Vec::new();
    for item in items {
        parts.extend(bool_exp(model, table, item, prefix)?);
    }
    Ok(parts)
}

fn operand(field: &str) -> Operand {
    Operand { kind: OperandKind::Field(field.to_string()), position: 0 }
}

fn literal(value: &GqlValue) -> Result<Literal, GqlError> {
    Ok(match value {
        GqlValue::Null => Literal::Null,
        GqlValue::Boolean(b) => Literal::Bool(*b),
        GqlValue::String(s) => Literal::String(s.clone()),
        GqlValue::Enum(name) => Literal::String(name.to_string()),
        GqlValue::Number(n) => match n.as_i64() {
            Some(i) => Literal::Integer(i),
            None => Literal::Fractional(n.to_string()),
        },
        GqlValue::List(_) | GqlValue::Object(_) | GqlValue::Binary(_) => {
            return Err(invalid("a comparison needs a single value"))
        }
    })
}

fn compare(field: &str, op: CompareOp, value: Literal) -> Expr {
    Expr::Compare(Comparison {
        left: operand(field),
        op,
        op_position: 0,
        right: Operand { kind: OperandKind::Literal(value), position: 0 },
    })
}

/// The conditions of one `<Type>_comparison_exp`, combined with AND.
fn comparison(field: &str, value: &GqlValue) -> Result<Option<Expr>, GqlError> {
    let mut parts = Vec::new();
    for (op, value) in object(value, "a comparison")? {
        let part = match op.as_str() {
            "_is_null" => match value {
                GqlValue::Boolean(true) => compare(field, CompareOp::Eq, Literal::Null),
                GqlValue::Boolean(false) => compare(field, CompareOp::NotEq, Literal::Null),
                _ => continue,
            },
            "_in" | "_nin" => {
                let GqlValue::List(items) = value else { continue };
                let items = items
                    .iter()
                    .map(|item| Ok(ListItem { literal: literal(item)?, position: 0 }))
                    .collect::<Result<Vec<_>, GqlError>>()?;
                if items.is_empty() {
                    // Nothing is in an empty list.
                    let never = compare(field, CompareOp::Eq, Literal::Null);
                    let never = Expr::And(vec![never.clone(), Expr::Not(Box::new(never))]);
                    if op.as_str() == "_in" {
                        never
                    } else {
                        Expr::Not(Box::new(never))
                    }
                } else {
                    let list = Expr::In(InList { operand: operand(field), in_position: 0, items });
                    if op.as_str() == "_in" {
                        list
                    } else {
                        Expr::Not(Box::new(list))
                    }
                }
            }
            name => {
                if matches!(value, GqlValue::Null) {
                    // An explicit null operand is no condition (Hasura's reading).
                    continue;
                }
                let (op, negated) = match name {
                    "_eq" => (CompareOp::Eq, false),
                    "_neq" => (CompareOp::NotEq, false),
                    "_gt" => (CompareOp::Gt, false),
                    "_gte" => (CompareOp::Ge, false),
                    "_lt" => (CompareOp::Lt, false),
                    "_lte" => (CompareOp::Le, false),
                    "_like" => (CompareOp::Like, false),
                    "_nlike" => (CompareOp::Like, true),
                    "_ilike" => (CompareOp::ILike, false),
                    "_nilike" => (CompareOp::ILike, true),
                    other => return Err(invalid(format!("unknown comparison '{other}'"))),
                };
                let expr = compare(field, op, literal(value)?);
                if negated {
                    Expr::Not(Box::new(expr))
                } else {
                    expr
                }
            }
        };
        parts.push(part);
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Expr::And(parts)),
    })
}

/// The keys of an `order_by` value (a list of `<table>_order_by` objects, or one), each
/// object's keys in the order written.
pub fn order_keys(
    model: &Model,
    table: &TableModel,
    value: &GqlValue,
    caller: &Caller,
) -> Result<Vec<GraphOrder>, GqlError> {
    let resolver = PathResolver { catalog: &model.catalog, root: &table.table, caller };
    let mut keys = Vec::new();
    let items: Vec<&GqlValue> = match value {
        GqlValue::List(items) => items.iter().collect(),
        GqlValue::Null => Vec::new(),
        single => vec![single],
    };
    for item in items {
        order_object(model, table, item, "", &resolver, &mut keys)?;
    }
    Ok(keys)
}

fn order_object(
    model: &Model,
    table: &TableModel,
    value: &GqlValue,
    prefix: &str,
    resolver: &PathResolver<'_>,
    keys: &mut Vec<GraphOrder>,
) -> Result<(), GqlError> {
    for (name, direction) in object(value, "an order_by")? {
        match table.fields.get(name.as_str()) {
            Some(OutField::Column { column, .. }) => {
                let (descending, nulls_first) = match direction {
                    GqlValue::Enum(d) => match d.as_str() {
                        "asc" => (false, None),
                        "asc_nulls_first" => (false, Some(true)),
                        "asc_nulls_last" => (false, Some(false)),
                        "desc" => (true, None),
                        "desc_nulls_first" => (true, Some(true)),
                        "desc_nulls_last" => (true, Some(false)),
                        other => return Err(invalid(format!("unknown order '{other}'"))),
                    },
                    GqlValue::Null => continue,
                    _ => return Err(invalid("an order is asc, desc, or one of their nulls_first/last forms")),
                };
                let path = format!("{prefix}{column}");
                let field = resolver.resolve(&path).ok_or_else(|| {
                    invalid(format!(
                        "cannot order by '{path}': a related table on the way is not readable in full by the caller"
                    ))
                })?;
                keys.push(GraphOrder { field, descending, nulls_first });
            }
            Some(OutField::Object { column, target }) => {
                order_object(model, model.table(target), direction, &format!("{prefix}{column}."), resolver, keys)?;
            }
            _ => return Err(invalid(format!("cannot order by '{name}'"))),
        }
    }
    Ok(())
}
