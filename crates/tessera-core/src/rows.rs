//! Row services: validate, then one store call. Rows come back from the store as JSON
//! text built by the database and are passed through untouched.

use crate::access::{authorize, precheck, RequestMacros};
use crate::auth::users::prepare_user_body;
use crate::auth::Caller;
use crate::catalog::Table;
use crate::cursor;
use crate::expand::{expansions, parse_expand, ExpandNode};
use crate::fields::{parse_fields, Columns};
use crate::files::refs::Uploaded;
use crate::paths::PathResolver;
use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_query::filter::{compile_filter, CompileContext};
use tessera_query::sort::parse_sort;
use tessera_query::SqlWriter;
use tessera_schema::validate::WriteMode;
use tessera_schema::{Action, OWNER_FIELD};
use tessera_store::{AccessFilter, Inserted, ListSpec, NewRow};

/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 30;
/// Largest page.
pub const MAX_LIMIT: u32 = 1000;
/// Longest accepted filter text.
pub const MAX_FILTER_LEN: usize = 4096;

/// Query parameters of a list request, as the user wrote them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub cursor: Option<String>,
    pub fields: Option<String>,
    pub total: Option<String>,
    pub expand: Option<String>,
}

/// Query parameters of a single-row read.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    pub expand: Option<String>,
    pub fields: Option<String>,
}

/// One page of rows.
#[derive(Debug, Clone)]
pub struct ListResult {
    /// Each row as JSON text.
    pub items: Vec<String>,
    pub limit: u32,
    pub offset: u64,
    pub total: Option<i64>,
    /// Present when the page is full: pass it as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

impl ListResult {
    /// `{"items": [...], "limit": .., "offset": .., "total": .., "next_cursor": ..}`.
    pub fn to_json_text(&self) -> String {
        let mut out = String::with_capacity(self.items.iter().map(|i| i.len() + 1).sum::<usize>() + 96);
        out.push_str("{\"items\":[");
        push_joined(&mut out, &self.items);
        out.push_str(&format!("],\"limit\":{},\"offset\":{}", self.limit, self.offset));
        if let Some(total) = self.total {
            out.push_str(&format!(",\"total\":{total}"));
        }
        if let Some(cursor) = &self.next_cursor {
            out.push_str(&format!(",\"next_cursor\":{}", Json::String(cursor.clone())));
        }
        out.push('}');
        out
    }

    /// The rows as a plain JSON array (the original service's list shape).
    pub fn items_json_array(&self) -> String {
        let mut out = String::from("[");
        push_joined(&mut out, &self.items);
        out.push(']');
        out
    }
}

fn push_joined(out: &mut String, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
}

/// What a create returned.
#[derive(Debug, Clone)]
pub enum WriteResult {
    /// One row, as JSON text.
    One(String),
    /// A bulk create: how many rows and their ids.
    Many { ids: Vec<i64> },
}

fn parse_id(id: &str) -> Result<i64, CoreError> {
    id.parse::<i64>().map_err(|_| {
        CoreError::bad_request("id", format!("row id '{}' is not an integer", id.chars().take(40).collect::<String>()))
    })
}

fn parse_number<T: std::str::FromStr>(parameter: &str, text: &str) -> Result<T, CoreError> {
    text.trim().parse::<T>().map_err(|_| {
        CoreError::bad_request(
            parameter,
            format!(
                "'{parameter}' must be a non-negative integer, got '{}'",
                text.chars().take(40).collect::<String>()
            ),
        )
    })
}

/// Applies what the server decides about a body before it is validated: the users
/// table's identity and password rules, and a table's `owner` (the creating user; only
/// admins may set it to anyone else, or change it).
fn prepare_body(table: &Table, body: &mut Json, caller: &Caller, create: bool) -> Result<(), CoreError> {
    if table.is_users() {
        prepare_user_body(body, caller, create)?;
    }
    if !table.schema.has_owner() || caller.is_admin() && body.get(OWNER_FIELD).is_some() {
        return Ok(());
    }
    let Some(map) = body.as_object_mut() else { return Ok(()) };
    match (map.get(OWNER_FIELD), create) {
        (None, true) => {
            map.insert(OWNER_FIELD.into(), caller.user_id().map_or(Json::Null, Json::from));
        }
        (Some(given), true) if given.as_i64().is_some() && given.as_i64() == caller.user_id() => {}
        (Some(_), true) => {
            return Err(CoreError::Forbidden("'owner' is set by the server to the creating user".into()));
        }
        (Some(_), false) => return Err(CoreError::Forbidden("only an admin may change a row's 'owner'".into())),
        (None, false) => {}
    }
    Ok(())
}

impl App {
    /// Creates rows. `single` answers with the row; otherwise with the ids. A bulk
    /// create is one transaction: any invalid row fails all, naming its index. Rows are
    /// validated as the iterator yields them, so a streamed body (NDJSON) never holds
    /// more than one parsed JSON document at a time. Each row must pass the create rule.
    pub async fn create_rows(
        &self,
        key: &str,
        bodies: impl IntoIterator<Item = Result<Json, CoreError>>,
        single: bool,
        caller: &Caller,
    ) -> Result<WriteResult, CoreError> {
        let mut bodies = bodies.into_iter();
        if single {
            let body = bodies.next().unwrap_or_else(|| Err(CoreError::bad_request("body", "no row to create")))?;
            return self
                .retry_on_stale(|| self.insert_validated(key, std::iter::once(Ok(body.clone())), true, caller, &[]))
                .await;
        }
        // A bulk body is consumed as it is validated, so it cannot be replayed: a bulk
        // create that meets a concurrent migration answers 409 schema_changed instead.
        self.insert_validated(key, bodies, false, caller, &[]).await
    }

