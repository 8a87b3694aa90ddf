//! From the bytes a phone sent to the bytes stored: sniffed, bounded, decoded, turned upright,
//! scaled down and re-encoded as a JPEG with no metadata, plus a thumbnail.
//!
//! Everything here is synchronous CPU work over an in-memory buffer: [`crate::Photos::upload`]
//! runs it on the blocking pool, a bounded number at a time.
//!
//! What it refuses, and when:
//! - **too large**: before looking at the bytes at all;
//! - **not an image**: the format is read from the bytes (their magic numbers), never from the
//!   type the client declared, and only JPEG, PNG and WebP are decoded (the `image` crate is
//!   built with those three formats only); bytes that claim a format but do not decode as it are
//!   refused the same way;
//! - **a decompression bomb**: the dimensions are read from the header, before any pixel is
//!   decoded, and more than the configured megapixels are refused; the decoder also runs under
//!   `image::Limits` (each side, and its allocations) as a second fence for whatever a header
//!   hides.
//!
//! Metadata goes because nothing but pixels is carried over: the stored JPEG is encoded from the
//! decoded pixels with an encoder that is given no EXIF, ICC or XMP, so a phone's GPS position
//! does not survive. The EXIF orientation is applied to the pixels first, so the photo stays
//! upright without the tag that said how to turn it.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder as _, ImageError, ImageFormat, ImageReader};
use sha2::{Digest as _, Sha256};

/// The longer side of a stored photo, in pixels: enough for a screen, far less than a camera's.
pub const MAX_SIDE: u32 = 2560;
/// The longer side of a thumbnail, in pixels (the contract says 320).
pub const THUMBNAIL_SIDE: u32 = 320;
/// JPEG quality of the stored photo: small files that still show a crack in a wall.
const QUALITY: u8 = 82;
/// JPEG quality of thumbnails, which are looked at small.
const THUMBNAIL_QUALITY: u8 = 75;
/// The longest side a decoder may even start on. A second fence behind the megapixel check: no
/// real photo is this wide, and an image that is would be a strip no one uploads on purpose.
const MAX_DECODED_SIDE: u32 = 50_000;
/// Bytes per pixel of the widest decoded form of our formats (16-bit RGBA PNG), for the
/// decoder's allocation limit.
const MAX_BYTES_PER_PIXEL: u64 = 8;
/// What a decoder may allocate beyond the pixels themselves (row buffers, Huffman tables).
const DECODER_SLACK_BYTES: u64 = 16 * 1024 * 1024;

/// The media type of everything stored.
pub const CONTENT_TYPE: &str = "image/jpeg";

/// How much an upload may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_megapixels: u32,
}

impl Limits {
    fn max_pixels(self) -> u64 {
        u64::from(self.max_megapixels) * 1_000_000
    }
}

/// A photo ready to store.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The stored JPEG.
    pub main: Vec<u8>,
    /// Its thumbnail, a JPEG too.
    pub thumbnail: Vec<u8>,
    /// The stored JPEG's size, upright.
    pub width: u32,
    pub height: u32,
    /// Lower-case hex SHA-256 of `main`.
    pub sha256_hex: String,
}

/// Why an upload was refused. Each is a violation of the request's `content`.
#[derive(Debug)]
pub enum Refusal {
    NotAnImage,
    TooLarge {
        max_bytes: usize,
    },
    TooManyPixels {
        max_megapixels: u32,
    },
    /// Encoding our own pixels failed: a bug, not the caller's fault.
    Internal(anyhow::Error),
}

/// The texts of the refusals (the i18n catalog has each).
pub const NOT_AN_IMAGE: &str = "not a JPEG, PNG or WebP image";

impl Refusal {
    /// What is wrong with `content`, in the words the catalog translates.
    pub fn description(&self) -> String {
        match self {
            Self::NotAnImage => NOT_AN_IMAGE.to_owned(),
            Self::TooLarge { max_bytes } => {
                format!("larger than {} MiB", max_bytes.div_ceil(1024 * 1024))
            }
            Self::TooManyPixels { max_megapixels } => {
                format!("more than {max_megapixels} megapixels")
            }
            Self::Internal(_) => "internal error".to_owned(),
        }
    }
}

