//! Root fields: each reads with ONE statement built from its whole selection, or writes
//! through the same services as REST (validation, rules, owners, files) and then reads
//! what it wrote with one statement.

use crate::model::{Model, QueryRoot, TableModel};
use crate::select::Planner;
use crate::selection::Sel;
use crate::{GqlError, RequestContext};
use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};
use async_graphql::{Name, Value as GqlValue};
use indexmap::IndexMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tessera_core::access::RequestMacros;
use tessera_core::auth::Session;
use tessera_core::{CoreError, WriteResult};
use tessera_schema::Action;
use tessera_store::graph::{GraphRoot, GraphSelect};

type Outcome = Result<Option<GqlValue>, GqlError>;
/// A read's answer as the JSON text the database built (`None`: null).
pub(crate) type Text = Result<Option<String>, GqlError>;

/// Wraps an async resolver body: fetches the request's context and maps its errors the
/// way REST does (`extensions.code`), with the field's path. Root fields are nullable so
/// that one failing field leaves the others' answers in place.
macro_rules! resolver {
    ($name:ident, $body:ident, $writes:expr) => {
        pub fn $name(ctx: ResolverContext<'_>, base: Arc<str>) -> FieldFuture<'_> {
            FieldFuture::new(async move {
                let request = ctx.data::<Arc<RequestContext>>()?.clone();
                let model = ctx.data::<Arc<Model>>()?.clone();
                let field = Sel::of(&ctx);
                let outcome = if $writes && request.failed.load(Ordering::Relaxed) {
                    Err(GqlError::NotRun)
                } else {
                    $body(field, &request, &model, &base).await
                };
                match outcome {
                    Ok(value) => Ok(value.map(FieldValue::value)),
                    Err(e) => {
                        if $writes {
                            request.failed.store(true, Ordering::Relaxed);
                        }
                        // The field is null and the error names it by path; the other
                        // root fields of the request still answer.
                        let error = e.into_graphql(request.mapper).into_server_error(ctx.ctx.item.pos);
                        ctx.ctx.add_error(ctx.ctx.set_error_path(error));
                        Ok(None)
                    }
                }
            })
        }
    };
}

resolver!(query, query_body, false);
resolver!(insert, insert_body, true);
resolver!(insert_one, insert_one_body, true);
resolver!(update, update_body, true);
resolver!(update_by_pk, update_by_pk_body, true);
resolver!(delete, delete_body, true);
resolver!(delete_by_pk, delete_by_pk_body, true);
resolver!(register, register_body, true);
resolver!(login, login_body, true);
resolver!(refresh, refresh_body, true);
resolver!(logout, logout_body, true);

fn planner<'a>(request: &'a RequestContext, model: &'a Model, macros: &'a RequestMacros<'a>) -> Planner<'a> {
    Planner {
        model,
        caller: &request.caller,
        macros,
        limits: &request.limits,
        dialect: request.app.store().dialect(),
        nodes: std::cell::Cell::new(0),
    }
}

/// Runs a root's statement: the JSON text the database built.
async fn read_text(request: &RequestContext, root: &GraphRoot<'_>) -> Text {
    Ok(request.app.store().graph_query(root).await?)
}

/// The database's JSON as a value for the executor.
fn parse(text: Option<String>) -> Outcome {
    let Some(text) = text else { return Ok(None) };
    let value: GqlValue = serde_json::from_str(&text)
        .map_err(|e| GqlError::Core(CoreError::Internal(tessera_store::StoreError::Corrupt(e.to_string()))))?;
    Ok(Some(value))
}

async fn read(request: &RequestContext, root: &GraphRoot<'_>) -> Outcome {
    parse(read_text(request, root).await?)
}

/// Answers a root field of `Query` with ONE statement: the JSON text the database built
/// for the whole selection.
pub(crate) async fn read_root(root: QueryRoot<'_>, field: Sel<'_>, request: &RequestContext, model: &Model) -> Text {
    let macros = RequestMacros { caller: &request.caller, body: None };
    match root {
        QueryRoot::List(table) => {
            let root = {
                let planner = planner(request, model, &macros);
                let (mut select, rows) = planner.rows(table, &field.arguments()?, Action::List, true, 1)?;
                select.fields = planner.fields(table, field.children()?, rows)?;
                GraphRoot::List(select)
            };
            read_text(request, &root).await
        }
        QueryRoot::ByPk(table) => {
            let id = id_argument(&field, "id")?;
            // A root read the caller may never do is refused, as REST refuses it.
            tessera_core::access::authorize(&table.table, Action::View, &request.caller, None)?;
            read_row_text(field, request, model, table, id, Some(Action::View)).await
        }
        QueryRoot::Aggregate(table) => {
            let root = {
                let planner = planner(request, model, &macros);
                let (select, outputs) = planner.aggregate(table, &[field], 1, true)?;
                GraphRoot::Aggregate(select, outputs)
            };
            read_text(request, &root).await
        }
        QueryRoot::Me(users) => match request.caller.user_id() {
            Some(id) => read_row_text(field, request, model, users, id, None).await,
            None => Ok(None),
        },
    }
}

async fn query_body(field: Sel<'_>, request: &RequestContext, model: &Model, _: &str) -> Outcome {
    match model.query_root(field.name()) {
        Some(root) => parse(read_root(root, field, request, model).await?),
        None => Ok(None),
    }
}

fn table<'m>(model: &'m Model, base: &str) -> &'m TableModel {
    model.table(base)
}