    /// `uploaded`: the files this request stored (a form's), the only names it may set.
    pub(crate) async fn insert_validated(
        &self,
        key: &str,
        bodies: impl Iterator<Item = Result<Json, CoreError>>,
        single: bool,
        caller: &Caller,
        uploaded: &Uploaded,
    ) -> Result<WriteResult, CoreError> {
        let table = self.table(key)?;
        precheck(&table, Action::Create, caller)?;
        if table.is_users() && !single {
            return Err(CoreError::bad_request("body", "users are created one at a time"));
        }
        let mut rows: Vec<NewRow> = Vec::new();
        for (index, body) in bodies.enumerate() {
            let row_index = (!single).then_some(index);
            let mut body = body?;
            prepare_body(&table, &mut body, caller, true)?;
            self.prepare_file_write(&table, None, &mut body, uploaded, false).await?;
            let values = table
                .validator
                .validate(&body, WriteMode::Create)
                .map_err(|errors| CoreError::InvalidRow { errors, row_index })?;
            authorize(&table, Action::Create, caller, Some(&values))?;
            rows.push(values);
        }
        if rows.is_empty() {
            return Err(CoreError::bad_request("body", "no rows to create: the body holds none"));
        }
        if table.is_users() {
            for row in rows.iter_mut() {
                self.hash_password_in(row).await?;
            }
        }
        let inserted =
            self.store().insert_rows(&table.schema, rows, single).await.map_err(|e| match CoreError::from(e) {
                CoreError::Duplicate { field, row_index } => {
                    CoreError::Duplicate { field, row_index: row_index.filter(|_| !single) }
                }
                other => other,
            })?;
        Ok(match inserted {
            Inserted::Rows(mut rows) => WriteResult::One(rows.pop().unwrap_or_default()),
            Inserted::Ids(ids) => WriteResult::Many { ids },
        })
    }

    /// Runs `attempt`; if the table changed under it (a concurrent migration, here or in
    /// another copy of tessera), reloads the catalog and runs it once more on the new schema.
    pub(crate) async fn retry_on_stale<T, Attempt>(&self, attempt: impl Fn() -> Attempt) -> Result<T, CoreError>
    where
        Attempt: std::future::Future<Output = Result<T, CoreError>>,
    {
        match attempt().await {
            Err(CoreError::Stale(_)) => {
                self.reload_catalog().await?;
                attempt().await
            }
            other => other,
        }
    }

    pub async fn get_row(&self, key: &str, id: &str, params: &GetParams, caller: &Caller) -> Result<String, CoreError> {
        self.retry_on_stale(|| self.get_row_once(key, id, params, caller)).await
    }

