//! Writes over every row a condition matches (GraphQL's `update_<table>` and
//! `delete_<table>`): each is ONE statement carrying the caller's rule and the condition
//! (built by the caller with its resolvers, see [`GraphFilter`]), so either every matching
//! row changes or none does.

use crate::access::{authorize, precheck, RequestMacros};
use crate::auth::Caller;
use crate::catalog::Table;
use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_schema::validate::{FieldError, WriteMode};
use tessera_schema::{Action, FieldType, OWNER_FIELD};
use tessera_store::graph::GraphFilter;
use tessera_store::{AccessFilter, Increment};

fn refuse_users(table: &Table, what: &str) -> Result<(), CoreError> {
    if table.is_users() {
        return Err(CoreError::bad_request(
            "where",
            format!("users are {what} one at a time (by id), so their sessions and tokens follow"),
        ));
    }
    Ok(())
}

impl App {
    /// Sets `set` (a partial row, validated as a PATCH body) and adds `increments` (numeric
    /// fields only) on every row `filter` matches and the update rule allows. Returns the
    /// ids of the changed rows.
    pub async fn update_where(
        &self,
        key: &str,
        filter: Option<GraphFilter<'_>>,
        set: &Json,
        increments: &[(String, Json)],
        caller: &Caller,
    ) -> Result<Vec<i64>, CoreError> {
        let table = self.table(key)?;
        refuse_users(&table, "changed")?;
        precheck(&table, Action::Update, caller)?;
        if set.get(OWNER_FIELD).is_some() && !caller.is_admin() {
            return Err(CoreError::Forbidden("only an admin may change a row's 'owner'".into()));
        }
        let values = table
            .validator
            .validate(set, WriteMode::Update)
            .map_err(|errors| CoreError::InvalidRow { errors, row_index: None })?;
        if values.iter().any(|(name, _)| table.schema.fields.get(name).is_some_and(|def| !def.is_column())) {
            return Err(CoreError::bad_request(
                "_set",
                "a relation with 'multiple' is set one row at a time (update_<table>_by_pk)",
            ));
        }
        let increments = self.increments(&table, increments)?;
        if values.is_empty() && increments.is_empty() {
            return Err(CoreError::bad_request("_set", "nothing to update: give _set or _inc"));
        }
        let condition = authorize(&table, Action::Update, caller, Some(&values))?;
        let macros_row = if condition.is_some() { values.clone() } else { Vec::new() };
        let macros = RequestMacros { caller, body: Some((&table.schema, &macros_row)) };
        let access = condition.map(|expr| AccessFilter { expr, macros: &macros });
        match self.store().update_where(&table.schema, filter.as_ref(), access.as_ref(), values, &increments).await? {
            Some(ids) => Ok(ids),
            None => Err(CoreError::InvalidRow {
                errors: increments
                    .iter()
                    .filter(|i| i.min.is_some() || i.max.is_some())
                    .map(|i| FieldError {
                        field: i.field.clone(),
                        code: "out_of_range",
                        message:
                            "the increment would take a matching row out of the field's min/max; nothing was changed"
                                .into(),
                    })
                    .collect(),
                row_index: None,
            }),
        }
    }

    /// `_inc` amounts: numbers for integer or float fields.
    fn increments(&self, table: &Table, amounts: &[(String, Json)]) -> Result<Vec<Increment>, CoreError> {
        let mut increments = Vec::new();
        for (name, amount) in amounts {
            if amount.is_null() {
                continue;
            }
            let (field, def) = table
                .schema
                .field(name)
                .filter(|(_, def)| matches!(def.field_type, FieldType::Integer | FieldType::Float) && !def.hidden)
                .ok_or_else(|| CoreError::bad_request("_inc", format!("'{name}' is not a numeric field")))?;
            let value = match (def.field_type, amount.as_i64(), amount.as_f64()) {
                (FieldType::Integer, Some(n), _) => tessera_schema::Value::Integer(n),
                (FieldType::Float, _, Some(x)) if x.is_finite() => tessera_schema::Value::Float(x),
                _ => return Err(CoreError::bad_request("_inc", format!("'{name}' takes a {} amount", def.field_type))),
            };
            increments.push(Increment {
                field: field.to_string(),
                amount: value,
                field_type: def.field_type,
                min: def.min,
                max: def.max,
            });
        }
        Ok(increments)
    }

    /// Deletes every row `filter` matches and the delete rule allows; returns how many.
    /// Their stored files are removed after the delete commits.
    pub async fn delete_where(
        &self,
        key: &str,
        filter: Option<GraphFilter<'_>>,
        caller: &Caller,
    ) -> Result<u64, CoreError> {
        let table = self.table(key)?;
        refuse_users(&table, "deleted")?;
        let condition = authorize(&table, Action::Delete, caller, None)?;
        let macros = RequestMacros { caller, body: None };
        let access = condition.map(|expr| AccessFilter { expr, macros: &macros });
        let deleted = match self.delete_where_and_files(&table, filter.as_ref(), access.as_ref()).await {
            Err(tessera_store::StoreError::Referenced) => {
                return Err(CoreError::Referenced {
                    table: table.schema.name.clone(),
                    id: "(several)".into(),
                    by: Vec::new(),
                })
            }
            other => other?,
        };
        Ok(deleted.len() as u64)
    }
}