fn id_argument(field: &Sel<'_>, name: &str) -> Result<i64, GqlError> {
    let args = field.arguments()?;
    let value = match name.split_once('.') {
        Some((outer, inner)) => match args.get(outer) {
            Some(GqlValue::Object(map)) => map.get(inner).cloned(),
            _ => None,
        },
        None => args.get(name).cloned(),
    };
    match value {
        Some(GqlValue::Number(n)) => {
            n.as_i64().ok_or_else(|| GqlError::bad_input(format!("'{name}' must be an integer")))
        }
        _ => Err(GqlError::bad_input(format!("'{name}' is required"))),
    }
}

/// One row by id as the selection wants it, with `action`'s rule (`None`: no rule, for
/// the caller's own user row).
async fn read_row_text(
    field: Sel<'_>,
    request: &RequestContext,
    model: &Model,
    table: &TableModel,
    id: i64,
    action: Option<Action>,
) -> Text {
    let macros = RequestMacros { caller: &request.caller, body: None };
    let root = {
        let planner = planner(request, model, &macros);
        let mut select = match action {
            Some(action) => planner.row(table, action, false)?,
            None => unrestricted(table),
        };
        select.fields = planner.fields(table, field.children()?, 1)?;
        GraphRoot::ById(select, id)
    };
    read_text(request, &root).await
}

async fn read_row(
    field: Sel<'_>,
    request: &RequestContext,
    model: &Model,
    table: &TableModel,
    id: i64,
    action: Option<Action>,
) -> Outcome {
    parse(read_row_text(field, request, model, table, id, action).await?)
}

fn unrestricted(table: &TableModel) -> GraphSelect<'_> {
    GraphSelect {
        schema: &table.table.schema,
        access: Vec::new(),
        denied: false,
        filter: None,
        order: Vec::new(),
        limit: None,
        offset: 0,
        fields: Vec::new(),
    }
}

/// An input object as the JSON body REST would take.
fn body_of(value: Option<&GqlValue>) -> Result<serde_json::Value, GqlError> {
    match value {
        None | Some(GqlValue::Null) => Ok(serde_json::Value::Object(Default::default())),
        Some(value) => value.clone().into_json().map_err(|e| GqlError::bad_input(e.to_string())),
    }
}

/// `{affected_rows, returning}` as the selection asks, `returning` read in one statement.
async fn mutation_response(
    field: Sel<'_>,
    request: &RequestContext,
    model: &Model,
    table: &TableModel,
    ids: Vec<i64>,
    affected: usize,
    returned: Option<GqlValue>,
) -> Outcome {
    let mut out = IndexMap::new();
    for sub in field.children()? {
        let key = Name::new(sub.key());
        let value = match sub.name() {
            "affected_rows" => GqlValue::from(affected as i64),
            "__typename" => GqlValue::from(format!("{}_mutation_response", table.base)),
            "returning" => match &returned {
                Some(rows) => rows.clone(),
                None => {
                    let macros = RequestMacros { caller: &request.caller, body: None };
                    let root = {
                        let planner = planner(request, model, &macros);
                        let mut select = planner.row(table, Action::List, false)?;
                        select.fields = planner.fields(table, sub.children()?, ids.len() as u64)?;
                        GraphRoot::ByIds(select, ids.clone())
                    };
                    read(request, &root).await?.unwrap_or(GqlValue::List(Vec::new()))
                }
            },
            _ => continue,
        };
        out.insert(key, value);
    }
    Ok(Some(GqlValue::Object(out)))
}