/// Processes an upload (see the module's documentation).
pub fn process(bytes: &[u8], limits: Limits) -> Result<Processed, Refusal> {
    if bytes.len() > limits.max_bytes {
        return Err(Refusal::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| Refusal::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(Refusal::NotAnImage);
    }
    let too_many = || Refusal::TooManyPixels {
        max_megapixels: limits.max_megapixels,
    };
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(MAX_DECODED_SIDE);
    decoder_limits.max_image_height = Some(MAX_DECODED_SIDE);
    decoder_limits.max_alloc =
        Some(limits.max_pixels() * MAX_BYTES_PER_PIXEL + DECODER_SLACK_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits);
    // Reads the header only: nothing the size of the image is allocated yet.
    let mut decoder = reader.into_decoder().map_err(|error| match error {
        ImageError::Limits(_) => too_many(),
        _ => Refusal::NotAnImage,
    })?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Refusal::NotAnImage);
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels() {
        return Err(too_many());
    }
    // A broken EXIF block is no reason to refuse the pixels: they are kept as they come.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|error| match error {
        ImageError::Limits(_) => too_many(),
        _ => Refusal::NotAnImage,
    })?;
    image.apply_orientation(orientation);

    let main = fit(image, MAX_SIDE);
    let thumbnail = fit(main.clone(), THUMBNAIL_SIDE);
    let (width, height) = (main.width(), main.height());
    let main = encode(&main, QUALITY).map_err(Refusal::Internal)?;
    let thumbnail = encode(&thumbnail, THUMBNAIL_QUALITY).map_err(Refusal::Internal)?;
    let sha256_hex = hex(&Sha256::digest(&main));
    Ok(Processed {
        main,
        thumbnail,
        width,
        height,
        sha256_hex,
    })
}

/// `image` scaled down (never up) so that its longer side is at most `side`, keeping its shape.
fn fit(image: DynamicImage, side: u32) -> DynamicImage {
    if image.width() <= side && image.height() <= side {
        return image;
    }
    // `resize` keeps the aspect ratio within the box; Catmull-Rom is sharp enough for photos and
    // much cheaper than Lanczos on a large picture.
    image.resize(side, side, FilterType::CatmullRom)
}

/// A baseline JPEG of `image`'s colours (an alpha channel is dropped: a photo has none worth
/// keeping), with no metadata segment but the JFIF header the encoder always writes.
fn encode(image: &DynamicImage, quality: u8) -> anyhow::Result<Vec<u8>> {
    let rgb = image.to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(&rgb)?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 8 * 1024 * 1024,
        max_megapixels: 40,
    };

    #[test]
    fn refusals_say_what_the_contract_says() {
        assert_eq!(Refusal::NotAnImage.description(), NOT_AN_IMAGE);
        assert_eq!(
            Refusal::TooLarge {
                max_bytes: LIMITS.max_bytes
            }
            .description(),
            "larger than 8 MiB"
        );
        assert_eq!(
            Refusal::TooManyPixels { max_megapixels: 40 }.description(),
            "more than 40 megapixels"
        );
    }

    #[test]
    fn a_large_image_is_scaled_down_to_fit_and_a_small_one_is_left_alone() {
        let large = DynamicImage::new_rgb8(3000, 1000);
        let fitted = fit(large, MAX_SIDE);
        assert_eq!((fitted.width(), fitted.height()), (2560, 853));
        let small = DynamicImage::new_rgb8(200, 100);
        let fitted = fit(small, THUMBNAIL_SIDE);
        assert_eq!((fitted.width(), fitted.height()), (200, 100));
    }

    #[test]
    fn the_format_comes_from_the_bytes() {
        // A GIF is an image, but not one of ours.
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(matches!(process(gif, LIMITS), Err(Refusal::NotAnImage)));
        // JPEG's magic number and nothing after it.
        assert!(matches!(
            process(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0], LIMITS),
            Err(Refusal::NotAnImage)
        ));
        assert!(matches!(process(&[], LIMITS), Err(Refusal::NotAnImage)));
    }
}
