//! GraphQL's "All Variable Usages Are Allowed" rule (a variable may only be used where
//! its declared type fits), which the validator of async-graphql's dynamic schemas does
//! not check: without it, `query ($n: String) { animals(limit: $n) }` would run.

use async_graphql::parser::types::{BaseType, ExecutableDocument, Selection, SelectionSet, Type, VariableDefinition};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Name, Positioned};
use async_graphql_value::Value;
use std::collections::HashMap;

/// The first variable used where its type does not fit, as a message.
pub fn misused_variable(
    registry: &Registry,
    document: &ExecutableDocument,
    selection: &SelectionSet,
    definitions: &[Positioned<VariableDefinition>],
    root_type: &str,
) -> Option<String> {
    let variables: HashMap<&str, &VariableDefinition> =
        definitions.iter().map(|d| (d.node.name.node.as_str(), &d.node)).collect();
    let checker = Checker { registry, document, variables };
    checker.selection(selection, root_type, 0)
}

struct Checker<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    variables: HashMap<&'a str, &'a VariableDefinition>,
}

impl Checker<'_> {
    fn selection(&self, set: &SelectionSet, type_name: &str, depth: usize) -> Option<String> {
        if depth > 32 {
            return None;
        }
        for item in &set.items {
            let found = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let Some(meta) = self.registry.types.get(type_name).and_then(|t| t.field_by_name(&field.name.node))
                    else {
                        continue;
                    };
                    let mut found = None;
                    for (name, value) in &field.arguments {
                        if let Some(arg) = meta.args.get(name.node.as_str()) {
                            found = found.or_else(|| self.value(&value.node, &arg.ty));
                        }
                    }
                    let child = MetaTypeNameOf(&meta.ty).named();
                    found.or_else(|| self.selection(&field.selection_set.node, child, depth + 1))
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let on = fragment.type_condition.as_ref().map_or(type_name, |c| c.node.on.node.as_str());
                    self.selection(&fragment.selection_set.node, on, depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = self.document.fragments.get(&spread.node.fragment_name.node)?;
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    self.selection(&fragment.node.selection_set.node, on, depth + 1)
                }
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Checks the variables inside an argument value expected to be of type `expected`.
    fn value(&self, value: &Value, expected: &str) -> Option<String> {
        let expected_type = Type::new(expected)?;
        match value {
            Value::Variable(name) => self.variable(name, &expected_type),
            Value::List(items) => {
                let item_type = match &expected_type.base {
                    BaseType::List(inner) => inner.to_string(),
                    BaseType::Named(_) => expected_type.to_string().trim_end_matches('!').to_string(),
                };
                items.iter().find_map(|item| self.value(item, &item_type))
            }
            Value::Object(fields) => {
                let BaseType::Named(name) = &expected_type.base else { return None };
                let Some(MetaType::InputObject { input_fields, .. }) = self.registry.types.get(name.as_str()) else {
                    return None;
                };
                fields.iter().find_map(|(key, value)| {
                    input_fields.get(key.as_str()).and_then(|field| self.value(value, &field.ty))
                })
            }
            _ => None,
        }
    }

    fn variable(&self, name: &Name, expected: &Type) -> Option<String> {
        let definition = self.variables.get(name.as_str())?;
        let mut declared = definition.var_type.node.clone();
        if definition.default_value.is_some() {
            // A default stands in for a missing value, so null cannot reach the field.
            declared.nullable = false;
        }
        (!fits(&declared, expected)).then(|| {
            format!("variable '${name}' of type '{}' is used where '{expected}' is expected", definition.var_type.node)
        })
    }
}

/// Whether a value of type `declared` is always a valid `expected`.
fn fits(declared: &Type, expected: &Type) -> bool {
    if !expected.nullable && declared.nullable {
        return false;
    }
    match (&declared.base, &expected.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => fits(a, b),
        _ => false,
    }
}

/// The named type inside a type reference (`[animals!]!` → `animals`).
struct MetaTypeNameOf<'a>(&'a str);

impl<'a> MetaTypeNameOf<'a> {
    fn named(&self) -> &'a str {
        self.0.trim_matches(|c| c == '[' || c == ']' || c == '!')
    }
}
