//! Uploads: what is refused, and what is stored for what is not.

use image::{GenericImageView as _, ImageFormat};
use sha2::{Digest as _, Sha256};
use terrace_photos::entity::thumbnail_key;
use terrace_platform::i18n::{Locale, translate};
use uuid::Uuid;

use crate::helpers::{Harness, villager, violations};
use crate::images::{self, BLUE, RED};

const NOT_AN_IMAGE: &str = "not a JPEG, PNG or WebP image";

#[tokio::test]
async fn a_jpeg_with_a_gps_position_is_stored_without_any_exif() {
    let h = Harness::new().await;
    let original = images::jpeg(&images::halves(400, 300), Some(images::exif(1)));
    // What went in carried the position.
    assert!(images::contains(&original, b"Exif\0\0"));
    assert!(images::contains(&original, b"II*\0"));

    let photo = h.upload(&villager(), original).await.unwrap();
    let stored = h.object(&photo.object_key).expect("the photo is stored");
    assert!(stored.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert!(!images::contains(&stored, b"Exif"), "no APP1 Exif segment");
    assert!(!images::contains(&stored, b"II*\0"), "no TIFF structure");
    let decoded = image::load_from_memory_with_format(&stored, ImageFormat::Jpeg).unwrap();
    assert_eq!(decoded.dimensions(), (400, 300));
    assert_eq!((photo.width, photo.height), (400, 300));
    assert_eq!(photo.content_type, "image/jpeg");
    assert_eq!(photo.size_bytes, stored.len() as i64);
    let sha: String = Sha256::digest(&stored)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(photo.sha256_hex, sha);
    assert!(!photo.public);
    assert_eq!(photo.attached_id, None);
    assert!(
        photo
            .object_key
            .starts_with(&format!("governance/{}/", h.clock.now().format("%Y/%m"))),
        "{}",
        photo.object_key
    );

    let thumbnail = h.object(&thumbnail_key(&photo.object_key)).unwrap();
    assert!(!images::contains(&thumbnail, b"Exif"));
    let thumbnail = image::load_from_memory_with_format(&thumbnail, ImageFormat::Jpeg).unwrap();
    assert_eq!(thumbnail.dimensions(), (320, 240));
}

#[tokio::test]
async fn the_exif_orientation_is_applied_to_the_pixels() {
    let h = Harness::new().await;
    // Orientation 6: the camera was turned a quarter clockwise; shown upright, the left edge
    // is at the top.
    let sideways = images::jpeg(&images::halves(64, 32), Some(images::exif(6)));
    let photo = h.upload(&villager(), sideways).await.unwrap();
    assert_eq!((photo.width, photo.height), (32, 64));
    let stored = image::load_from_memory(&h.object(&photo.object_key).unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(stored.dimensions(), (32, 64));
    let near = |pixel: &image::Rgb<u8>, colour: image::Rgb<u8>| {
        pixel
            .0
            .iter()
            .zip(colour.0)
            .all(|(a, b)| a.abs_diff(b) < 40)
    };
    assert!(
        near(stored.get_pixel(16, 8), RED),
        "{:?}",
        stored.get_pixel(16, 8)
    );
    assert!(
        near(stored.get_pixel(16, 56), BLUE),
        "{:?}",
        stored.get_pixel(16, 56)
    );

    // The smallest case: 2 × 1 comes out 1 × 2.
    let tiny = images::jpeg(&images::halves(2, 1), Some(images::exif(6)));
    let photo = h.upload(&villager(), tiny).await.unwrap();
    assert_eq!((photo.width, photo.height), (1, 2));
    // Without a tag, nothing turns.
    let plain = images::jpeg(&images::halves(2, 1), None);
    let photo = h.upload(&villager(), plain).await.unwrap();
    assert_eq!((photo.width, photo.height), (2, 1));
}

#[tokio::test]
async fn png_and_webp_are_accepted_and_large_photos_scaled_down() {
    let h = Harness::new().await;
    let caller = villager();
    let png = images::encoded(&images::halves(300, 200), ImageFormat::Png);
    let photo = h.upload(&caller, png).await.unwrap();
    assert_eq!((photo.width, photo.height), (300, 200));
    let stored = h.object(&photo.object_key).unwrap();
    assert_eq!(image::guess_format(&stored).unwrap(), ImageFormat::Jpeg);

    let webp = images::encoded(&images::halves(120, 90), ImageFormat::WebP);
    assert_eq!(image::guess_format(&webp).unwrap(), ImageFormat::WebP);
    let photo = h.upload(&caller, webp).await.unwrap();
    assert_eq!((photo.width, photo.height), (120, 90));

    // Longer than 2560 px: scaled to 2560 on its longer side, the thumbnail to 320.
    let large = images::encoded(&images::halves(1500, 3000), ImageFormat::Png);
    let photo = h.upload(&caller, large).await.unwrap();
    assert_eq!((photo.width, photo.height), (1280, 2560));
    let thumbnail = h.object(&thumbnail_key(&photo.object_key)).unwrap();
    let thumbnail = image::load_from_memory(&thumbnail).unwrap();
    assert_eq!(thumbnail.dimensions(), (160, 320));
}

#[tokio::test]
async fn what_is_not_an_image_is_refused_whatever_it_claims() {
    let h = Harness::new().await;
    let caller = villager();
    let random: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
    let text = b"this is a text file named photo.jpg\n".to_vec();
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    let mut truncated = images::jpeg(&images::halves(200, 100), None);
    truncated.truncate(300);
    for (what, content) in [
        ("random bytes", random),
        ("a text file", text),
        ("a GIF", gif),
        ("a truncated JPEG", truncated),
        ("nothing", Vec::new()),
    ] {
        let refused = violations(h.upload(&caller, content).await);
        assert_eq!(
            refused,
            [("content".to_owned(), NOT_AN_IMAGE.to_owned())],
            "{what}"
        );
    }
    assert!(h.files().is_empty(), "nothing stored: {:?}", h.files());
}

#[tokio::test]
async fn more_than_8_mib_is_refused_before_it_is_looked_at() {
    let h = Harness::new().await;
    let caller = villager();
    // A valid image's first bytes, padded: the size alone refuses it.
    let mut body = images::jpeg(&images::halves(16, 16), None);
    body.resize(8 * 1024 * 1024 + 1, 0);
    let refused = violations(h.upload(&caller, body).await);
    assert_eq!(
        refused,
        [("content".to_owned(), "larger than 8 MiB".to_owned())]
    );
    // Exactly 8 MiB is within the limit (and then judged as an image: these zeros are none).
    let refused = violations(h.upload(&caller, vec![0u8; 8 * 1024 * 1024]).await);
    assert_eq!(refused, [("content".to_owned(), NOT_AN_IMAGE.to_owned())]);
    assert!(h.files().is_empty());
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_from_its_header() {
    let h = Harness::new().await;
    // 30000 × 30000 = 900 megapixels in about a hundred kilobytes.
    let bomb = images::bomb_png(30_000, 30_000);
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    let refused = violations(h.upload(&villager(), bomb).await);
    assert_eq!(
        refused,
        [("content".to_owned(), "more than 40 megapixels".to_owned())]
    );
    // Refused from the header's size, or at worst by the decoder's allocation limit: either way
    // the 900 megapixels are never allocated. (No wall-clock bound: a busy machine is slow.)
    // Just over the limit is refused too; the limit itself is configurable.
    let refused = violations(h.upload(&villager(), images::bomb_png(8_000, 5_001)).await);
    assert_eq!(
        refused,
        [("content".to_owned(), "more than 40 megapixels".to_owned())]
    );
    assert!(h.files().is_empty());
}

#[tokio::test]
async fn every_refusal_reads_in_chinese_too() {
    for text in [
        NOT_AN_IMAGE,
        "larger than 8 MiB",
        "more than 40 megapixels",
        "no such photo: upload it first",
        "this photo is attached to something else already",
        "this photo is listed twice",
        "log in to upload or attach photos",
    ] {
        assert!(translate(text, Locale::ZhCn).is_some(), "{text}");
    }
    assert_eq!(
        translate("larger than 8 MiB", Locale::ZhCn).as_deref(),
        Some("超过 8 MiB")
    );
}

#[tokio::test]
async fn a_retried_upload_gets_the_same_photo_and_stores_nothing_twice() {
    let h = Harness::new().await;
    let caller = villager();
    let request_id = Uuid::now_v7();
    let content = images::jpeg(&images::halves(100, 50), None);
    let first = h
        .upload_as(&caller, request_id, content.clone(), false)
        .await
        .unwrap();
    let files = h.files();
    assert_eq!(files.len(), 2, "the photo and its thumbnail: {files:?}");
    let retry = h
        .upload_as(&caller, request_id, content.clone(), false)
        .await
        .unwrap();
    assert_eq!(retry, first);
    assert_eq!(h.files(), files, "one photo stored");
    // The id is the caller's: someone else's same id is another upload.
    let other = h
        .upload_as(&villager(), request_id, content, false)
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(h.files().len(), 4);
}

#[tokio::test]
async fn concurrent_uploads_all_finish_with_one_decode_at_a_time() {
    let mut h = Harness::new().await;
    h.settings.max_concurrent_decodes = 1;
    h.photos = terrace_photos::Photos::new("governance", &h.settings, h.clock.clock()).unwrap();
    let caller = villager();
    let uploads = (0..4).map(|i| {
        let content = images::jpeg(&images::halves(200 + i, 100), None);
        h.upload(&caller, content)
    });
    let photos = futures::future::join_all(uploads).await;
    let mut widths: Vec<i32> = photos.into_iter().map(|p| p.unwrap().width).collect();
    widths.sort_unstable();
    assert_eq!(widths, [200, 201, 202, 203]);
}
