//! Access tokens: short-lived JWTs signed with HMAC-SHA256 under a secret the store keeps,
//! so every copy of tessera on the same store accepts them.
//!
//! The algorithm is fixed: a token whose header names anything but HS256 — `none`, an
//! asymmetric algorithm, anything — is refused before its signature is looked at, so
//! there is no algorithm to switch. Written on `hmac` + `sha2` (already in the dependency
//! tree through the Postgres driver's SCRAM) instead of a general JWT library, whose
//! algorithm negotiation is exactly what this must not have; the format is small and the
//! tests pin it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// The one header tessera writes and accepts.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// What an access token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as text (JWT convention).
    pub sub: String,
    pub role: String,
    pub iss: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
}

/// Why a presented access token is refused. Callers answer 401 for all of them and
/// should not tell the client which one it was.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not HS256")]
    WrongAlgorithm,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued by someone else")]
    WrongIssuer,
    #[error("the token was issued in the future")]
    NotYetValid,
}

/// Signs and verifies access tokens with one secret.
#[derive(Clone)]
pub struct Signer {
    /// HMAC state with the key already absorbed, cloned per token (saves rehashing the
    /// key on every request).
    keyed: Hmac<Sha256>,
    issuer: String,
    /// `HEADER` in base64url: the header of every token this signer issued, so the
    /// common case is checked by comparing bytes instead of decoding and parsing JSON.
    encoded_header: String,
}

/// Tolerated clock difference between copies of tessera, in seconds.
const CLOCK_SKEW: i64 = 60;

impl Signer {
    /// `secret` should be at least 32 random bytes; `issuer` is checked on every token.
    pub fn new(secret: &[u8], issuer: &str) -> Signer {
        Signer {
            keyed: <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length"),
            issuer: issuer.to_string(),
            encoded_header: URL_SAFE_NO_PAD.encode(HEADER),
        }
    }

    /// A new random secret for [`Signer::new`] (to store once and share).
    pub fn generate_secret() -> [u8; 32] {
        crate::random_bytes()
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    /// A token for `sub`/`role`, valid from `now` for `ttl_seconds`.
    pub fn issue(&self, sub: &str, role: &str, now: i64, ttl_seconds: i64) -> String {
        let claims = Claims {
            sub: sub.to_string(),
            role: role.to_string(),
            iss: self.issuer.clone(),
            iat: now,
            exp: now + ttl_seconds,
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialize"))
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// The claims of a valid token at time `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if header != self.encoded_header {
            let header_json: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenError::Malformed)?)
                    .map_err(|_| TokenError::Malformed)?;
            if header_json.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
                return Err(TokenError::WrongAlgorithm);
            }
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
        let claims: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.iat > now + CLOCK_SKEW {
            return Err(TokenError::NotYetValid);
        }
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef0123456789abcdef", "tessera")
    }

    #[test]
    fn issues_and_verifies() {
        let token = signer().issue("42", "user", 1_000, 900);
        let claims = signer().verify(&token, 1_000).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role.as_str(), claims.exp), ("42", "user", 1_900));
        assert_eq!(signer().verify(&token, 1_899).unwrap().sub, "42");
        assert_eq!(signer().verify(&token, 1_900), Err(TokenError::Expired));
        assert_eq!(signer().verify(&token, 950), Ok(claims.clone()), "within the clock skew");
        assert_eq!(signer().verify(&token, 0), Err(TokenError::NotYetValid));
    }

    #[test]
    fn refuses_forgeries() {
        let token = signer().issue("42", "user", 1_000, 900);
        let other = Signer::new(b"another secret, also 32 bytes!!!", "tessera");
        assert_eq!(other.verify(&token, 1_000), Err(TokenError::BadSignature));
        assert_eq!(
            Signer::new(b"0123456789abcdef0123456789abcdef", "elsewhere").verify(&token, 1_000),
            Err(TokenError::WrongIssuer)
        );
        // Escalating the role breaks the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims =
            URL_SAFE_NO_PAD.encode(br#"{"sub":"42","role":"admin","iss":"tessera","iat":1000,"exp":1900}"#);
        assert_eq!(
            signer().verify(&format!("{}.{forged_claims}.{}", parts[0], parts[2]), 1_000),
            Err(TokenError::BadSignature)
        );
        // alg: none, with or without a signature, and other algorithms.
        for alg in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            let header = URL_SAFE_NO_PAD.encode(alg);
            assert_eq!(signer().verify(&format!("{header}.{}.", parts[1]), 1_000), Err(TokenError::WrongAlgorithm));
            assert_eq!(
                signer().verify(&format!("{header}.{}.{}", parts[1], parts[2]), 1_000),
                Err(TokenError::WrongAlgorithm)
            );
        }
        for malformed in ["", "a.b", "a.b.c.d", "!!.!!.!!", &format!("{}.{}", parts[0], parts[1])] {
            assert!(signer().verify(malformed, 1_000).is_err(), "{malformed}");
        }
    }
}
