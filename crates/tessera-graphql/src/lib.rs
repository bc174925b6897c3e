//! tessera's GraphQL API, generated from the live catalog in the naming Hasura made
//! familiar (`animals`, `animals_by_pk`, `animals_aggregate`, `insert_animals`, ...).
//!
//! Each root field is compiled into ONE SQL statement that builds the field's whole JSON
//! (nested relations included, each with its table's access rule for the caller), so
//! the statements a query runs never grow with the rows it returns. The schema is rebuilt
//! when the catalog changes and swapped atomically: a request runs on the schema it
//! started with.

mod build;
mod direct;
mod filter;
mod model;
mod resolve;
mod select;
mod selection;
mod variables;

use arc_swap::ArcSwap;
use async_graphql::dynamic::Schema;
use async_graphql::{ErrorExtensions, Request, Response};
use std::sync::{Arc, Mutex};
use tessera_core::auth::Caller;
use tessera_core::{App, Catalog, CoreError};

pub use model::FIXED_TYPES;

/// Limits against expensive queries.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of a query.
    pub max_depth: usize,
    /// Most fields a query may select, counted over the whole document.
    pub max_complexity: usize,
    /// Rows of a list without `limit`.
    pub default_rows: u32,
    /// Largest `limit`.
    pub max_rows: u32,
    /// Most rows a query could return, limits multiplied through nested lists.
    pub max_nodes: u64,
    /// Whether `__schema`/`__type` queries are answered.
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // GraphiQL's introspection query is 14 deep, graphql-core's 15.
            max_depth: 16,
            max_complexity: 1000,
            default_rows: 100,
            max_rows: 1000,
            max_nodes: 100_000,
            introspection: true,
        }
    }
}

/// How a service error reads to a client: the same code, message and details as REST.
#[derive(Debug, Clone)]
pub struct MappedError {
    pub code: String,
    pub message: String,
    pub details: Vec<serde_json::Value>,
}

/// Maps service errors the way the HTTP layer does (given by it, so both agree).
pub type ErrorMapper = fn(CoreError) -> MappedError;

/// Why a field failed.
#[derive(Debug)]
pub enum GqlError {
    Core(CoreError),
    /// A client mistake GraphQL validation cannot see (a bad `where` value).
    BadInput(String),
    /// A limit the query exceeds.
    Limit(String),
    /// A mutation field after one that failed in the same request.
    NotRun,
}

impl GqlError {
    pub fn bad_input(message: impl Into<String>) -> GqlError {
        GqlError::BadInput(message.into())
    }

    pub fn limit(message: impl Into<String>) -> GqlError {
        GqlError::Limit(message.into())
    }

    fn into_graphql(self, mapper: ErrorMapper) -> async_graphql::Error {
        let mapped = match self {
            GqlError::Core(error) => mapper(error),
            GqlError::BadInput(message) => MappedError { code: "bad_request".into(), message, details: Vec::new() },
            GqlError::Limit(message) => MappedError { code: "limit_exceeded".into(), message, details: Vec::new() },
            GqlError::NotRun => MappedError {
                code: "not_run".into(),
                message: "not run: an earlier mutation of this request failed".into(),
                details: Vec::new(),
            },
        };
        async_graphql::Error::new(mapped.message).extend_with(|_, extensions| {
            extensions.set("code", mapped.code.as_str());
            if !mapped.details.is_empty() {
                if let Ok(details) = async_graphql::Value::from_json(serde_json::Value::Array(mapped.details.clone())) {
                    extensions.set("details", details);
                }
            }
        })
    }
}

impl From<CoreError> for GqlError {
    fn from(error: CoreError) -> Self {
        GqlError::Core(error)
    }
}

impl From<tessera_store::StoreError> for GqlError {
    fn from(error: tessera_store::StoreError) -> Self {
        GqlError::Core(error.into())
    }
}