    async fn get_row_once(
        &self,
        key: &str,
        id: &str,
        params: &GetParams,
        caller: &Caller,
    ) -> Result<String, CoreError> {
        let table = self.table(key)?;
        let id_number = parse_id(id)?;
        let condition = authorize(&table, Action::View, caller, None)?;
        let (nodes, fields) =
            self.parse_expand_and_fields(&table, params.expand.as_deref(), params.fields.as_deref())?;
        let macros = RequestMacros { caller, body: None };
        let access = condition.map(|expr| AccessFilter { expr, macros: &macros });
        let expand = expansions(&nodes, caller, &macros);
        self.store()
            .get_row(&table.schema, id_number, fields.as_deref(), access.as_ref(), &expand)
            .await?
            .ok_or_else(|| CoreError::RowNotFound { table: table.schema.name.clone(), id: id.to_string() })
    }

    /// PATCH (`replace` false: only given fields) or PUT (`replace` true: the whole row).
    pub async fn update_row(
        &self,
        key: &str,
        id: &str,
        body: &Json,
        replace: bool,
        caller: &Caller,
    ) -> Result<String, CoreError> {
        self.retry_on_stale(|| self.update_row_once(key, id, body, replace, caller, &[])).await
    }

    /// `uploaded`: as for [`App::insert_validated`]; names the row holds may be kept.
    pub(crate) async fn update_row_once(
        &self,
        key: &str,
        id: &str,
        body: &Json,
        replace: bool,
        caller: &Caller,
        uploaded: &Uploaded,
    ) -> Result<String, CoreError> {
        let table = self.table(key)?;
        let id_number = parse_id(id)?;
        if table.is_users() && replace {
            return Err(CoreError::bad_request(
                "body",
                "change a user with PATCH, which keeps the fields it does not name",
            ));
        }
        precheck(&table, Action::Update, caller)?;
        let mut body = body.clone();
        prepare_body(&table, &mut body, caller, false)?;
        let dropped_files = self.prepare_file_write(&table, Some(id_number), &mut body, uploaded, replace).await?;
        let mode = if replace { WriteMode::Replace } else { WriteMode::Update };
        let mut values = table
            .validator
            .validate(&body, mode)
            .map_err(|errors| CoreError::InvalidRow { errors, row_index: None })?;
        if table.schema.has_owner() && body.get(OWNER_FIELD).is_none() {
            // A whole-row PUT keeps the owner: it is the server's, not part of the body.
            values.retain(|(name, _)| name != OWNER_FIELD);
        }
        let condition = authorize(&table, Action::Update, caller, Some(&values))?;
        // The rule is compiled inside the store call that consumes `values`: keep a copy
        // for its `@request.body` macros only when there is a rule to compile.
        let macros_row = if condition.is_some() { values.clone() } else { Vec::new() };
        let macros = RequestMacros { caller, body: Some((&table.schema, &macros_row)) };
        let access = condition.map(|expr| AccessFilter { expr, macros: &macros });
        let new_password = table.is_users() && self.hash_password_in(&mut values).await?;
        let updated = self
            .store()
            .update_row(&table.schema, id_number, values, access.as_ref())
            .await?
            .ok_or_else(|| CoreError::RowNotFound { table: table.schema.name.clone(), id: id.to_string() })?;
        if table.is_users() {
            self.forget_user_tokens(id_number);
        }
        if new_password {
            // Sessions started with the old password end.
            self.store().revoke_user_refresh_tokens(id_number, self.now()).await?;
        }
        self.remove_files(table.schema.id, dropped_files).await;
        Ok(updated)
    }

    pub async fn delete_row(&self, key: &str, id: &str, caller: &Caller) -> Result<(), CoreError> {
        let table = self.table(key)?;
        let id_number = parse_id(id)?;
        let condition = authorize(&table, Action::Delete, caller, None)?;
        let macros = RequestMacros { caller, body: None };
        let access = condition.map(|expr| AccessFilter { expr, macros: &macros });
        let deleted = if table.has_files() || table.cascades_to_files {
            self.delete_row_and_files(&table, id_number, access.as_ref()).await
        } else {
            self.store().delete_row(&table.schema, id_number, access.as_ref()).await
        };
        let deleted = match deleted {
            Err(tessera_store::StoreError::Referenced) => return Err(self.referenced(&table, id_number).await),
            other => other?,
        };
        if !deleted {
            return Err(CoreError::RowNotFound { table: table.schema.name.clone(), id: id.to_string() });
        }
        if table.is_users() {
            self.store().delete_user_tokens(id_number).await?;
            self.forget_user_tokens(id_number);
        }
        Ok(())
    }

