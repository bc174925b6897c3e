//! Per-table access rules: one per action, each either a keyword (`public`,
//! `authenticated`, `admin`) or an expression in the filter language.
//!
//! This module only knows the shape of a rule and the defaults; checking an expression
//! against the table and compiling it into SQL is the query language's business, so a rule
//! is kept here as the text its author wrote.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The rule of a table owner check: signed in, and the row's `owner` is the caller.
/// Spelled out because `owner = @request.auth.id` alone would match ownerless rows for
/// an anonymous caller (both sides null).
pub const OWNER_RULE: &str = "@request.auth.id != null && owner = @request.auth.id";

/// Longest rule expression accepted, in characters (the filter language's own limit).
pub const MAX_RULE_CHARS: usize = 4096;

/// Who may do one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in caller.
    Authenticated,
    /// Admins only (admins may do everything whatever the rule says).
    Admin,
    /// Callers and rows for which the filter expression holds.
    Expression(String),
}

impl Rule {
    /// Reads a rule as a user writes it. Keywords are case-insensitive; anything else is
    /// an expression, checked later against the table.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("a rule must not be empty: use public, authenticated, admin or an expression".into());
        }
        if trimmed.chars().count() > MAX_RULE_CHARS {
            return Err(format!("a rule is at most {MAX_RULE_CHARS} characters"));
        }
        Ok(match trimmed.to_ascii_lowercase().as_str() {
            "public" => Rule::Public,
            "authenticated" => Rule::Authenticated,
            "admin" => Rule::Admin,
            _ => Rule::Expression(trimmed.to_string()),
        })
    }

    /// The text of the rule, as stored and shown.
    pub fn as_str(&self) -> &str {
        match self {
            Rule::Public => "public",
            Rule::Authenticated => "authenticated",
            Rule::Admin => "admin",
            Rule::Expression(text) => text,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rule, D::Error> {
        let text = String::deserialize(deserializer)?;
        Rule::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The five actions a rule guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    List,
    View,
    Create,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 5] = [Action::List, Action::View, Action::Create, Action::Update, Action::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::View => "view",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    /// Whether the action writes (API token scopes tell reads from writes).
    pub fn is_write(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Delete)
    }
}

/// A table's rules, one per action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub list: Rule,
    pub view: Rule,
    pub create: Rule,
    pub update: Rule,
    pub delete: Rule,
}

impl Default for Rules {
    /// A table without an owner: public reads, signed-in creates, admin-only changes.
    fn default() -> Rules {
        Rules {
            list: Rule::Public,
            view: Rule::Public,
            create: Rule::Authenticated,
            update: Rule::Admin,
            delete: Rule::Admin,
        }
    }
}

impl Rules {
    /// The defaults of a table with an `owner` field: the owner (or an admin) changes
    /// and deletes a row.
    pub fn owned() -> Rules {
        Rules {
            update: Rule::Expression(OWNER_RULE.into()),
            delete: Rule::Expression(OWNER_RULE.into()),
            ..Rules::default()
        }
    }

    pub fn get(&self, action: Action) -> &Rule {
        match action {
            Action::List => &self.list,
            Action::View => &self.view,
            Action::Create => &self.create,
            Action::Update => &self.update,
            Action::Delete => &self.delete,
        }
    }

    pub fn get_mut(&mut self, action: Action) -> &mut Rule {
        match action {
            Action::List => &mut self.list,
            Action::View => &mut self.view,
            Action::Create => &mut self.create,
            Action::Update => &mut self.update,
            Action::Delete => &mut self.delete,
        }
    }

    /// Applies a partial change: `{"update": "admin", ...}`; unnamed actions keep their
    /// rule. Unknown actions and malformed rules are refused.
    pub fn merged(&self, changes: &serde_json::Value) -> Result<Rules, String> {
        let map = changes.as_object().ok_or("'rules' must be an object mapping actions to rules")?;
        let mut rules = self.clone();
        for (key, value) in map {
            let action = Action::ALL.into_iter().find(|a| a.name() == key).ok_or_else(|| {
                format!("'rules' names unknown action '{key}'; the actions are list, view, create, update, delete")
            })?;
            let text = value.as_str().ok_or_else(|| format!("rule '{key}' must be a string"))?;
            *rules.get_mut(action) = Rule::parse(text).map_err(|e| format!("rule '{key}': {e}"))?;
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keywords_and_expressions() {
        assert_eq!(Rule::parse(" Public ").unwrap(), Rule::Public);
        assert_eq!(Rule::parse("ADMIN").unwrap(), Rule::Admin);
        assert_eq!(Rule::parse("age > 5").unwrap(), Rule::Expression("age > 5".into()));
        assert!(Rule::parse("  ").is_err());
    }

    #[test]
    fn merges_partial_changes() {
        let rules = Rules::owned().merged(&json!({"list": "authenticated"})).unwrap();
        assert_eq!(rules.list, Rule::Authenticated);
        assert_eq!(rules.update, Rule::Expression(OWNER_RULE.into()));
        assert!(Rules::default().merged(&json!({"read": "public"})).unwrap_err().contains("unknown action"));
        assert!(Rules::default().merged(&json!({"list": 1})).is_err());
        assert!(Rules::default().merged(&json!(["public"])).is_err());
    }

    #[test]
    fn serializes_as_text() {
        let text = serde_json::to_string(&Rules::owned()).unwrap();
        let back: Rules = serde_json::from_str(&text).unwrap();
        assert_eq!(back, Rules::owned());
        assert!(text.contains("\"list\":\"public\""));
    }
}