/// What one request's resolvers need.
pub(crate) struct RequestContext {
    pub app: App,
    pub caller: Caller,
    pub address: String,
    pub mapper: ErrorMapper,
    pub limits: Limits,
    /// A mutation field of this request failed: the ones after it do not run.
    pub failed: std::sync::atomic::AtomicBool,
    /// The request's parsed document (`None` if it does not parse).
    pub prepared: Option<Arc<direct::Prepared>>,
    pub operation_name: Option<String>,
    pub variables: async_graphql::Variables,
    /// The whole response body, when the direct path answered.
    pub direct: Mutex<Option<String>>,
}

/// Whether the operation a request runs is a mutation (cheaply: most requests never
/// write the word). A document that does not parse is left to the executor to report.
pub fn is_mutation(query: &str, operation: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    if !query.contains("mutation") {
        return false;
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else { return false };
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .filter(|(name, _)| operation.is_none_or(|wanted| name.as_str() == wanted))
            .any(|(_, op)| op.node.ty == OperationType::Mutation),
    }
}

/// A variable used where its type does not fit (only documents that use variables are
/// looked at).
fn misused_variable(schema: &Schema, prepared: &direct::Prepared, operation: Option<&str>) -> Option<String> {
    use async_graphql::parser::types::OperationType;
    let op = prepared.operation(operation)?;
    if op.node.variable_definitions.is_empty() {
        return None;
    }
    let root = match op.node.ty {
        OperationType::Mutation => "Mutation",
        _ => "Query",
    };
    variables::misused_variable(
        schema.registry(),
        &prepared.document,
        &op.node.selection_set.node,
        &op.node.variable_definitions,
        root,
    )
}

/// Puts the root fields of `data` in the order the query selects them (the executor
/// answers them as they complete, but GraphQL promises the query's order).
fn order_root_keys(
    data: &mut indexmap::IndexMap<async_graphql::Name, async_graphql::Value>,
    prepared: &direct::Prepared,
    operation: Option<&str>,
) {
    use async_graphql::parser::types::{Selection, SelectionSet};
    let document = &prepared.document;
    let Some(op) = prepared.operation(operation) else { return };
    let selection = &op.node.selection_set;
    fn keys(
        set: &SelectionSet,
        document: &async_graphql::parser::types::ExecutableDocument,
        out: &mut Vec<String>,
        depth: usize,
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => out.push(field.node.response_key().node.to_string()),
                Selection::InlineFragment(fragment) => keys(&fragment.node.selection_set.node, document, out, depth),
                Selection::FragmentSpread(spread) if depth < 16 => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                        keys(&fragment.node.selection_set.node, document, out, depth + 1);
                    }
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut order = Vec::new();
    keys(&selection.node, document, &mut order, 0);
    data.sort_by_cached_key(|key, _| order.iter().position(|k| k == key.as_str()).unwrap_or(usize::MAX));
}

/// A response as its JSON body.
fn body(response: &Response) -> String {
    serde_json::to_string(response).unwrap_or_else(|e| {
        tracing::error!("a GraphQL response could not be serialized: {e}");
        r#"{"errors":[{"message":"the response could not be serialized","extensions":{"code":"internal"}}]}"#.into()
    })
}

/// A schema and the catalog snapshot it was built from.
struct Built {
    catalog: Arc<Catalog>,
    schema: Schema,
    documents: direct::Documents,
}

/// The GraphQL service: the schema of the current catalog, rebuilt on change.
pub struct GraphqlService {
    app: App,
    limits: Limits,
    mapper: ErrorMapper,
    current: ArcSwap<Option<Arc<Built>>>,
    /// One rebuild at a time; the others wait and take its result.
    rebuilding: Mutex<()>,
}

impl GraphqlService {
    pub fn new(app: App, limits: Limits, mapper: ErrorMapper) -> GraphqlService {
        GraphqlService { app, limits, mapper, current: ArcSwap::from_pointee(None), rebuilding: Mutex::new(()) }
    }

