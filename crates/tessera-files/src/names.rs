//! Stored names: what a row holds and what the object is called. Made from the client's
//! file name, reduced to a safe ASCII stem (no path, no control characters, no leading
//! dot), a random suffix that makes it unique, and an extension chosen from the detected
//! type when there is one (a client cannot call a PNG `x.html`).

/// Longest stem kept from the client's name, in characters.
const MAX_STEM_CHARS: usize = 60;
/// Characters of the random suffix (base 36: about 51 bits).
const SUFFIX_CHARS: usize = 10;
/// Longest extension taken from a client's name when the type is not detected.
const MAX_CLIENT_EXTENSION_CHARS: usize = 8;

/// A new, unique stored name for an upload called `original` by the client whose
/// content was detected as `detected_extension` (if known).
pub fn stored_name(original: &str, detected_extension: Option<&str>) -> String {
    let (stem, client_extension) = split_client_name(original);
    let extension = detected_extension.map(str::to_ascii_lowercase).or(client_extension);
    let mut name = format!("{stem}_{}", random_suffix());
    if let Some(extension) = extension {
        name.push('.');
        name.push_str(&extension);
    }
    name
}

/// The safe stem and the usable extension (lowercase ASCII alphanumerics) of a client
/// name. Any directory part (`/` or `\`) is dropped.
fn split_client_name(original: &str) -> (String, Option<String>) {
    let base = original.rsplit(['/', '\\']).next().unwrap_or_default();
    let (stem, extension) = match base.rsplit_once('.') {
        Some((stem, extension)) if !stem.trim_matches('.').is_empty() => (stem, Some(extension)),
        _ => (base, None),
    };
    let extension = extension.map(str::to_ascii_lowercase).filter(|e| {
        !e.is_empty() && e.len() <= MAX_CLIENT_EXTENSION_CHARS && e.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let mut safe = String::with_capacity(stem.len().min(MAX_STEM_CHARS));
    for c in stem.chars() {
        if safe.chars().count() >= MAX_STEM_CHARS {
            break;
        }
        let kept = if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' };
        // Runs of replaced characters become one underscore.
        if !(kept == '_' && safe.ends_with('_')) {
            safe.push(kept);
        }
    }
    let safe = safe.trim_matches(|c| c == '.' || c == '_').replace("..", "_");
    let stem = if safe.is_empty() { "file".to_string() } else { safe };
    (stem, extension)
}

/// Random lowercase base-36 characters.
fn random_suffix() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; SUFFIX_CHARS];
    getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
    // 252 = 7 * 36: rejection-free enough for a name (the bias is below 2%).
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % 36] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem_of(name: &str) -> &str {
        name.rsplit_once('_').map(|(stem, _)| stem).unwrap()
    }

    #[test]
    fn keeps_a_plain_name_and_adds_a_suffix() {
        let name = stored_name("photo.PNG", None);
        assert!(name.starts_with("photo_") && name.ends_with(".png"), "{name}");
        assert_eq!(name.len(), "photo_".len() + SUFFIX_CHARS + ".png".len());
    }

    #[test]
    fn detected_type_wins_over_the_clients_extension() {
        let name = stored_name("evil.html", Some("png"));
        assert!(name.starts_with("evil_") && name.ends_with(".png"), "{name}");
    }

    #[test]
    fn paths_and_control_characters_are_removed() {
        for (original, stem) in [
            ("../../etc/passwd", "passwd"),
            ("..\\..\\windows\\system.ini", "system"),
            ("a\nb\rc\u{0}.txt", "a_b_c"),
            ("...", "file"),
            ("", "file"),
            (".htaccess", "htaccess"),
            ("my photo (1).jpg", "my_photo_1"),
            ("été.jpg", "t"),
            ("a..b.txt", "a_b"),
        ] {
            let name = stored_name(original, None);
            assert_eq!(stem_of(&name), stem, "{original:?} -> {name}");
            assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.'), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_graphic()), "{name}");
        }
    }

    #[test]
    fn odd_extensions_are_dropped() {
        assert!(!stored_name("x.ph p", None).contains(' '));
        let name = stored_name("archive.verylongextension", None);
        assert!(!name.contains('.'), "{name}");
    }

    #[test]
    fn names_are_unique() {
        let a = stored_name("a.txt", None);
        let b = stored_name("a.txt", None);
        assert_ne!(a, b);
    }

    #[test]
    fn long_names_are_cut() {
        let name = stored_name(&"x".repeat(500), Some("png"));
        assert!(name.len() <= MAX_STEM_CHARS + 1 + SUFFIX_CHARS + 4, "{name}");
    }
}
