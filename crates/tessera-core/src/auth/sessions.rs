//! Sign-in sessions: register, login (rate-limited, same answer and cost for an unknown
//! account as for a wrong password), refresh with rotation and reuse detection, logout,
//! and turning a presented bearer token into a [`Caller`].

use super::token_cache::VerifiedToken;
use super::{Caller, Principal, Scopes};
use crate::{App, CoreError};
use serde::Serialize;
use serde_json::Value as Json;
use tessera_auth::access_token::TokenError;
use tessera_auth::opaque::{self, Kind};

/// What login and refresh answer.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds the access token is valid for.
    pub expires_in: i64,
    pub refresh_token: String,
    /// The user, as the users table returns it (never with the password).
    pub user: Json,
}

impl App {
    /// Registers a user through the users table's create rule; returns the user as JSON text.
    pub async fn register(&self, body: Json, caller: &Caller) -> Result<String, CoreError> {
        match self.create_rows(super::USERS_TABLE, [Ok(body)], true, caller).await? {
            crate::WriteResult::One(user) => Ok(user),
            crate::WriteResult::Many { .. } => Err(CoreError::bad_request("body", "register one user at a time")),
        }
    }

    /// Signs a user in. `identity` is an email (contains `@`) or a username; `address`
    /// is the client's, for the per-address limit.
    pub async fn login(&self, identity: &str, password: &str, address: &str) -> Result<Session, CoreError> {
        let identity = identity.trim();
        let (column, key) = if identity.contains('@') {
            ("email", identity.to_lowercase())
        } else {
            ("username", identity.to_string())
        };
        let now = self.auth().now();
        self.rate_limit(&format!("account:{column}:{key}"), &format!("address:{address}"), now)?;
        let users = self.users_table()?;
        let credentials = self.store().credentials(&users.schema, column, &key).await?;
        let password = password.to_string();
        let verified = self
            .auth()
            .passwords
            .run(move || match credentials {
                Some(found) if tessera_auth::password::verify_password(&password, &found.password_hash) => Some(found),
                Some(_) => None,
                None => {
                    tessera_auth::password::verify_against_nothing(&password);
                    None
                }
            })
            .await?;
        let Some(user) = verified else { return Err(CoreError::InvalidCredentials) };
        if let Ok(mut limiter) = self.auth().per_account.lock() {
            limiter.reset(&format!("account:{column}:{key}"));
        }
        let refresh = self.new_refresh_token(user.id, None, now).await?;
        self.session(user.id, refresh, now).await?.ok_or(CoreError::InvalidCredentials)
    }

    fn rate_limit(&self, account_key: &str, address_key: &str, now: i64) -> Result<(), CoreError> {
        let auth = self.auth();
        let address = auth.per_address.lock().map_or(Ok(()), |mut limiter| limiter.attempt(address_key, now));
        let account = auth.per_account.lock().map_or(Ok(()), |mut limiter| limiter.attempt(account_key, now));
        match (address, account) {
            (Err(retry_after), _) | (_, Err(retry_after)) => Err(CoreError::RateLimited { retry_after }),
            _ => Ok(()),
        }
    }

    async fn new_refresh_token(&self, user_id: i64, family: Option<i64>, now: i64) -> Result<String, CoreError> {
        let secret = opaque::new_secret();
        let expires_at = now + self.auth().config.refresh_ttl_seconds;
        let id =
            self.store().insert_refresh_token(user_id, family, &opaque::hash_secret(&secret), expires_at, now).await?;
        Ok(opaque::token_text(Kind::Refresh, id, &secret))
    }

    /// A session for a user, with the role read from the same row the answer carries;
    /// `None` if the user no longer exists.
    async fn session(&self, user_id: i64, refresh_token: String, now: i64) -> Result<Option<Session>, CoreError> {
        let auth = self.auth();
        let ttl = auth.config.access_ttl_seconds;
        let users = self.users_table()?;
        let Some(text) = self.store().get_row(&users.schema, user_id, None, None, &[]).await? else { return Ok(None) };
        let user: Json = serde_json::from_str(&text).map_err(|e| CoreError::InvalidJson(e.to_string()))?;
        let role = user["role"].as_str().unwrap_or_default().to_string();
        Ok(Some(Session {
            access_token: auth.signer.issue(&user_id.to_string(), &role, now, ttl),
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token,
            user,
        }))
    }

