//! Who is making a request: nobody, a signed-in user (access token), or an API client
//! acting for a user within the token's scopes.

use crate::CoreError;
use tessera_schema::Action;

/// The role that may do everything.
pub const ADMIN_ROLE: &str = "admin";
/// The role new users get.
pub const USER_ROLE: &str = "user";

/// The caller of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    Anonymous,
    User(Principal),
    /// tessera itself (the CLI's import, creating the first admin): an admin that is
    /// not a user, so the rows it creates have no owner.
    System,
}

/// A known user and how they proved it.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: i64,
    pub role: String,
    /// Present for API tokens: what the token may do.
    pub scopes: Option<Scopes>,
}

impl Caller {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Caller::Anonymous | Caller::System => None,
            Caller::User(principal) => Some(principal.user_id),
        }
    }

    pub fn role(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::System => Some(ADMIN_ROLE),
            Caller::User(principal) => Some(&principal.role),
        }
    }

    /// An admin acting with full powers: signed in, or through a token with the `admin`
    /// scope.
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::Anonymous => false,
            Caller::System => true,
            Caller::User(principal) => {
                principal.role == ADMIN_ROLE && principal.scopes.as_ref().is_none_or(|scopes| scopes.admin)
            }
        }
    }

    /// The error for something this caller may never do: 401 without credentials, 403
    /// with them.
    pub fn refusal(&self, what: &str) -> CoreError {
        match self {
            Caller::Anonymous => CoreError::Unauthenticated(format!("{what} needs a signed-in caller")),
            Caller::User(_) | Caller::System => CoreError::Forbidden(format!("{what} is not allowed for this caller")),
        }
    }

    /// Refuses unless the caller is an admin.
    pub fn require_admin(&self, what: &str) -> Result<(), CoreError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(match self {
                Caller::Anonymous => CoreError::Unauthenticated(format!("{what} needs an admin's token")),
                Caller::User(_) | Caller::System => CoreError::Forbidden(format!("only admins may {what}")),
            })
        }
    }

    /// Refuses row actions an API token's scopes do not cover.
    pub fn check_scope(&self, action: Action, table: &str) -> Result<(), CoreError> {
        match self {
            Caller::User(Principal { scopes: Some(scopes), .. }) if !scopes.allows(action, table) => {
                Err(CoreError::Forbidden(format!(
                    "this API token's scopes do not allow {} on table '{table}'",
                    action.name()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The scopes of an API token: `read`, `write` (implies read), each optionally limited
/// to one table (`read:animals`), and `admin` (an admin's full powers).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scopes {
    pub admin: bool,
    /// (may write, table or all tables)
    grants: Vec<(bool, Option<String>)>,
}

/// Most scopes on one token.
const MAX_SCOPES: usize = 50;

impl Scopes {
    /// Parses scope strings; refuses unknown ones and an empty list.
    pub fn parse(items: &[String]) -> Result<Scopes, String> {
        if items.is_empty() {
            return Err(
                "'scopes' must name at least one scope (read, write, read:<table>, write:<table>, admin)".into()
            );
        }
        if items.len() > MAX_SCOPES {
            return Err(format!("at most {MAX_SCOPES} scopes"));
        }
        let mut scopes = Scopes::default();
        for item in items {
            let (access, table) = match item.split_once(':') {
                Some((access, table)) => (access, Some(table)),
                None => (item.as_str(), None),
            };
            if let Some(table) = table {
                tessera_schema::validate_table_name(table).map_err(|e| format!("scope '{item}': {e}"))?;
            }
            match (access, table) {
                ("admin", None) => scopes.admin = true,
                ("read", _) => scopes.grants.push((false, table.map(str::to_string))),
                ("write", _) => scopes.grants.push((true, table.map(str::to_string))),
                _ => {
                    return Err(format!(
                        "unknown scope '{}': use read, write, read:<table>, write:<table> or admin",
                        item.chars().take(80).collect::<String>()
                    ))
                }
            }
        }
        Ok(scopes)
    }

    /// Whether the scopes allow `action` on `table`.
    pub fn allows(&self, action: Action, table: &str) -> bool {
        self.admin
            || self.grants.iter().any(|(write, scope_table)| {
                (*write || !action.is_write()) && scope_table.as_deref().is_none_or(|t| t.eq_ignore_ascii_case(table))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(items: &[&str]) -> Result<Scopes, String> {
        Scopes::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn write_implies_read_and_tables_limit() {
        let s = scopes(&["write:animals", "read"]).unwrap();
        assert!(s.allows(Action::Create, "Animals"));
        assert!(s.allows(Action::List, "zoos"));
        assert!(!s.allows(Action::Delete, "zoos"));
        assert!(!s.admin);
        assert!(scopes(&["admin"]).unwrap().allows(Action::Delete, "zoos"));
    }

    #[test]
    fn refuses_unknown_and_empty() {
        assert!(scopes(&[]).is_err());
        assert!(scopes(&["delete"]).is_err());
        assert!(scopes(&["read:1bad"]).is_err());
        assert!(scopes(&["admin:zoos"]).is_err());
    }

    #[test]
    fn admin_needs_the_admin_scope_on_tokens() {
        let session = Caller::User(Principal { user_id: 1, role: ADMIN_ROLE.into(), scopes: None });
        assert!(session.is_admin());
        let token =
            Caller::User(Principal { user_id: 1, role: ADMIN_ROLE.into(), scopes: Some(scopes(&["write"]).unwrap()) });
        assert!(!token.is_admin());
        assert!(!Caller::Anonymous.is_admin());
    }
}
