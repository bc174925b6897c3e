//! The built-in users table: its definition, how it is created on a fresh store, the
//! first admin, and what the auth service does to a body before it is written there
//! (normalized identities, password rules and hashing, who may set a role).

use super::{Caller, ADMIN_ROLE, USER_ROLE};
use crate::{App, CoreError};
use serde_json::{json, Map, Value as Json};
use tessera_schema::validate::FieldError;
use tessera_schema::{FieldDef, Rule, Rules, TableKind, TableSchema, Value};
use tessera_store::{NewRow, StoreError};

/// The name of the users table.
pub const USERS_TABLE: &str = "users";

/// "The caller is this user": the users table's default for seeing and changing a row.
const SELF_RULE: &str = "@request.auth.id != null && id = @request.auth.id";

fn managed(spec: Json) -> FieldDef {
    FieldDef::from_json(&spec).expect("built-in field definitions are valid").managed()
}

/// The users table as a fresh store gets it.
fn users_table_draft() -> TableSchema {
    let mut fields = indexmap::IndexMap::new();
    fields.insert("email".to_string(), managed(json!({"type": "email", "unique": true, "max_length": 254})));
    fields.insert(
        "username".to_string(),
        managed(json!({"type": "string", "unique": true, "max_length": 64, "pattern": "[A-Za-z0-9_.-]+"})),
    );
    fields.insert("password".to_string(), FieldDef { hidden: true, ..managed(json!({"type": "string"})) });
    fields.insert(
        "role".to_string(),
        managed(json!({"type": "string", "required": true, "default": USER_ROLE, "indexed": true,
                       "max_length": 32, "pattern": "[a-z][a-z0-9_]*"})),
    );
    let own = Rule::Expression(SELF_RULE.into());
    TableSchema {
        kind: TableKind::Auth,
        rules: Rules { list: own.clone(), view: own.clone(), create: Rule::Public, update: own, delete: Rule::Admin },
        ..TableSchema::new(0, USERS_TABLE, 1, fields)
    }
}

impl App {
    /// Creates the users table on a store that has none. Safe when several copies of
    /// tessera start on one store at once: the loser of the race just reloads.
    pub(crate) async fn ensure_users_table(&self) -> Result<(), CoreError> {
        if self.catalog().users().is_some() {
            return Ok(());
        }
        match self.store().create_table(users_table_draft()).await {
            Ok(_) | Err(StoreError::TableExists(_)) => {}
            Err(other) => return Err(other.into()),
        }
        self.reload_catalog().await?;
        if self.catalog().users().is_none() {
            return Err(CoreError::Internal(StoreError::Corrupt(format!(
                "a table named '{USERS_TABLE}' exists but is not tessera's users table; rename it first"
            ))));
        }
        Ok(())
    }

    /// Creates an admin (the CLI's `admin create`, and the first admin from the
    /// environment); returns the new user's id.
    pub async fn create_admin(&self, email: &str, password: &str) -> Result<i64, CoreError> {
        let body = json!({"email": email, "password": password, "role": ADMIN_ROLE});
        let row = self.create_rows(USERS_TABLE, [Ok(body)], true, &Caller::System).await?;
        match row {
            crate::WriteResult::One(text) => {
                let user: Json = serde_json::from_str(&text).map_err(|e| CoreError::InvalidJson(e.to_string()))?;
                Ok(user["id"].as_i64().unwrap_or_default())
            }
            crate::WriteResult::Many { ids } => Ok(ids.first().copied().unwrap_or_default()),
        }
    }

    /// Creates the configured first admin if the store has no admin yet.
    pub(crate) async fn bootstrap_admin(&self) -> Result<(), CoreError> {
        let Some((email, password)) = self.auth().config.bootstrap_admin.clone() else { return Ok(()) };
        let users = self.users_table()?;
        let admins =
            self.store().count_rows(&users.schema, Some(&format!("role = \"{ADMIN_ROLE}\"")), None, None).await?;
        if admins > 0 {
            return Ok(());
        }
        match self.create_admin(&email, &password).await {
            Ok(id) => {
                tracing::info!("created the first admin, user {id}");
                Ok(())
            }
            // Another copy of tessera created it meanwhile.
            Err(CoreError::Duplicate { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    pub(crate) fn users_table(&self) -> Result<std::sync::Arc<crate::Table>, CoreError> {
        self.catalog().users().ok_or_else(|| CoreError::TableNotFound(USERS_TABLE.into()))
    }
}

/// Normalizes a users-table body and enforces who may set what: identities trimmed
/// (emails lower-cased, so uniqueness is case-insensitive), the password checked
/// against the rules, `role` only from admins. On create, at least one identity and a
/// password are required. The password is hashed later, once the write is authorized.
pub(crate) fn prepare_user_body(body: &mut Json, caller: &Caller, create: bool) -> Result<(), CoreError> {
    let Some(map) = body.as_object_mut() else { return Ok(()) };
    if map.contains_key("role") && !caller.is_admin() {
        return Err(CoreError::Forbidden("only an admin may set a user's 'role'".into()));
    }
    normalize_text(map, "email", true);
    normalize_text(map, "username", false);
    if create && ["email", "username"].iter().all(|key| map.get(*key).is_none_or(Json::is_null)) {
        return Err(CoreError::InvalidRow {
            errors: vec![FieldError {
                field: "email".into(),
                code: "required",
                message: "a user needs an email or a username".into(),
            }],
            row_index: None,
        });
    }
    match map.get("password") {
        Some(Json::String(password)) => {
            let identities: Vec<&str> = ["email", "username"].iter().filter_map(|k| map.get(*k)?.as_str()).collect();
            tessera_auth::password::check_new_password(password, &identities)
                .map_err(|e| CoreError::InvalidPassword(e.to_string()))?;
        }
        Some(_) => return Err(CoreError::InvalidPassword("'password' must be a string".into())),
        None if create => return Err(CoreError::InvalidPassword("a password is required".into())),
        None => {}
    }
    Ok(())
}

fn normalize_text(map: &mut Map<String, Json>, key: &str, lower_case: bool) {
    if let Some(Json::String(text)) = map.get_mut(key) {
        let trimmed = text.trim();
        *text = if lower_case { trimmed.to_lowercase() } else { trimmed.to_string() };
    }
}

impl App {
    /// Replaces the plain password of a validated row by its argon2id hash (on a password
    /// thread: one hash is ~20 ms of CPU and 19 MiB). Returns whether the row set one.
    pub(crate) async fn hash_password_in(&self, row: &mut NewRow) -> Result<bool, CoreError> {
        let Some((_, value)) = row.iter_mut().find(|(name, _)| name == "password") else { return Ok(false) };
        let Value::Text(plain) = std::mem::replace(value, Value::Null) else { return Ok(false) };
        let hash = self.auth().passwords.run(move || tessera_auth::password::hash_password(&plain)).await?;
        *value = Value::Text(hash);
        Ok(true)
    }

    /// Forgets what this process cached about a user's API tokens (role, password or
    /// existence changed).
    pub(crate) fn forget_user_tokens(&self, user_id: i64) {
        self.auth().api_tokens.evict_user(user_id);
    }
}
