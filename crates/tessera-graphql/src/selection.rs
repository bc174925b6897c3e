//! A field of the parsed document as the planner reads it: its name, response key,
//! arguments with the request's variables put in, and its sub-fields with fragments
//! flattened and `@skip`/`@include` applied.
//!
//! The planner reads the document itself rather than async-graphql's execution context,
//! so that a query can be answered straight from the JSON the database built (the
//! `direct` path) with the same code that serves the executor's resolvers.

use crate::GqlError;
use async_graphql::dynamic::ResolverContext;
use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{Name, Pos, Positioned, Value as GqlValue, Variables};
use indexmap::IndexMap;
use std::collections::HashMap;

/// Arguments by name.
pub type Arguments = IndexMap<Name, GqlValue>;

/// What a selection's values depend on besides the field: the document's fragments and
/// the operation's variables.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    pub variables: &'a Variables,
    pub definitions: &'a [Positioned<VariableDefinition>],
}

impl<'a> Env<'a> {
    pub fn new(
        document: &'a ExecutableDocument,
        variables: &'a Variables,
        definitions: &'a [Positioned<VariableDefinition>],
    ) -> Env<'a> {
        Env { fragments: &document.fragments, variables, definitions }
    }

    /// A variable's value: given, else its default (null for a nullable one).
    fn variable(&self, name: &Name, pos: Pos) -> Result<GqlValue, GqlError> {
        self.definitions
            .iter()
            .find(|def| def.node.name.node == *name)
            .and_then(|def| self.variables.get(name).or_else(|| def.node.default_value()))
            .cloned()
            .ok_or_else(|| GqlError::bad_input(format!("variable ${name} is not defined (line {})", pos.line)))
    }

    /// Whether `@skip`/`@include` leave a selection in.
    fn included(&self, directives: &[Positioned<Directive>]) -> Result<bool, GqlError> {
        for directive in directives {
            let keep_when = match directive.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => continue,
            };
            let condition = match directive.node.get_argument("if") {
                Some(value) => value.node.clone().into_const_with(|name| self.variable(&name, value.pos))?,
                None => continue,
            };
            if matches!(condition, GqlValue::Boolean(true)) != keep_when {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The fields of a selection set, fragments flattened, skipped ones left out.
    pub fn fields(&self, set: &'a SelectionSet) -> Result<Vec<Sel<'a>>, GqlError> {
        let mut out = Vec::new();
        self.collect(set, &mut out, 0)?;
        Ok(out)
    }

    fn collect(&self, set: &'a SelectionSet, out: &mut Vec<Sel<'a>>, depth: usize) -> Result<(), GqlError> {
        for item in &set.items {
            if !self.included(item.node.directives())? {
                continue;
            }
            match &item.node {
                Selection::Field(field) => out.push(Sel { field, env: *self }),
                Selection::InlineFragment(fragment) => self.collect(&fragment.node.selection_set.node, out, depth)?,
                Selection::FragmentSpread(spread) => {
                    // Validation refuses cycles; the bound only guards against a document
                    // that reached here without it.
                    if depth > 64 {
                        return Err(GqlError::bad_input("fragments nest too deep"));
                    }
                    if let Some(fragment) = self.fragments.get(&spread.node.fragment_name.node) {
                        self.collect(&fragment.node.selection_set.node, out, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One selected field.
#[derive(Clone, Copy)]
pub struct Sel<'a> {
    pub field: &'a Positioned<Field>,
    pub env: Env<'a>,
}

impl<'a> Sel<'a> {
    /// The field a resolver of async-graphql's executor is running.
    pub fn of(ctx: &ResolverContext<'a>) -> Sel<'a> {
        let env = &ctx.ctx.query_env;
        Sel {
            field: ctx.ctx.item,
            env: Env {
                fragments: &env.fragments,
                variables: &env.variables,
                definitions: &env.operation.node.variable_definitions,
            },
        }
    }

    pub fn name(&self) -> &'a str {
        self.field.node.name.node.as_str()
    }

    /// The key the field answers under: its alias, else its name.
    pub fn key(&self) -> &'a str {
        self.field.node.response_key().node.as_str()
    }

    pub fn pos(&self) -> Pos {
        self.field.pos
    }

    /// The arguments, variables replaced by their values.
    pub fn arguments(&self) -> Result<Arguments, GqlError> {
        let mut out = Arguments::with_capacity(self.field.node.arguments.len());
        for (name, value) in &self.field.node.arguments {
            let value = value.node.clone().into_const_with(|var| self.env.variable(&var, value.pos))?;
            out.insert(name.node.clone(), value);
        }
        Ok(out)
    }

    /// The sub-fields.
    pub fn children(&self) -> Result<Vec<Sel<'a>>, GqlError> {
        self.env.fields(&self.field.node.selection_set.node)
    }
}
