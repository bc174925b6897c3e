//! The pure building blocks of tessera's access control (issue 3): password hashing,
//! opaque tokens (refresh and API tokens), signed access tokens, and the login rate
//! limiter. Nothing here does I/O or reads the clock: callers pass the time in, so expiry
//! and rate limits are tested without sleeping.

pub mod access_token;
pub mod opaque;
pub mod password;
pub mod rate_limit;

/// Fills `bytes` from the operating system's secure random source.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}
