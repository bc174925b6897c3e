//! A short-lived cache of verified API tokens.
//!
//! An API token is looked up in the store on use, so that revoking it works; done on every
//! request that lookup (and the user's role) cost ~28% of the requests per second of a
//! one-row read on SQLite. Entries live two seconds: a revocation, a role change or a
//! deleted user is seen at once by the copy of tessera that made it (it evicts), and
//! within two seconds by other copies on the same store. The presented secret is still
//! compared, in constant time, with the cached hash on every use.

use super::Principal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified token is trusted without asking the store again.
const TTL: Duration = Duration::from_secs(2);
/// Most tokens kept; past it the cache starts over (it only saves lookups).
const MAX_ENTRIES: usize = 10_000;

/// A token as verified against the store.
#[derive(Clone)]
pub(crate) struct VerifiedToken {
    pub secret_hash: String,
    pub expires_at: Option<i64>,
    pub principal: Principal,
}

#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<i64, (VerifiedToken, Instant)>>,
}

impl TokenCache {
    /// A fresh entry for token `id`, if any.
    pub fn get(&self, id: i64) -> Option<VerifiedToken> {
        let entries = self.entries.lock().ok()?;
        let (token, at) = entries.get(&id)?;
        (at.elapsed() < TTL).then(|| token.clone())
    }

    pub fn put(&self, id: i64, token: VerifiedToken) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id, (token, Instant::now()));
        }
    }

    pub fn evict(&self, id: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&id);
        }
    }

    /// Forgets every token of a user (deleted, or role or password changed).
    pub fn evict_user(&self, user_id: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (token, _)| token.principal.user_id != user_id);
        }
    }
}
