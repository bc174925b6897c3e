//! Passwords: argon2id hashes in PHC string form, the rules a new password must meet, and
//! a verification that costs the same whether or not the account exists.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use thiserror::Error;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in bytes (argon2 accepts more; bounded against abuse).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2id with the OWASP minimum: 19 MiB of memory, 2 passes, 1 lane. One hash costs
/// ~20 ms of one core, which is what bounds logins per second.
pub fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_BYTES} bytes long")]
    TooLong,
    #[error("the password must not be the same as the email or username")]
    SameAsIdentity,
}

/// Checks the rules for a new password.
pub fn check_new_password(password: &str, identities: &[&str]) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if identities.iter().any(|identity| identity.eq_ignore_ascii_case(password)) {
        return Err(PasswordError::SameAsIdentity);
    }
    Ok(())
}

/// Hashes a password with a fresh random salt; returns the PHC string to store.
pub fn hash_password(password: &str) -> String {
    let salt: [u8; 16] = crate::random_bytes();
    hasher().hash_password_with_salt(password.as_bytes(), &salt).expect("argon2 accepts this input").to_string()
}

/// Whether `password` matches the stored PHC string. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    hasher().verify_password(password.as_bytes(), stored).is_ok()
}

/// Spends the time of one verification without an account, so that a login for an
/// unknown identity takes as long as one with a wrong password.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("tessera dummy password"));
    let _ = verify_password(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let first = hash_password("correct horse");
        let second = hash_password("correct horse");
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "a fresh salt every time");
        assert!(verify_password("correct horse", &first));
        assert!(!verify_password("Correct horse", &first));
        assert!(!verify_password("correct horse", "not a hash"));
        verify_against_nothing("anything");
    }

    #[test]
    fn new_password_rules() {
        assert_eq!(check_new_password("short", &[]), Err(PasswordError::TooShort));
        assert_eq!(check_new_password("leo@zoo.example", &["leo@zoo.example"]), Err(PasswordError::SameAsIdentity));
        assert_eq!(check_new_password(&"x".repeat(2000), &[]), Err(PasswordError::TooLong));
        assert_eq!(check_new_password("a long enough one", &["leo"]), Ok(()));
    }
}
