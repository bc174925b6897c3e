//! Passwords: argon2id hashes in PHC string form, the rules a new password must meet, and
//! a verification that costs the same whether or not the account exists.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use thiserror::Error;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in bytes (argon2 accepts more; bounded against abuse).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2id with the OWASP minimum: 19 MiB of memory, 2 passes, 1 lane. One hash costs
/// ~20 ms of one core, which is what bounds logins per second.
pub fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, Some(OUTPUT_LEN)).expect("valid argon2 parameters")
}

/// Bytes of hash output stored (argon2's default).
const OUTPUT_LEN: usize = 32;

thread_local! {
    /// This thread's argon2 working memory, allocated once and reused. argon2's own
    /// `hash_password` allocates 19 MiB per call; the allocator keeps such blocks in
    /// per-thread arenas after the first ones are freed, so a burst of logins left
    /// hundreds of MiB behind. Reused, memory is 19 MiB per hashing thread, bounded.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 with this thread's reusable memory.
fn hash_into(argon2: &Argon2<'_>, block_count: usize, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() != block_count {
            *blocks = vec![Block::default(); block_count];
        }
        argon2.hash_password_into_with_memory(password, salt, out, blocks.as_mut_slice()).is_ok()
    })
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
    let params = params();
    let mut out = [0u8; OUTPUT_LEN];
    let hashed = hash_into(&hasher(), params.block_count(), password.as_bytes(), &salt, &mut out);
    assert!(hashed, "argon2 accepts passwords up to {MAX_PASSWORD_BYTES} bytes and 16-byte salts");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("parameters encode"),
        salt: Some(Salt::new(&salt).expect("a 16-byte salt is valid")),
        hash: Some(Output::new(&out).expect("a 32-byte output is valid")),
    }
    .to_string()
}

/// Whether `password` matches the stored PHC string (any argon2 variant, version and
/// parameters it names). A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else { return false };
    let Ok(version) = hash.version.map_or(Ok(Version::default()), Version::try_from) else { return false };
    let Ok(params) = Params::try_from(&hash) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    if !hash_into(&argon2, params.block_count(), password.as_bytes(), salt.as_ref(), &mut out) {
        return false;
    }
    // Constant time: no early exit on the first differing byte.
    out.iter().zip(expected.as_bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
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
    fn compatible_with_argon2_itself() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("correct horse");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(hasher().verify_password(b"correct horse", &parsed).is_ok(), "argon2 verifies our hashes");
        assert!(hasher().verify_password(b"wrong horse", &parsed).is_err());
        let theirs = hasher().hash_password_with_salt(b"battery staple", &[7u8; 16]).unwrap().to_string();
        assert!(verify_password("battery staple", &theirs), "we verify argon2's hashes: {theirs}");
        assert!(!verify_password("battery stapler", &theirs));
        // Other parameters and variants named by a stored hash are honoured.
        let light = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(64, 1, 1, None).unwrap());
        let other = light.hash_password_with_salt(b"pw-123456", &[9u8; 16]).unwrap().to_string();
        assert!(verify_password("pw-123456", &other), "{other}");
        assert!(!verify_password("pw-1234567", &other));
        assert!(!verify_password("x", "$argon2id$v=19$m=19456,t=2,p=1$bad"));
    }

    #[test]
    fn new_password_rules() {
        assert_eq!(check_new_password("short", &[]), Err(PasswordError::TooShort));
        assert_eq!(check_new_password("leo@zoo.example", &["leo@zoo.example"]), Err(PasswordError::SameAsIdentity));
        assert_eq!(check_new_password(&"x".repeat(2000), &[]), Err(PasswordError::TooLong));
        assert_eq!(check_new_password("a long enough one", &["leo"]), Ok(()));
    }
}