    /// Exchanges a refresh token for a new session. The presented token stops working;
    /// presenting one that was already used revokes its whole family, since either its
    /// owner or a thief holds a newer one and they cannot be told apart.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, CoreError> {
        let now = self.auth().now();
        let (id, secret) = opaque::parse(Kind::Refresh, refresh_token.trim()).ok_or(CoreError::InvalidRefreshToken)?;
        let record = self.store().refresh_token(id).await?.ok_or(CoreError::InvalidRefreshToken)?;
        if !opaque::secret_matches(secret, &record.secret_hash) {
            return Err(CoreError::InvalidRefreshToken);
        }
        if record.used_at.is_some() || record.revoked_at.is_some() {
            let revoked = self.store().revoke_refresh_family(record.family_id, now).await?;
            if revoked > 0 {
                tracing::warn!("refresh token reuse for user {}: session family revoked", record.user_id);
            }
            return Err(CoreError::InvalidRefreshToken);
        }
        if now >= record.expires_at {
            return Err(CoreError::InvalidRefreshToken);
        }
        let secret = opaque::new_secret();
        let expires_at = now + self.auth().config.refresh_ttl_seconds;
        let Some(new_id) =
            self.store().rotate_refresh_token(record.id, &opaque::hash_secret(&secret), expires_at, now).await?
        else {
            // Rotated concurrently by someone else: treat as reuse.
            self.store().revoke_refresh_family(record.family_id, now).await?;
            return Err(CoreError::InvalidRefreshToken);
        };
        let refresh_token = opaque::token_text(Kind::Refresh, new_id, &secret);
        self.session(record.user_id, refresh_token, now).await?.ok_or(CoreError::InvalidRefreshToken)
    }

    /// Ends the session of a refresh token (its whole family).
    pub async fn logout(&self, refresh_token: &str) -> Result<(), CoreError> {
        let (id, secret) = opaque::parse(Kind::Refresh, refresh_token.trim()).ok_or(CoreError::InvalidRefreshToken)?;
        let record = self.store().refresh_token(id).await?.ok_or(CoreError::InvalidRefreshToken)?;
        if !opaque::secret_matches(secret, &record.secret_hash) {
            return Err(CoreError::InvalidRefreshToken);
        }
        self.store().revoke_refresh_family(record.family_id, self.auth().now()).await?;
        Ok(())
    }

    /// The caller's user row.
    pub async fn me(&self, caller: &Caller) -> Result<String, CoreError> {
        let Some(user_id) = caller.user_id() else {
            return Err(CoreError::Unauthenticated("this endpoint needs a signed-in caller".into()));
        };
        let users = self.users_table()?;
        self.store()
            .get_row(&users.schema, user_id, None, None, &[])
            .await?
            .ok_or_else(|| CoreError::InvalidToken("the token's user no longer exists".into()))
    }

    /// The caller a bearer token stands for (`None`: anonymous). Access tokens are
    /// verified by signature alone; API tokens (`tsk_...`) are looked up, so a revoked one
    /// stops working at once.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Caller, CoreError> {
        let Some(token) = bearer.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(Caller::Anonymous) };
        let now = self.auth().now();
        if token.starts_with(Kind::Api.prefix()) {
            return self.authenticate_api_token(token, now).await;
        }
        let claims = self.auth().signer.verify(token, now).map_err(|e| {
            CoreError::InvalidToken(match e {
                TokenError::Expired => "the access token has expired; refresh it".into(),
                _ => "the access token is not valid".into(),
            })
        })?;
        let user_id =
            claims.sub.parse::<i64>().map_err(|_| CoreError::InvalidToken("the access token is not valid".into()))?;
        Ok(Caller::User(Principal { user_id, role: claims.role, scopes: None }))
    }

    async fn authenticate_api_token(&self, token: &str, now: i64) -> Result<Caller, CoreError> {
        let invalid = || CoreError::InvalidToken("the API token is not valid".into());
        let (id, secret) = opaque::parse(Kind::Api, token).ok_or_else(invalid)?;
        let verified = match self.auth().api_tokens.get(id) {
            Some(cached) => cached,
            None => {
                let record = self.store().api_token(id).await?.ok_or_else(invalid)?;
                if record.revoked_at.is_some() {
                    return Err(invalid());
                }
                let users = self.users_table()?;
                let role = self.store().user_role(&users.schema, record.user_id).await?.ok_or_else(invalid)?;
                let items: Vec<String> = serde_json::from_value(record.scopes).map_err(|_| invalid())?;
                let scopes = Scopes::parse(&items).map_err(|_| invalid())?;
                let verified = VerifiedToken {
                    secret_hash: record.secret_hash,
                    expires_at: record.expires_at,
                    principal: Principal { user_id: record.user_id, role, scopes: Some(scopes) },
                };
                self.auth().api_tokens.put(id, verified.clone());
                verified
            }
        };
        if !opaque::secret_matches(secret, &verified.secret_hash) {
            return Err(invalid());
        }
        if verified.expires_at.is_some_and(|expires_at| now >= expires_at) {
            return Err(CoreError::InvalidToken("the API token has expired".into()));
        }
        Ok(Caller::User(verified.principal))
    }
}
