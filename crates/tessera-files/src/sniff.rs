//! What an upload is, judged from its first bytes (magic numbers, via `infer`) rather
//! than from the client's `Content-Type`, which any client can set to anything. Text has
//! no magic number: valid UTF-8 without NUL bytes is taken as the client's text type, or
//! `text/plain`.

/// How many leading bytes are looked at.
pub const SNIFF_BYTES: usize = 8192;

/// The detected type of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// A media type such as `image/png`.
    pub mime: String,
    /// The extension the stored name gets, when the type says it.
    pub extension: Option<String>,
}

/// Detects the type of an upload from its first bytes (`head`, at most [`SNIFF_BYTES`];
/// `complete` when that is the whole file) and the client's declared type.
pub fn sniff(head: &[u8], complete: bool, declared: Option<&str>) -> Sniffed {
    if let Some(kind) = infer::get(head) {
        // Markup (HTML, XML, scripts) keeps its type for the allow-list check but is
        // stored as `.txt`, so it is only ever served as plain text.
        let extension = if kind.matcher_type() == infer::MatcherType::Text { "txt" } else { kind.extension() };
        return Sniffed { mime: kind.mime_type().to_string(), extension: Some(extension.to_string()) };
    }
    if looks_like_text(head, complete) {
        let declared = declared.map(essence).filter(|d| is_text_type(d));
        let mime = declared.unwrap_or_else(|| "text/plain".to_string());
        return Sniffed { mime, extension: None };
    }
    Sniffed { mime: "application/octet-stream".into(), extension: None }
}

/// Whether `head` is UTF-8 text (a multi-byte character cut at the end of an incomplete
/// head is fine) without NUL bytes.
fn looks_like_text(head: &[u8], complete: bool) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => !complete && e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

/// Text types a client may declare for text content. Markup that a browser would run
/// (HTML, SVG) is not among them: it is stored and served as plain text.
fn is_text_type(mime: &str) -> bool {
    matches!(mime, "text/plain" | "text/csv" | "text/markdown" | "application/json" | "text/tab-separated-values")
}

/// `type/subtype` of a media type, lowercase, without parameters.
pub fn essence(media_type: &str) -> String {
    media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether `mime` is accepted by an allow list of exact types and `type/*` wildcards.
pub fn allowed(mime: &str, allow_list: &[String]) -> bool {
    allow_list.iter().any(|entry| {
        let entry = essence(entry);
        match entry.strip_suffix("/*") {
            Some(top) => mime.split('/').next() == Some(top),
            None => entry == mime,
        }
    })
}

/// The `Content-Type` a stored name is served with (from its extension, which tessera
/// chose from the detected type).
pub fn content_type_of(stored_name: &str) -> String {
    let extension = stored_name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    mime_guess::from_ext(extension).first_raw().unwrap_or("application/octet-stream").to_string()
}

/// Raster images a browser may show inline; everything else (SVG and HTML included) is
/// served as an attachment so it never runs as a page of this origin.
pub fn is_inline_image(mime: &str) -> bool {
    matches!(mime, "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/avif" | "image/bmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn magic_bytes_decide() {
        let sniffed = sniff(PNG, false, Some("text/plain"));
        assert_eq!(sniffed.mime, "image/png");
        assert_eq!(sniffed.extension.as_deref(), Some("png"));
        assert_eq!(sniff(b"%PDF-1.7\n", false, Some("image/png")).mime, "application/pdf");
    }

    #[test]
    fn text_is_text_whatever_the_client_says() {
        assert_eq!(sniff(b"hello", true, None).mime, "text/plain");
        assert_eq!(sniff(b"a,b\n1,2\n", true, Some("text/csv")).mime, "text/csv");
        let html = sniff(b"<html><script>", true, Some("text/plain"));
        assert_eq!((html.mime.as_str(), html.extension.as_deref()), ("text/html", Some("txt")));
        assert_eq!(sniff(b"hi <b>x</b>", true, Some("text/html")).mime, "text/plain");
        assert_eq!(sniff(b"x\0y", true, Some("text/plain")).mime, "application/octet-stream");
        // A head cut inside a multi-byte character is still text.
        assert_eq!(sniff("é".as_bytes().split_at(1).0, false, None).mime, "text/plain");
        assert_eq!(sniff(&[0xff, 0xfe, 0x41], true, None).mime, "application/octet-stream");
    }

    #[test]
    fn allow_lists_with_wildcards() {
        let list = vec!["image/*".to_string(), "application/pdf".to_string()];
        assert!(allowed("image/png", &list));
        assert!(allowed("application/pdf", &list));
        assert!(!allowed("text/plain", &list));
        assert!(!allowed("imagex/png", &list));
    }

    #[test]
    fn served_types() {
        assert_eq!(content_type_of("a_x.png"), "image/png");
        assert_eq!(content_type_of("a_x"), "application/octet-stream");
        assert!(is_inline_image("image/jpeg"));
        assert!(!is_inline_image("image/svg+xml"));
    }
}
