//! Access rules at request time: what one caller may do with one table's rows.
//!
//! A rule is decided as far as the caller alone allows (`decide`): `public`, a rule that
//! holds for this caller whatever the row, or an admin caller need no SQL at all; a rule
//! that fails for every row answers 401/403 at once; only a rule that depends on the row
//! reaches the store, where it becomes part of the statement's WHERE clause — so a list
//! never reads a row the caller may not see, and a hidden row is indistinguishable from a
//! missing one.

use crate::auth::Caller;
use crate::catalog::Table;
use crate::CoreError;
use tessera_query::filter::{compile, decide, parse, references_fields, CompileContext, Decision, Expr, MacroLookup};
use tessera_query::{Dialect, SqlWriter};
use tessera_schema::{Action, FieldType, Rule, TableSchema, Value};
use tessera_store::NewRow;

/// The `@request.*` values of one request: the caller and, for creates and updates, the
/// validated body (fields it does not set are null).
pub struct RequestMacros<'a> {
    pub caller: &'a Caller,
    pub body: Option<(&'a TableSchema, &'a NewRow)>,
}

impl MacroLookup for RequestMacros<'_> {
    fn lookup(&self, path: &str) -> Option<(Value, FieldType)> {
        match path {
            "request.auth.id" => Some((self.caller.user_id().map_or(Value::Null, Value::Integer), FieldType::Integer)),
            "request.auth.role" => {
                Some((self.caller.role().map_or(Value::Null, |role| Value::Text(role.to_string())), FieldType::String))
            }
            _ => {
                let name = path.strip_prefix("request.body.")?;
                let (schema, row) = self.body?;
                let (name, def) = schema.field(name).filter(|(_, def)| !def.hidden)?;
                let value = row.iter().find(|(field, _)| field == name).map_or(Value::Null, |(_, value)| value.clone());
                Some((value, def.field_type))
            }
        }
    }
}

/// A rule, parsed once per catalog snapshot.
pub enum CompiledRule {
    Public,
    Authenticated,
    Admin,
    Expression(Expr),
    /// A stored rule that no longer parses (cannot happen through the API): nobody but
    /// admins passes it.
    Broken,
}

impl CompiledRule {
    pub fn new(rule: &Rule) -> CompiledRule {
        match rule {
            Rule::Public => CompiledRule::Public,
            Rule::Authenticated => CompiledRule::Authenticated,
            Rule::Admin => CompiledRule::Admin,
            Rule::Expression(text) => parse(text).map_or(CompiledRule::Broken, CompiledRule::Expression),
        }
    }
}

/// What the caller may touch: every row, or the rows the expression matches.
pub type RowCondition<'t> = Option<&'t Expr>;

/// Decides `action` on `table` for `caller`. `Ok(None)`: no condition; `Ok(Some(expr))`:
/// only rows matching `expr` (compiled with the same macros by the store); `Err`: 401,
/// 403. `body` is the validated row of a create or update.
pub fn authorize<'t>(
    table: &'t Table,
    action: Action,
    caller: &Caller,
    body: Option<&NewRow>,
) -> Result<RowCondition<'t>, CoreError> {
    caller.check_scope(action, &table.schema.name)?;
    if caller.is_admin() {
        return Ok(None);
    }
    match table.rule(action) {
        CompiledRule::Public => Ok(None),
        CompiledRule::Authenticated if caller.user_id().is_some() => Ok(None),
        CompiledRule::Authenticated | CompiledRule::Admin | CompiledRule::Broken => Err(refusal(table, action, caller)),
        CompiledRule::Expression(expr) => {
            let macros = RequestMacros { caller, body: body.map(|row| (&table.schema, row)) };
            let ctx = CompileContext::new(&table.schema).with_macros(&macros);
            match decide(expr, &ctx) {
                Ok(Decision::Always) => Ok(None),
                Ok(Decision::Depends) if action != Action::Create => Ok(Some(expr)),
                // A create rule cannot name fields (refused when set), so it is always decided.
                Ok(_) | Err(_) => Err(refusal(table, action, caller)),
            }
        }
    }
}

/// Refuses at once what the caller may never do whatever the body: an action outside an
/// API token's scopes, or a keyword rule the caller does not meet. Run before a body is
/// looked at, so an anonymous write answers 401 rather than a complaint about its body.
pub fn precheck(table: &Table, action: Action, caller: &Caller) -> Result<(), CoreError> {
    caller.check_scope(action, &table.schema.name)?;
    if caller.is_admin() {
        return Ok(());
    }
    let refused = match table.rule(action) {
        CompiledRule::Public | CompiledRule::Expression(_) => false,
        CompiledRule::Authenticated => caller.user_id().is_none(),
        CompiledRule::Admin | CompiledRule::Broken => true,
    };
    if refused {
        return Err(refusal(table, action, caller));
    }
    Ok(())
}

/// The 401/403 for an action the caller may never do (built only when refusing: the
/// allowed path of every request stays free of formatting).
fn refusal(table: &Table, action: Action, caller: &Caller) -> CoreError {
    caller.refusal(&format!("{} on table '{}'", action.name(), table.schema.name))
}

/// Checks every expression rule of a schema: it must parse and type-check against the
/// table with the macros of its action, and a create rule must not name fields (there is
/// no row yet; `@request.body.<field>` is the new row's value).
pub fn check_rules(schema: &TableSchema) -> Result<(), CoreError> {
    let sample_caller =
        Caller::User(crate::auth::Principal { user_id: 1, role: crate::auth::USER_ROLE.into(), scopes: None });
    let empty_row: NewRow = Vec::new();
    for action in Action::ALL {
        let Rule::Expression(text) = schema.rules.get(action) else { continue };
        let invalid = |message: String| CoreError::InvalidRules(format!("rule '{}': {message}", action.name()));
        let expr = parse(text).map_err(|e| invalid(e.to_string()))?;
        if action == Action::Create && references_fields(&expr) {
            return Err(invalid(
                "a create rule cannot name fields (there is no row yet); use @request.body.<field>".into(),
            ));
        }
        let body = matches!(action, Action::Create | Action::Update).then_some((schema, &empty_row));
        let macros = RequestMacros { caller: &sample_caller, body };
        let ctx = CompileContext::new(schema).with_macros(&macros);
        compile(&expr, &ctx, &mut SqlWriter::new(Dialect::Sqlite)).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(())
}