fn written_id(json: &str) -> Result<i64, GqlError> {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|row| row.get("id").and_then(serde_json::Value::as_i64))
        .ok_or_else(|| {
            GqlError::Core(CoreError::Internal(tessera_store::StoreError::Corrupt("a written row has no id".into())))
        })
}

async fn insert_body(field: Sel<'_>, request: &RequestContext, model: &Model, base: &str) -> Outcome {
    let table = table(model, base);
    let objects = match field.arguments()?.shift_remove("objects") {
        Some(GqlValue::List(objects)) => objects,
        _ => return Err(GqlError::bad_input("'objects' is required")),
    };
    let bodies: Vec<serde_json::Value> = objects.iter().map(|o| body_of(Some(o))).collect::<Result<_, _>>()?;
    let single = bodies.len() == 1;
    let created = request.app.create_rows(table.key(), bodies.into_iter().map(Ok), single, &request.caller).await?;
    let ids = match created {
        WriteResult::One(json) => vec![written_id(&json)?],
        WriteResult::Many { ids } => ids,
    };
    let affected = ids.len();
    mutation_response(field, request, model, table, ids, affected, None).await
}

async fn insert_one_body(field: Sel<'_>, request: &RequestContext, model: &Model, base: &str) -> Outcome {
    let table = table(model, base);
    let body = body_of(field.arguments()?.get("object"))?;
    let created = request.app.create_rows(table.key(), [Ok(body)], true, &request.caller).await?;
    let WriteResult::One(json) = created else { return Ok(None) };
    read_row(field, request, model, table, written_id(&json)?, Some(Action::View)).await
}

/// `_inc` as (field, amount) pairs.
fn increments(args: &crate::selection::Arguments) -> Result<Vec<(String, serde_json::Value)>, GqlError> {
    let serde_json::Value::Object(map) = body_of(args.get("_inc"))? else { return Ok(Vec::new()) };
    Ok(map.into_iter().filter(|(name, _)| name != "id").collect())
}

async fn update_body(field: Sel<'_>, request: &RequestContext, model: &Model, base: &str) -> Outcome {
    let table = table(model, base);
    let args = field.arguments()?;
    let macros = RequestMacros { caller: &request.caller, body: None };
    let filter = match args.get("where") {
        Some(value) => planner(request, model, &macros).filter(table, value)?,
        None => None,
    };
    let set = body_of(args.get("_set"))?;
    let ids = request.app.update_where(table.key(), filter, &set, &increments(&args)?, &request.caller).await?;
    let affected = ids.len();
    mutation_response(field, request, model, table, ids, affected, None).await
}

async fn update_by_pk_body(field: Sel<'_>, request: &RequestContext, model: &Model, base: &str) -> Outcome {
    let table = table(model, base);
    let args = field.arguments()?;
    let id = id_argument(&field, "pk_columns.id")?;
    let set = body_of(args.get("_set"))?;
    let increments = increments(&args)?;
    let changed = if increments.is_empty() {
        match request.app.update_row(table.key(), &id.to_string(), &set, false, &request.caller).await {
            Ok(_) => true,
            Err(CoreError::RowNotFound { .. }) => false,
            Err(other) => return Err(other.into()),
        }
    } else {
        let macros = RequestMacros { caller: &request.caller, body: None };
        let by_id = planner(request, model, &macros)
            .filter(table, &GqlValue::from_json(serde_json::json!({"id": {"_eq": id}})).unwrap_or(GqlValue::Null))?;
        !request.app.update_where(table.key(), by_id, &set, &increments, &request.caller).await?.is_empty()
    };
    if !changed {
        return Ok(None);
    }
    read_row(field, request, model, table, id, Some(Action::View)).await
}

