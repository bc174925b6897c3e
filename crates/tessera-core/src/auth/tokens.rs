//! API tokens: long-lived, scoped, revocable credentials a user grants to a client.
//! The secret is shown once at creation; the store keeps only its hash.

use super::{Caller, Scopes};
use crate::{App, CoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tessera_auth::opaque::{self, Kind};
use tessera_store::ApiTokenRecord;

/// Longest token name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// `POST /api/auth/tokens`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiTokenRequest {
    pub name: String,
    pub scopes: Vec<String>,
    /// RFC 3339; absent for a token that does not expire.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A created token: `token` is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct NewApiToken {
    #[serde(flatten)]
    pub info: Json,
    pub token: String,
}

/// A stored token as the API shows it (never its hash).
fn token_json(record: &ApiTokenRecord) -> Json {
    let time =
        |seconds: i64| chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    serde_json::json!({
        "id": record.id,
        "user_id": record.user_id,
        "name": record.name,
        "scopes": record.scopes,
        "expires_at": record.expires_at.and_then(time),
        "created_at": time(record.created_at),
        "revoked": record.revoked_at.is_some(),
    })
}

fn session_caller(caller: &Caller, what: &str) -> Result<i64, CoreError> {
    match caller {
        Caller::Anonymous | Caller::System => {
            Err(CoreError::Unauthenticated(format!("{what} needs a signed-in caller")))
        }
        Caller::User(principal) if principal.scopes.is_some() => {
            Err(CoreError::Forbidden(format!("{what} needs an access token, not an API token")))
        }
        Caller::User(principal) => Ok(principal.user_id),
    }
}

impl App {
    /// Grants a token to the caller (signed in with an access token, so one API token
    /// cannot mint others). Only admins may grant the `admin` scope.
    pub async fn create_api_token(
        &self,
        request: NewApiTokenRequest,
        caller: &Caller,
    ) -> Result<NewApiToken, CoreError> {
        let user_id = session_caller(caller, "creating an API token")?;
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(CoreError::bad_request("name", format!("'name' must be 1 to {MAX_NAME_CHARS} characters")));
        }
        let scopes = Scopes::parse(&request.scopes).map_err(|message| CoreError::bad_request("scopes", message))?;
        if scopes.admin && !caller.is_admin() {
            return Err(CoreError::Forbidden("only admins may grant the 'admin' scope".into()));
        }
        let now = self.auth().now();
        let expires_at = match request.expires_at.as_deref() {
            None => None,
            Some(text) => {
                let at = chrono::DateTime::parse_from_rfc3339(text.trim())
                    .map_err(|_| {
                        CoreError::bad_request(
                            "expires_at",
                            format!(
                                "'expires_at' must be an RFC 3339 date-time, got '{}'",
                                text.chars().take(40).collect::<String>()
                            ),
                        )
                    })?
                    .timestamp();
                if at <= now {
                    return Err(CoreError::bad_request("expires_at", "'expires_at' must be in the future"));
                }
                Some(at)
            }
        };
        let secret = opaque::new_secret();
        let scopes_json = Json::from(request.scopes.clone());
        let id = self
            .store()
            .insert_api_token(user_id, name, &scopes_json, &opaque::hash_secret(&secret), expires_at, now)
            .await?;
        let record = ApiTokenRecord {
            id,
            user_id,
            name: name.to_string(),
            scopes: scopes_json,
            secret_hash: String::new(),
            expires_at,
            created_at: now,
            revoked_at: None,
        };
        Ok(NewApiToken { info: token_json(&record), token: opaque::token_text(Kind::Api, id, &secret) })
    }

    /// The caller's tokens (an admin with `all`: everyone's), newest first.
    pub async fn list_api_tokens(&self, caller: &Caller, all: bool) -> Result<Json, CoreError> {
        let user_id = session_caller(caller, "listing API tokens")?;
        if all {
            caller.require_admin("list everyone's API tokens")?;
        }
        let records = self.store().list_api_tokens((!all).then_some(user_id)).await?;
        Ok(serde_json::json!({"items": records.iter().map(token_json).collect::<Vec<_>>()}))
    }

    /// Revokes one of the caller's tokens (an admin: anyone's).
    pub async fn revoke_api_token(&self, id: &str, caller: &Caller) -> Result<(), CoreError> {
        let user_id = session_caller(caller, "revoking an API token")?;
        let not_found =
            || CoreError::NotFound(format!("API token {} does not exist", id.chars().take(40).collect::<String>()));
        let id = id.parse::<i64>().map_err(|_| not_found())?;
        let owner = (!caller.is_admin()).then_some(user_id);
        if self.store().revoke_api_token(id, owner, self.auth().now()).await? {
            self.auth().api_tokens.evict(id);
            Ok(())
        } else {
            Err(not_found())
        }
    }
}
