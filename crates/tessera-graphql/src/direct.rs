//! The direct path: a query whose root fields all read rows is answered with the JSON the
//! database built for each of them, written into the response as it came.
//!
//! async-graphql still parses and validates every request (and applies the limits); only
//! its executor is skipped, which would otherwise rebuild each returned row field by field
//! (a future and a clone per field, twenty rows of five fields is a hundred of them) just
//! to produce the same JSON. The statements are the executor's own (`resolve::read_root`),
//! so both paths answer alike; mutations, introspection and anything else go through the
//! executor.
//!
//! Parsed documents are kept per schema (`Documents`), and so is the validation of an
//! operation without variables: a client repeating a query pays for neither again.

use crate::model::{Model, QueryRoot};
use crate::resolve::read_root;
use crate::selection::{Env, Sel};
use crate::{GqlError, RequestContext};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition, OperationType};
use async_graphql::{PathSegment, Positioned, Response, ServerError, ValidationResult, Value as GqlValue, Variables};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Documents longer than this are parsed for each request rather than kept.
const MAX_KEPT_QUERY_BYTES: usize = 16 * 1024;
/// Documents kept per schema; when full, the cache starts over.
const MAX_KEPT_DOCUMENTS: usize = 512;

/// A parsed document, and what validation said about its operations without variables.
pub struct Prepared {
    pub document: ExecutableDocument,
    validated: Mutex<Vec<(Option<String>, ValidationResult)>>,
}

impl Prepared {
    /// The operation a request runs (`None` when the name matches none, or several
    /// operations and no name: validation reports that).
    pub fn operation(&self, name: Option<&str>) -> Option<&Positioned<OperationDefinition>> {
        match (&self.document.operations, name) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            (DocumentOperations::Multiple(_), None) => None,
        }
    }

    /// Gives the variables left out their declared defaults. Done before anything runs:
    /// async-graphql's `@skip`/`@include` pass reads only the variables sent, so a directive
    /// on a defaulted variable would otherwise differ between the two paths.
    pub fn fill_defaults(&self, name: Option<&str>, variables: &mut Variables) {
        let Some(op) = self.operation(name) else { return };
        for definition in &op.node.variable_definitions {
            let variable = &definition.node.name.node;
            if let (false, Some(default)) = (variables.contains_key(variable), &definition.node.default_value) {
                variables.insert(variable.clone(), default.node.clone());
            }
        }
    }

    pub fn is_mutation(&self, name: Option<&str>) -> bool {
        self.operation(name).is_some_and(|op| op.node.ty == OperationType::Mutation)
    }

    fn validated(&self, name: Option<&str>) -> Option<ValidationResult> {
        let validated = self.validated.lock().unwrap_or_else(|e| e.into_inner());
        validated.iter().find(|(op, _)| op.as_deref() == name).map(|(_, result)| *result)
    }

    /// Keeps a validation that holds for every request with this document: one whose
    /// operation has no variables (with variables, their values are checked too).
    fn remember(&self, name: Option<&str>, result: ValidationResult) {
        if self.operation(name).is_none_or(|op| !op.node.variable_definitions.is_empty()) {
            return;
        }
        let mut validated = self.validated.lock().unwrap_or_else(|e| e.into_inner());
        if validated.len() < 8 && !validated.iter().any(|(op, _)| op.as_deref() == name) {
            validated.push((name.map(str::to_string), result));
        }
    }
}

/// The parsed documents of one schema, by query text.
#[derive(Default)]
pub struct Documents(Mutex<HashMap<String, Arc<Prepared>>>);

impl Documents {
    /// The parsed document of `query`, or `None` when it does not parse (the executor
    /// reports why).
    pub fn prepare(&self, query: &str) -> Option<Arc<Prepared>> {
        if let Some(prepared) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(query) {
            return Some(prepared.clone());
        }
        let document = async_graphql::parser::parse_query(query).ok()?;
        let prepared = Arc::new(Prepared { document, validated: Mutex::new(Vec::new()) });
        if query.len() <= MAX_KEPT_QUERY_BYTES {
            let mut documents = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if documents.len() >= MAX_KEPT_DOCUMENTS {
                documents.clear();
            }
            documents.insert(query.to_string(), prepared.clone());
        }
        Some(prepared)
    }
}

/// The extension that keeps validations and answers queries directly.
pub struct DirectPath;

impl ExtensionFactory for DirectPath {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DirectPath)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DirectPath {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let Some(request) = ctx.data_opt::<Arc<RequestContext>>() else { return next.run(ctx).await };
        let Some(prepared) = &request.prepared else { return next.run(ctx).await };
        let name = request.operation_name.as_deref();
        if let Some(result) = prepared.validated(name) {
            return Ok(result);
        }
        let result = next.run(ctx).await?;
        prepared.remember(name, result);
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let (Some(request), Some(model)) = (ctx.data_opt::<Arc<RequestContext>>(), ctx.data_opt::<Arc<Model>>()) else {
            return next.run(ctx, operation_name).await;
        };
        match answer(request, model).await {
            Some(body) => {
                *request.direct.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
                Response::new(GqlValue::Null)
            }
            None => next.run(ctx, operation_name).await,
        }
    }
}

/// One root field of a direct answer.
enum Root<'a> {
    Typename,
    Read(QueryRoot<'a>, Sel<'a>),
}

/// The whole response body of a query whose root fields all read rows, or `None` for
/// anything else.
async fn answer(request: &RequestContext, model: &Model) -> Option<String> {
    let prepared = request.prepared.as_ref()?;
    let op = prepared.operation(request.operation_name.as_deref())?;
    if op.node.ty != OperationType::Query {
        return None;
    }
    let env = Env::new(&prepared.document, &request.variables, &op.node.variable_definitions);
    let fields = env.fields(&op.node.selection_set.node).ok()?;
    let mut roots: Vec<(&str, Root)> = Vec::with_capacity(fields.len());
    for field in fields {
        if roots.iter().any(|(key, _)| *key == field.key()) {
            // The same key twice merges selections: left to the executor.
            return None;
        }
        let root = match field.name() {
            "__typename" => Root::Typename,
            name => Root::Read(model.query_root(name)?, field),
        };
        roots.push((field.key(), root));
    }
    let answers = futures_util::future::join_all(roots.iter().map(|(_, root)| async move {
        match root {
            Root::Typename => Ok(Some("\"Query\"".to_string())),
            Root::Read(root, field) => read_root(*root, *field, request, model).await,
        }
    }))
    .await;
    let mut body = String::from("{\"data\":{");
    let mut errors = Vec::new();
    for (i, ((key, root), answer)) in roots.iter().zip(answers).enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&serde_json::Value::from(*key).to_string());
        body.push(':');
        match answer {
            Ok(Some(json)) => body.push_str(&json),
            Ok(None) => body.push_str("null"),
            Err(e) => {
                body.push_str("null");
                let pos = match root {
                    Root::Read(_, field) => Some(field.pos()),
                    Root::Typename => None,
                };
                errors.push(field_error(e, request, pos, key));
            }
        }
    }
    body.push('}');
    if !errors.is_empty() {
        body.push_str(",\"errors\":");
        body.push_str(&serde_json::to_string(&errors).ok()?);
    }
    body.push('}');
    Some(body)
}

/// A root field's error as the executor reports it: the REST code in `extensions`, the
/// field's position and path.
fn field_error(error: GqlError, request: &RequestContext, pos: Option<async_graphql::Pos>, key: &str) -> ServerError {
    let mut error = error.into_graphql(request.mapper).into_server_error(pos.unwrap_or_default());
    error.path = vec![PathSegment::Field(key.to_string())];
    error
}
