//! Users, sessions and API tokens: who a request comes from.
//!
//! Access tokens are short-lived HS256 JWTs (verified without touching the store);
//! refresh tokens and API tokens are opaque, stored as hashes and looked up per use, so
//! they can be rotated and revoked. The signing secret is configured or generated once
//! and kept in the store, so every copy of tessera on one store accepts the same tokens.

mod caller;
mod clock;
mod hashing;
mod sessions;
mod token_cache;
mod tokens;
pub(crate) mod users;

pub use caller::{Caller, Principal, Scopes, ADMIN_ROLE, USER_ROLE};
pub use clock::{Clock, ManualClock, SystemClock};
pub use sessions::Session;
pub use tokens::{NewApiToken, NewApiTokenRequest};
pub use users::USERS_TABLE;

use std::sync::{Arc, Mutex};
use tessera_auth::access_token::Signer;
use tessera_auth::rate_limit::RateLimiter;

/// Restart-time auth settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Signing secret for access tokens; generated and kept in the store when `None`.
    pub jwt_secret: Option<String>,
    /// Lifetime of an access token, in seconds.
    pub access_ttl_seconds: i64,
    /// Lifetime of a refresh token, in seconds.
    pub refresh_ttl_seconds: i64,
    /// Login attempts per minute for one account.
    pub login_attempts_per_account: usize,
    /// Login attempts per minute from one client address.
    pub login_attempts_per_address: usize,
    /// The first admin, created at start-up if no admin exists yet.
    pub bootstrap_admin: Option<(String, String)>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            access_ttl_seconds: 15 * 60,
            refresh_ttl_seconds: 30 * 24 * 3600,
            login_attempts_per_account: 10,
            login_attempts_per_address: 100,
            bootstrap_admin: None,
        }
    }
}

/// Issuer written into and required from every access token.
const ISSUER: &str = "tessera";
/// Issuer of file tokens, which must never pass as access tokens.
const FILE_ISSUER: &str = "tessera-file";
/// Settings key of the generated signing secret.
const SECRET_SETTING: &str = "jwt_secret";
/// Most client keys each rate limiter remembers.
const RATE_LIMIT_KEYS: usize = 100_000;

/// What the auth service keeps between requests.
pub(crate) struct AuthState {
    pub config: AuthConfig,
    pub signer: Signer,
    /// Signs file tokens (same secret, another issuer: see `files::token`).
    pub file_signer: Signer,
    pub clock: Arc<dyn Clock>,
    pub per_account: Mutex<RateLimiter>,
    pub per_address: Mutex<RateLimiter>,
    pub passwords: hashing::PasswordWorkers,
    pub api_tokens: token_cache::TokenCache,
}

impl AuthState {
    pub async fn new(
        config: AuthConfig,
        clock: Arc<dyn Clock>,
        store: &tessera_store::Store,
    ) -> Result<AuthState, crate::CoreError> {
        let secret = match &config.jwt_secret {
            Some(secret) => secret.clone(),
            None => {
                use base64::Engine;
                let generated = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Signer::generate_secret());
                store.setting_or_insert(SECRET_SETTING, &generated).await?
            }
        };
        Ok(AuthState {
            signer: Signer::new(secret.as_bytes(), ISSUER),
            file_signer: Signer::new(secret.as_bytes(), FILE_ISSUER),
            per_account: Mutex::new(RateLimiter::new(config.login_attempts_per_account, 60, RATE_LIMIT_KEYS)),
            per_address: Mutex::new(RateLimiter::new(config.login_attempts_per_address, 60, RATE_LIMIT_KEYS)),
            passwords: hashing::PasswordWorkers::new(),
            api_tokens: token_cache::TokenCache::default(),
            config,
            clock,
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