async fn delete_body(field: Sel<'_>, request: &RequestContext, model: &Model, base: &str) -> Outcome {
    let table = table(model, base);
    let args = field.arguments()?;
    let where_value = args.get("where").cloned().unwrap_or(GqlValue::Null);
    let macros = RequestMacros { caller: &request.caller, body: None };
    let filter = planner(request, model, &macros).filter(table, &where_value)?;
    // The rows are read before they go: what `returning` shows is what was deleted.
    let returning = field.children()?.into_iter().find(|sub| sub.name() == "returning");
    let returned = match returning {
        Some(sub) => {
            let macros = RequestMacros { caller: &request.caller, body: None };
            let root = {
                let planner = planner(request, model, &macros);
                let mut select = planner.row(table, Action::List, false)?;
                select.access.extend(planner.row(table, Action::Delete, true)?.access);
                select.filter = planner.filter(table, &where_value)?;
                select.fields = planner.fields(table, sub.children()?, u64::from(request.limits.max_rows))?;
                GraphRoot::List(select)
            };
            read(request, &root).await?
        }
        None => None,
    };
    let affected = request.app.delete_where(table.key(), filter, &request.caller).await? as usize;
    mutation_response(
        field,
        request,
        model,
        table,
        Vec::new(),
        affected,
        Some(returned.unwrap_or(GqlValue::List(Vec::new()))),
    )
    .await
}

async fn delete_by_pk_body(field: Sel<'_>, request: &RequestContext, model: &Model, base: &str) -> Outcome {
    let table = table(model, base);
    let id = id_argument(&field, "id")?;
    let before = read_row(field, request, model, table, id, Some(Action::View)).await?;
    match request.app.delete_row(table.key(), &id.to_string(), &request.caller).await {
        Ok(()) => Ok(Some(before.unwrap_or(GqlValue::Null))),
        Err(CoreError::RowNotFound { .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

fn users(model: &Model) -> &TableModel {
    let base = crate::build::users_base(model);
    model.table(&base)
}

async fn register_body(field: Sel<'_>, request: &RequestContext, model: &Model, _: &str) -> Outcome {
    let body = body_of(field.arguments()?.get("object"))?;
    let created = request.app.register(body, &request.caller).await?;
    read_row(field, request, model, users(model), written_id(&created)?, None).await
}

/// A session as `AuthPayload`, its `user` read as the selection asks.
async fn session_payload(field: Sel<'_>, request: &RequestContext, model: &Model, session: Session) -> Outcome {
    let mut out = IndexMap::new();
    for sub in field.children()? {
        let key = Name::new(sub.key());
        let value = match sub.name() {
            "access_token" => GqlValue::from(session.access_token.clone()),
            "refresh_token" => GqlValue::from(session.refresh_token.clone()),
            "token_type" => GqlValue::from(session.token_type),
            "expires_in" => GqlValue::from(session.expires_in),
            "__typename" => GqlValue::from("AuthPayload"),
            "user" => {
                let id = session.user.get("id").and_then(serde_json::Value::as_i64).unwrap_or_default();
                read_row(sub, request, model, users(model), id, None).await?.unwrap_or(GqlValue::Null)
            }
            _ => continue,
        };
        out.insert(key, value);
    }
    Ok(Some(GqlValue::Object(out)))
}

fn text_argument(field: &Sel<'_>, name: &str) -> Result<String, GqlError> {
    match field.arguments()?.get(name) {
        Some(GqlValue::String(text)) => Ok(text.clone()),
        _ => Err(GqlError::bad_input(format!("'{name}' is required"))),
    }
}

async fn login_body(field: Sel<'_>, request: &RequestContext, model: &Model, _: &str) -> Outcome {
    let identity = text_argument(&field, "identity")?;
    let password = text_argument(&field, "password")?;
    let session = request.app.login(&identity, &password, &request.address).await?;
    session_payload(field, request, model, session).await
}

async fn refresh_body(field: Sel<'_>, request: &RequestContext, model: &Model, _: &str) -> Outcome {
    let session = request.app.refresh(&text_argument(&field, "refresh_token")?).await?;
    session_payload(field, request, model, session).await
}

async fn logout_body(field: Sel<'_>, request: &RequestContext, _: &Model, _: &str) -> Outcome {
    request.app.logout(&text_argument(&field, "refresh_token")?).await?;
    Ok(Some(GqlValue::Boolean(true)))
}