    /// The `expand` and `fields` parameters of a read: the expansions, with the fields
    /// picked of each, and the fields of the table's own rows (`None`: all).
    fn parse_expand_and_fields(
        &self,
        table: &Table,
        expand: Option<&str>,
        fields: Option<&str>,
    ) -> Result<(Vec<ExpandNode>, Option<Columns>), CoreError> {
        let mut nodes = match expand.map(str::trim).filter(|t| !t.is_empty()) {
            Some(text) => parse_expand(&self.catalog(), table, text)?,
            None => Vec::new(),
        };
        let fields = match fields.map(str::trim).filter(|f| !f.is_empty()) {
            Some(text) => parse_fields(text, &table.schema, &mut nodes)?,
            None => None,
        };
        Ok((nodes, fields))
    }

    /// One page of rows: one SQL statement, plus a count when `total=true`.
    pub async fn list_rows(&self, key: &str, params: &ListParams, caller: &Caller) -> Result<ListResult, CoreError> {
        self.retry_on_stale(|| self.list_rows_once(key, params, caller)).await
    }

    async fn list_rows_once(&self, key: &str, params: &ListParams, caller: &Caller) -> Result<ListResult, CoreError> {
        let table = self.table(key)?;
        let schema = &table.schema;
        let catalog = self.catalog();
        let resolver = PathResolver { catalog: &catalog, root: &table, caller };
        let condition = authorize(&table, Action::List, caller, None)?;
        let macros = RequestMacros { caller, body: None };
        let access = condition.map(|expr| AccessFilter { expr, macros: &macros });
        let limit = match &params.limit {
            Some(text) => parse_number::<u32>("limit", text)?,
            None => DEFAULT_LIMIT,
        };
        if limit == 0 || limit > MAX_LIMIT {
            return Err(CoreError::bad_request(
                "limit",
                format!("'limit' must be between 1 and {MAX_LIMIT}, got {limit}"),
            ));
        }
        let offset = match &params.offset {
            Some(text) => parse_number::<u64>("offset", text)?,
            None => 0,
        };
        let filter = params.filter.as_deref().map(str::trim).filter(|f| !f.is_empty());
        if let Some(filter) = filter {
            if filter.chars().count() > MAX_FILTER_LEN {
                return Err(CoreError::bad_request(
                    "filter",
                    format!("'filter' is longer than {MAX_FILTER_LEN} characters"),
                ));
            }
            // Check the filter now so its errors are the user's 400, not the store's.
            let ctx = CompileContext::new(&resolver).with_qualifier(&schema.name);
            compile_filter(filter, &ctx, &mut SqlWriter::new(self.store().dialect()))?;
        }
        let sort_spec = params.sort.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let sort = match sort_spec {
            Some(spec) => parse_sort(spec, &resolver)?,
            None => Vec::new(),
        };
        // A cursor holds the last row's sort values, which a related field is not one of.
        let keyset = !sort.iter().any(|key| key.field.is_related());
        let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(_) if offset > 0 => {
                return Err(CoreError::bad_request("cursor", "use either 'cursor' or 'offset', not both"));
            }
            Some(_) if !keyset => {
                return Err(CoreError::bad_request(
                    "cursor",
                    "a sort by a field of a related table pages with 'offset', not 'cursor'",
                ));
            }
            Some(text) => Some(cursor::decode(text, sort_spec.unwrap_or(""), &sort)?),
            None => None,
        };
        let total = match params.total.as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") | Some("") => true,
            Some(other) => {
                return Err(CoreError::bad_request(
                    "total",
                    format!("'total' must be true or false, got '{}'", other.chars().take(20).collect::<String>()),
                ))
            }
        };
        let (nodes, fields) =
            self.parse_expand_and_fields(&table, params.expand.as_deref(), params.fields.as_deref())?;
        let expand = expansions(&nodes, caller, &macros);
        let spec = ListSpec {
            resolver: Some(&resolver),
            filter: filter.map(str::to_string),
            sort,
            after,
            fields,
            limit,
            offset,
        };
        let items = self.store().list_rows(schema, &spec, access.as_ref(), &expand).await?;
        let total = if total {
            Some(self.store().count_rows(schema, filter, Some(&resolver), access.as_ref()).await?)
        } else {
            None
        };
        let next_cursor = if items.len() == limit as usize && keyset {
            items.last().and_then(|last| cursor::encode(last, sort_spec.unwrap_or(""), &spec.sort))
        } else {
            None
        };
        Ok(ListResult { items, limit, offset, total, next_cursor })
    }
}
