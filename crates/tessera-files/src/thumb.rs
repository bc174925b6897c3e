//! Thumbnails: `WxH` crops to fill, `Wx0` fits the width, `0xH` fits the height. Sizes
//! are bounded so a client cannot make the server render (and cache) arbitrary ones,
//! and decoding is bounded so a small file that claims to be a huge image cannot take
//! the server's memory.

use crate::FileError;
use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Largest thumbnail side, in pixels.
pub const MAX_THUMB_SIDE: u32 = 2000;
/// Largest source image side that is decoded for a thumbnail.
const MAX_SOURCE_SIDE: u32 = 12_000;
/// Most memory the decoder may allocate for one source image.
const MAX_DECODE_BYTES: u64 = 256 << 20;
/// Largest source object a thumbnail is made from (bigger images are served whole).
pub const MAX_SOURCE_BYTES: u64 = 32 << 20;

/// A requested thumbnail size; 0 means "follow the aspect ratio".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThumbSpec {
    pub width: u32,
    pub height: u32,
}

impl ThumbSpec {
    /// Parses `200x200`, `200x0` or `0x200`.
    pub fn parse(text: &str) -> Result<ThumbSpec, String> {
        let bad = || {
            format!(
                "'thumb' must be WxH with each side 0 to {MAX_THUMB_SIDE} and not both 0 (e.g. 200x200, 200x0), got '{}'",
                text.chars().take(40).collect::<String>()
            )
        };
        let (width, height) = text.split_once(['x', 'X']).ok_or_else(bad)?;
        let side = |s: &str| s.parse::<u32>().ok().filter(|n| *n <= MAX_THUMB_SIDE && !s.starts_with('+'));
        let (Some(width), Some(height)) = (side(width), side(height)) else { return Err(bad()) };
        if width == 0 && height == 0 {
            return Err(bad());
        }
        Ok(ThumbSpec { width, height })
    }

    /// The spec as written in keys and ETags (`200x0`).
    pub fn label(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

/// Image types thumbnails are made of (the ones the `image` crate here decodes).
pub fn is_thumbnailable(mime: &str) -> bool {
    matches!(mime, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

/// Renders a thumbnail of `source` (an image of media type `mime`): JPEG stays JPEG,
/// every other type becomes PNG. Returns the bytes and their media type.
pub fn render(source: &[u8], mime: &str, spec: ThumbSpec) -> Result<(Vec<u8>, &'static str), FileError> {
    let error = |e: image::ImageError| FileError::Thumbnail(e.to_string());
    let mut reader =
        ImageReader::new(Cursor::new(source)).with_guessed_format().map_err(|e| FileError::Thumbnail(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(error)?;
    let resized = match (spec.width, spec.height) {
        (0, height) => image.resize(u32::MAX, height, FilterType::Triangle),
        (width, 0) => image.resize(width, u32::MAX, FilterType::Triangle),
        (width, height) => image.resize_to_fill(width, height, FilterType::Triangle),
    };
    let (format, out_mime) =
        if mime == "image/jpeg" { (ImageFormat::Jpeg, "image/jpeg") } else { (ImageFormat::Png, "image/png") };
    let resized = if format == ImageFormat::Jpeg { image::DynamicImage::ImageRgb8(resized.to_rgb8()) } else { resized };
    let mut out = Cursor::new(Vec::new());
    resized.write_to(&mut out, format).map_err(error)?;
    Ok((out.into_inner(), out_mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(ThumbSpec::parse("200x100"), Ok(ThumbSpec { width: 200, height: 100 }));
        assert_eq!(ThumbSpec::parse("0x50").unwrap().label(), "0x50");
        for bad in ["", "0x0", "200", "2001x1", "-1x5", "+5x5", "ax5", "5x5x5", "1.5x2"] {
            assert!(ThumbSpec::parse(bad).is_err(), "{bad}");
        }
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn size_of(bytes: &[u8]) -> (u32, u32) {
        let image = image::load_from_memory(bytes).unwrap();
        (image.width(), image.height())
    }

    #[test]
    fn crops_and_fits() {
        let source = png(40, 20);
        let (bytes, mime) = render(&source, "image/png", ThumbSpec::parse("10x10").unwrap()).unwrap();
        assert_eq!((size_of(&bytes), mime), ((10, 10), "image/png"));
        let (bytes, _) = render(&source, "image/png", ThumbSpec::parse("20x0").unwrap()).unwrap();
        assert_eq!(size_of(&bytes), (20, 10));
        let (bytes, _) = render(&source, "image/png", ThumbSpec::parse("0x5").unwrap()).unwrap();
        assert_eq!(size_of(&bytes), (10, 5));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(render(b"\x89PNG\r\n\x1a\nnope", "image/png", ThumbSpec { width: 5, height: 5 }).is_err());
    }
}
