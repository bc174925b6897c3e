//! Conditional and partial downloads: strong ETags (stored objects never change: a new
//! upload always gets a new name), `If-None-Match`, and single byte ranges.

use std::ops::Range;

/// The strong ETag of a stored object (or of one thumbnail of it): its name and size are
/// enough because an object is written once and never overwritten.
pub fn etag(key: &str, size: u64) -> String {
    // FNV-1a: short, stable, and an ETag needs no collision resistance beyond that.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}-{size:x}\"")
}

/// Whether an `If-None-Match` header matches `etag` (`*`, or a list with it; weak
/// comparison, as RFC 9110 asks for this header).
pub fn none_match(header: &str, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    header.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything (200). Multiple ranges and other units are
    /// answered this way too, which RFC 9110 allows.
    Full,
    /// One satisfiable range (206).
    Partial(Range<u64>),
    /// A well-formed range that lies outside the object (416).
    Unsatisfiable,
}

/// Reads a `Range` header (`bytes=0-99`, `bytes=100-`, `bytes=-100`).
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeRequest::Full };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeRequest::Full };
    let (first, last) = (first.trim(), last.trim());
    let parse = |text: &str| text.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // Suffix: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial(size.saturating_sub(n)..size),
            None => RangeRequest::Full,
        },
        (false, _) => {
            let Some(start) = parse(first) else { return RangeRequest::Full };
            let end = if last.is_empty() {
                size
            } else {
                match parse(last) {
                    Some(last) if last >= start => last.saturating_add(1).min(size),
                    _ => return RangeRequest::Full,
                }
            };
            if start >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(start..end)
            }
        }
        (true, true) => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeRequest::Partial(0..10));
        assert_eq!(parse_range("bytes=90-", 100), RangeRequest::Partial(90..100));
        assert_eq!(parse_range("bytes=-10", 100), RangeRequest::Partial(90..100));
        assert_eq!(parse_range("bytes=-1000", 100), RangeRequest::Partial(0..100));
        assert_eq!(parse_range("bytes=50-1000", 100), RangeRequest::Partial(50..100));
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=200-300", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Full);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=5-1", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=x-1", 100), RangeRequest::Full);
    }

    #[test]
    fn etags() {
        let tag = etag("7/a_x.png", 10);
        assert_ne!(tag, etag("7/a_y.png", 10));
        assert_ne!(tag, etag("7/a_x.png", 11));
        assert!(none_match(&tag, &tag));
        assert!(none_match(&format!("\"other\", W/{tag}"), &tag));
        assert!(none_match("*", &tag));
        assert!(!none_match("\"other\"", &tag));
    }
}
