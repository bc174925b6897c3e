//! Opaque tokens (refresh tokens, API tokens): `<prefix>_<id>_<secret>`. The store keeps
//! the id and a SHA-256 of the secret; a presented token is looked up by id and its
//! secret compared with the stored hash in constant time, so neither a database index
//! lookup on the secret nor an early-exit comparison leaks anything about it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// What a token is for; the prefix makes a leaked token recognizable (secret scanners).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Long-lived API token granted to a client (`tsk_`).
    Api,
    /// Refresh token of a login session (`tsr_`).
    Refresh,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Api => "tsk",
            Kind::Refresh => "tsr",
        }
    }
}

/// A newly minted token: give `token` to the client once, store `secret_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    pub token: String,
    pub secret_hash: String,
}

/// Mints a token for the stored row `id` (256 random bits of secret).
pub fn mint(kind: Kind, id: i64) -> Minted {
    let secret = new_secret();
    Minted { token: token_text(kind, id, &secret), secret_hash: hash_secret(&secret) }
}

/// A fresh secret (256 random bits), for a token whose row id is known only once its
/// hash is stored: store [`hash_secret`] of it, then give out [`token_text`].
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>())
}

/// The text of a token: `<prefix>_<id>_<secret>`.
pub fn token_text(kind: Kind, id: i64, secret: &str) -> String {
    format!("{}_{id}_{secret}", kind.prefix())
}

/// The id and secret of a presented token of `kind`, if it has the right shape.
pub fn parse(kind: Kind, token: &str) -> Option<(i64, &str)> {
    let rest = token.strip_prefix(kind.prefix())?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    let id = id.parse::<i64>().ok().filter(|id| *id > 0)?;
    (secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then_some((id, secret))
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` matches `stored_hash`, comparing in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(secret);
    let (a, b) = (presented.as_bytes(), stored_hash.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let minted = mint(Kind::Api, 42);
        assert!(minted.token.starts_with("tsk_42_"));
        let (id, secret) = parse(Kind::Api, &minted.token).expect("well formed");
        assert_eq!(id, 42);
        assert!(secret_matches(secret, &minted.secret_hash));
        let first = if secret.starts_with('A') { "B" } else { "A" };
        let altered = format!("{first}{}", &secret[1..]);
        assert!(!secret_matches(&altered, &minted.secret_hash), "one changed character is refused");
        assert_ne!(mint(Kind::Api, 42).token, minted.token, "random secrets");
    }

    #[test]
    fn refuses_malformed_and_foreign_tokens() {
        let refresh = mint(Kind::Refresh, 7).token;
        assert!(parse(Kind::Api, &refresh).is_none(), "a refresh token is not an API token");
        for bad in [
            "",
            "tsk",
            "tsk_",
            "tsk_1_",
            "tsk_x_abc",
            "tsk_-1_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "tsk_1_short",
        ] {
            assert!(parse(Kind::Api, bad).is_none(), "{bad}");
        }
        assert!(!secret_matches("anything", "not-the-hash"));
    }
}
