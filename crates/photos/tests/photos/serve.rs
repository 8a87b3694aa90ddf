//! Photo URLs served on a real gRPC port: signatures, expiry on the service clock, headers.

use std::time::Duration;

use terrace_photos::entity::thumbnail_key;
use terrace_platform::auth::{KeySource, SharedJwks, Verifier};
use terrace_platform::grpc::GrpcServer;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Harness, villager};
use crate::images;

/// The gRPC server of a process with the photos' routes mounted, as a service's `register` does.
async fn serve(h: &Harness) -> (String, CancellationToken) {
    let mut server = GrpcServer::new(&h.ctx.settings.grpc);
    server.add_http_routes(&h.photos.prefix(), h.photos.router(h.db.clone()));
    let verifier = Verifier::new_with_clock(
        &h.ctx.settings.auth,
        KeySource::Shared(SharedJwks::default()),
        h.clock.clock(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(server.serve(listener, verifier, shutdown.clone()));
    (base, shutdown)
}

#[tokio::test]
async fn a_signed_url_is_served_until_it_expires_on_the_service_clock() {
    let h = Harness::new().await;
    let (base, shutdown) = serve(&h).await;
    let http = terrace_testkit::http_client();
    let photo = h
        .upload(&villager(), images::jpeg(&images::halves(500, 400), None))
        .await
        .unwrap();
    let media = h.photos.media_ref(&photo);

    let response = http
        .get(format!("{base}{}", media.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "private, max-age=3600");
    assert_eq!(headers["etag"], format!("\"{}\"", photo.sha256_hex));
    let body = response.bytes().await.unwrap();
    assert_eq!(
        body.as_ref(),
        h.object(&photo.object_key).unwrap().as_slice()
    );

    let thumbnail = http
        .get(format!("{base}{}", media.thumbnail_uri))
        .send()
        .await
        .unwrap();
    assert_eq!(thumbnail.status(), 200);
    let thumbnail = thumbnail.bytes().await.unwrap();
    assert_eq!(
        thumbnail.as_ref(),
        h.object(&thumbnail_key(&photo.object_key))
            .unwrap()
            .as_slice()
    );

    // A browser's revalidation.
    let unchanged = http
        .get(format!("{base}{}", media.uri))
        .header("if-none-match", format!("\"{}\"", photo.sha256_hex))
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);

    // Caching ends with the signature.
    h.advance(Duration::from_secs(3000));
    let later = http
        .get(format!("{base}{}", media.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(later.status(), 200);
    assert_eq!(later.headers()["cache-control"], "private, max-age=600");
    h.advance(Duration::from_secs(600));
    let expired = http
        .get(format!("{base}{}", media.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 404);
    // A fresh reference works again.
    let fresh = h.photos.media_ref(&photo);
    let response = http
        .get(format!("{base}{}", fresh.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn a_url_without_a_valid_signature_finds_nothing() {
    let h = Harness::new().await;
    let (base, shutdown) = serve(&h).await;
    let http = terrace_testkit::http_client();
    let photo = h
        .upload(&villager(), images::jpeg(&images::halves(50, 40), None))
        .await
        .unwrap();
    let other = h
        .upload(&villager(), images::jpeg(&images::halves(60, 40), None))
        .await
        .unwrap();
    let media = h.photos.media_ref(&photo);
    let (path, query) = media.uri.split_once('?').unwrap();
    let signature = query.split("sig=").nth(1).unwrap();
    let expires = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("exp="))
        .unwrap();
    let mut tampered = signature.to_owned().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let later: i64 = expires.parse::<i64>().unwrap() + 3600;
    let other_path = format!("/media/governance/{}.jpg", other.id);
    for url in [
        format!("{path}?exp={expires}&sig={tampered}"),
        // The signature of another expiry, of the thumbnail, of another photo.
        format!("{path}?exp={later}&sig={signature}"),
        format!(
            "/media/governance/{}.thumb.jpg?exp={expires}&sig={signature}",
            photo.id
        ),
        format!("{other_path}?exp={expires}&sig={signature}"),
        // No signature at all; garbage; an unknown photo; a path that names no photo.
        path.to_owned(),
        format!("{path}?exp={expires}&sig=%%%"),
        format!("/media/governance/{}.jpg?{query}", uuid::Uuid::now_v7()),
        format!("/media/governance/{}.png?{query}", photo.id),
        "/media/governance/".to_owned(),
    ] {
        let response = http.get(format!("{base}{url}")).send().await.unwrap();
        assert_eq!(response.status(), 404, "{url}");
        assert!(response.bytes().await.unwrap().is_empty(), "{url}");
    }
    shutdown.cancel();
}

#[tokio::test]
async fn a_public_photo_is_served_to_anyone_without_a_signature() {
    let h = Harness::new().await;
    let (base, shutdown) = serve(&h).await;
    let http = terrace_testkit::http_client();
    let photo = h
        .upload_as(
            &villager(),
            uuid::Uuid::now_v7(),
            images::jpeg(&images::halves(50, 40), None),
            true,
        )
        .await
        .unwrap();
    let media = h.photos.media_ref(&photo);
    assert!(media.public);
    assert_eq!(media.uri, format!("/media/governance/{}.jpg", photo.id));
    assert_eq!(
        media.thumbnail_uri,
        format!("/media/governance/{}.thumb.jpg", photo.id)
    );
    h.advance(Duration::from_secs(30 * 86_400));
    let response = http
        .get(format!("{base}{}", media.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=86400, immutable"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    // A HEAD is answered with the headers alone.
    let head = http
        .head(format!("{base}{}", media.uri))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], format!("\"{}\"", photo.sha256_hex));
    assert!(head.bytes().await.unwrap().is_empty());
    let thumbnail = http
        .get(format!("{base}{}", media.thumbnail_uri))
        .send()
        .await
        .unwrap();
    assert_eq!(thumbnail.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn behind_a_public_address_photo_urls_are_absolute_and_served() {
    let h = Harness::new().await;
    let (base, shutdown) = serve(&h).await;
    // The same service, told the address the public reaches it at (with a trailing slash, as an
    // operator may write it).
    let settings = terrace_platform::config::PhotosSettings {
        public_base_url: format!("{base}/"),
        ..h.settings.clone()
    };
    let photos = terrace_photos::Photos::new("governance", &settings, h.clock.clock()).unwrap();
    let photo = h
        .upload(&villager(), images::jpeg(&images::halves(50, 40), None))
        .await
        .unwrap();
    let media = photos.media_ref(&photo);
    let path = h.photos.media_ref(&photo).uri;
    assert!(path.starts_with("/media/governance/"), "{path}");
    assert!(
        media
            .uri
            .starts_with(&format!("{base}/media/governance/{}.jpg?", photo.id)),
        "{}",
        media.uri
    );
    let http = terrace_testkit::http_client();
    for uri in [&media.uri, &media.thumbnail_uri] {
        assert_eq!(http.get(uri).send().await.unwrap().status(), 200, "{uri}");
    }
    shutdown.cancel();
}