    /// The schema of the live catalog (built now if the catalog changed since).
    fn built(&self) -> Result<Arc<Built>, String> {
        let catalog = self.app.catalog();
        if let Some(built) = self.current.load().as_ref() {
            if Arc::ptr_eq(&built.catalog, &catalog) {
                return Ok(built.clone());
            }
        }
        let _guard = self.rebuilding.lock().unwrap_or_else(|e| e.into_inner());
        let catalog = self.app.catalog();
        if let Some(built) = self.current.load().as_ref() {
            if Arc::ptr_eq(&built.catalog, &catalog) {
                return Ok(built.clone());
            }
        }
        let model = Arc::new(model::Model::new(catalog.clone()));
        let schema = build::build_schema(model, &self.limits).map_err(|e| e.0)?;
        let built = Arc::new(Built { catalog, schema, documents: Default::default() });
        self.current.store(Arc::new(Some(built.clone())));
        Ok(built)
    }

    /// Runs one GraphQL request for `caller`: the JSON body of the answer.
    pub async fn execute(&self, mut request: Request, caller: Caller, address: String) -> String {
        let built = match self.built() {
            Ok(built) => built,
            Err(e) => {
                tracing::error!("cannot build the GraphQL schema: {e}");
                let error =
                    async_graphql::ServerError::new("the GraphQL schema cannot be built; see the server log", None);
                return body(&Response::from_errors(vec![error]));
            }
        };
        let prepared = built.documents.prepare(&request.query);
        let operation = request.operation_name.clone();
        let mut mutation = false;
        if let Some(prepared) = &prepared {
            if let Some(message) = misused_variable(&built.schema, prepared, operation.as_deref()) {
                let mut error = async_graphql::ServerError::new(message, None);
                error.extensions.get_or_insert_with(Default::default).set("code", "invalid_query");
                return body(&Response::from_errors(vec![error]));
            }
            mutation = prepared.is_mutation(operation.as_deref());
            prepared.fill_defaults(operation.as_deref(), &mut request.variables);
            request.set_parsed_query(prepared.document.clone());
        }
        let context = Arc::new(RequestContext {
            app: self.app.clone(),
            caller,
            address,
            mapper: self.mapper,
            limits: self.limits.clone(),
            failed: std::sync::atomic::AtomicBool::new(false),
            prepared: prepared.clone(),
            operation_name: operation.clone(),
            variables: request.variables.clone(),
            direct: Mutex::new(None),
        });
        let execution = built.schema.execute(request.data(context.clone()));
        let mut response = if mutation {
            // All the mutation fields of a request form ONE transaction: any error undoes
            // every write, and the answer then carries the errors and no data.
            match self.app.store().atomic(execution, |response| response.errors.is_empty()).await {
                Ok(mut response) => {
                    if !response.errors.is_empty() {
                        response.data = async_graphql::Value::Null;
                    }
                    response
                }
                Err(e) => {
                    tracing::error!("a GraphQL mutation could not commit: {e}");
                    let error =
                        async_graphql::ServerError::new("the transaction could not commit; nothing was changed", None);
                    Response::from_errors(vec![error])
                }
            }
        } else {
            execution.await
        };
        if let Some(direct) = context.direct.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return direct;
        }
        if let (async_graphql::Value::Object(data), Some(prepared)) = (&mut response.data, &prepared) {
            if data.len() > 1 {
                order_root_keys(data, prepared, operation.as_deref());
            }
        }
        // Parse, validation and limit errors of the document itself carry a code too.
        for error in response.errors.iter_mut() {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", "invalid_query");
            }
        }
        body(&response)
    }

    /// The schema in SDL; `None` when introspection is off (the SDL would tell what
    /// introspection hides).
    pub fn sdl(&self) -> Result<Option<String>, String> {
        if !self.limits.introspection {
            return Ok(None);
        }
        Ok(Some(self.built()?.schema.sdl()))
    }
}
