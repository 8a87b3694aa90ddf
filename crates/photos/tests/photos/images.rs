//! Test images made at test time with the `image` crate, and the EXIF and bomb bytes built by
//! hand (so that the test knows exactly what went in).

use std::io::{Cursor, Write as _};

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageEncoder as _, ImageFormat, Rgb, RgbImage};

pub(crate) const RED: Rgb<u8> = Rgb([220, 20, 20]);
pub(crate) const BLUE: Rgb<u8> = Rgb([20, 20, 220]);

/// `width` × `height`, the left half red and the right half blue.
pub(crate) fn halves(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| if x < width / 2 { RED } else { BLUE })
}

/// A JPEG of `image`, with `exif` (a TIFF structure) in an APP1 segment when given.
pub(crate) fn jpeg(image: &RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 95);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).unwrap();
    }
    encoder
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

pub(crate) fn encoded(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image.clone())
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// The latitude a phone would record, as the GPS IFD's rational degrees (30°15'0"N).
pub(crate) const LATITUDE: [(u32, u32); 3] = [(30, 1), (15, 1), (0, 1)];

/// An EXIF TIFF structure (little-endian): IFD0 with Orientation and a pointer to a GPS IFD with
/// GPSLatitudeRef `N` and GPSLatitude.
pub(crate) fn exif(orientation: u16) -> Vec<u8> {
    let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        let mut e = Vec::with_capacity(12);
        e.extend_from_slice(&tag.to_le_bytes());
        e.extend_from_slice(&kind.to_le_bytes());
        e.extend_from_slice(&count.to_le_bytes());
        e.extend_from_slice(&value);
        e
    };
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const ASCII: u16 = 2;
    const RATIONAL: u16 = 5;
    // Header (8) + IFD0: count (2), two entries (24), next (4) = 38; the GPS IFD follows:
    // count (2), two entries (24), next (4) = 30, then the latitude's three rationals.
    let gps_ifd = 8 + 2 + 24 + 4;
    let latitude_at = gps_ifd + 2 + 24 + 4;
    let [o0, o1] = orientation.to_le_bytes();
    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend(entry(0x0112, SHORT, 1, [o0, o1, 0, 0]));
    tiff.extend(entry(0x8825, LONG, 1, (gps_ifd as u32).to_le_bytes()));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend(entry(0x0001, ASCII, 2, *b"N\0\0\0"));
    tiff.extend(entry(
        0x0002,
        RATIONAL,
        3,
        (latitude_at as u32).to_le_bytes(),
    ));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    for (numerator, denominator) in LATITUDE {
        tiff.extend_from_slice(&numerator.to_le_bytes());
        tiff.extend_from_slice(&denominator.to_le_bytes());
    }
    tiff
}

/// A real PNG of `width` × `height` one-bit pixels, all black: its rows compress to almost
/// nothing, so a small file decodes to a huge image — a decompression bomb. Rows are written
/// one at a time, so the test never holds the decoded size either.
pub(crate) fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    let row = vec![0u8; 1 + (width as usize).div_ceil(8)];
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..height {
        zlib.write_all(&row).unwrap();
    }
    let idat = zlib.finish().unwrap();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 1, greyscale, deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(*b"IHDR", ihdr), (*b"IDAT", idat), (*b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&kind);
        crc.update(&data);
        png.extend_from_slice(&kind);
        png.extend_from_slice(&data);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    }
    png
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
