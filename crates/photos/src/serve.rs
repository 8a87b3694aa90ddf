//! The HTTP handler of photo URLs (`GET`/`HEAD /media/<service>/<id>.jpg|.thumb.jpg`), mounted
//! on the gRPC port, where the browser already is.
//!
//! A photo that is not public needs `exp` in the future *by the service clock* and a valid `sig`
//! ([`crate::urls`]); a public one needs neither. Every refusal is the same `404` — unknown
//! photo, missing, bad or expired signature — so that a URL tells a stranger nothing, not even
//! that a photo exists. The answer is `image/jpeg` with `nosniff`, the SHA-256 of the stored
//! photo as its ETag, and caching that ends with the signature (`private`), or a day and
//! `immutable` for a public photo (its bytes never change under its id).

use axum::extract::{Path, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;
use sea_orm::{DatabaseConnection, EntityTrait as _};

use crate::Photos;
use crate::entity::{self, Entity};
use crate::urls::Variant;

#[derive(Clone)]
struct Serving {
    photos: Photos,
    db: DatabaseConnection,
}

/// The routes of `photos`' URLs.
pub(crate) fn router(photos: Photos, db: DatabaseConnection) -> axum::Router {
    let path = format!("{}{{file}}", photos.prefix());
    axum::Router::new()
        .route(&path, get(photo))
        .with_state(Serving { photos, db })
}

/// `exp` and `sig` of a query, when both are there once and well-formed. The values are digits
/// and base64url characters, which need no percent-decoding; anything else is refused.
fn signature(query: Option<&str>) -> Option<(i64, &str)> {
    let (mut expires, mut signature) = (None, None);
    for pair in query?.split('&') {
        let (name, value) = pair.split_once('=')?;
        let slot = match name {
            "exp" => &mut expires,
            "sig" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    Some((expires?.parse().ok()?, signature?))
}

async fn photo(
    State(serving): State<Serving>,
    Path(file): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    let Some((id, variant)) = Variant::parse_file(&file) else {
        return not_found();
    };
    let photo = match Entity::find_by_id(id).one(&serving.db).await {
        Ok(Some(photo)) => photo,
        Ok(None) => return not_found(),
        Err(error) => {
            tracing::error!(%error, "reading a photo's row failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let now = serving.photos.clock.now().timestamp();
    let cache = if photo.public {
        "public, max-age=86400, immutable".to_owned()
    } else {
        let Some((expires, sig)) = signature(uri.query()) else {
            return not_found();
        };
        if expires <= now || !serving.photos.signer.verify(id, variant, expires, sig) {
            return not_found();
        }
        format!("private, max-age={}", expires - now)
    };
    let etag = match variant {
        Variant::Main => format!("\"{}\"", photo.sha256_hex),
        // The thumbnail is made from the photo once: the photo's hash names it as well.
        Variant::Thumbnail => format!("\"{}-thumb\"", photo.sha256_hex),
    };
    let key = match variant {
        Variant::Main => photo.object_key.clone(),
        Variant::Thumbnail => entity::thumbnail_key(&photo.object_key),
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let read = match serving
            .photos
            .store
            .get(&ObjectPath::from(key.as_str()))
            .await
        {
            Ok(object) => object.bytes().await,
            Err(error) => Err(error),
        };
        match read {
            Ok(bytes) => bytes.into_response(),
            Err(object_store::Error::NotFound { .. }) => {
                tracing::warn!(%id, key, "a photo's object is missing");
                return not_found();
            }
            Err(error) => {
                tracing::error!(%id, key, %error, "reading a photo failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::ingest::CONTENT_TYPE),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    for (name, value) in [(header::CACHE_CONTROL, cache), (header::ETAG, etag)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn the_signature_is_read_from_the_query_or_not_at_all() {
        assert_eq!(signature(Some("exp=10&sig=abc")), Some((10, "abc")));
        assert_eq!(signature(Some("sig=abc&x=1&exp=10")), Some((10, "abc")));
        assert_eq!(signature(None), None);
        assert_eq!(signature(Some("exp=10")), None);
        assert_eq!(signature(Some("exp=ten&sig=abc")), None);
        assert_eq!(signature(Some("exp=10&sig=abc&sig=abd")), None);
        assert_eq!(signature(Some("exp10&sig=abc")), None);
    }
}
