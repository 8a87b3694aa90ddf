//! Attaching photos to what a request creates, reading them back, detaching, pruning.

use std::time::Duration;

use sea_orm::TransactionTrait as _;
use terrace_photos::entity::thumbnail_key;
use terrace_photos::{Attachment, Photo};
use terrace_proto::common::v1::LocalizedText;
use uuid::Uuid;

use crate::helpers::{Harness, villager, violations};
use crate::images;

const KIND: &str = "service_request";

fn attachment(photo: &Photo) -> Attachment {
    Attachment {
        id: photo.id,
        caption: None,
    }
}

fn caption(text: &str) -> LocalizedText {
    LocalizedText {
        translations: [("zh-CN".to_owned(), text.to_owned())].into(),
    }
}

async fn some_photo(h: &Harness, caller: &terrace_platform::auth::Caller) -> Photo {
    h.upload(caller, images::jpeg(&images::halves(40, 20), None))
        .await
        .unwrap()
}

#[tokio::test]
async fn attaching_is_all_or_nothing_with_a_violation_per_bad_photo() {
    let h = Harness::new().await;
    let (me, someone_else) = (villager(), villager());
    let mine = some_photo(&h, &me).await;
    let also_mine = some_photo(&h, &me).await;
    let theirs = some_photo(&h, &someone_else).await;
    let used = some_photo(&h, &me).await;
    let (earlier_request, request) = (Uuid::now_v7(), Uuid::now_v7());
    let now = h.clock.now();
    h.photos
        .attach(
            &h.db,
            &me,
            "photos",
            &[attachment(&used)],
            KIND,
            earlier_request,
            now,
        )
        .await
        .unwrap();

    let txn = h.db.begin().await.unwrap();
    let refused = h
        .photos
        .attach(
            &txn,
            &me,
            "service_request.photos",
            &[
                attachment(&mine),
                Attachment {
                    id: Uuid::now_v7(),
                    caption: None,
                },
                attachment(&theirs),
                attachment(&used),
                attachment(&mine),
            ],
            KIND,
            request,
            now,
        )
        .await;
    txn.rollback().await.unwrap();
    let unknown = "no such photo: upload it first".to_owned();
    assert_eq!(
        violations(refused),
        [
            ("service_request.photos[1].id".to_owned(), unknown.clone()),
            // Someone else's photo is as unknown as one that does not exist.
            ("service_request.photos[2].id".to_owned(), unknown),
            (
                "service_request.photos[3].id".to_owned(),
                "this photo is attached to something else already".to_owned()
            ),
            (
                "service_request.photos[4].id".to_owned(),
                "this photo is listed twice".to_owned()
            ),
        ]
    );
    // Nothing was attached, not even the good one.
    let refs = h.photos.refs(&h.db, KIND, &[request]).await.unwrap();
    assert!(refs.is_empty(), "{refs:?}");

    // The good ones, with captions, in the request's transaction.
    let txn = h.db.begin().await.unwrap();
    h.photos
        .attach(
            &txn,
            &me,
            "service_request.photos",
            &[
                Attachment {
                    id: mine.id,
                    caption: Some(caption("井口")),
                },
                attachment(&also_mine),
            ],
            KIND,
            request,
            now,
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let refs = h
        .photos
        .refs(&h.db, KIND, &[request, earlier_request, Uuid::now_v7()])
        .await
        .unwrap();
    assert_eq!(refs.len(), 2, "owners without photos are absent");
    let ids: Vec<&str> = refs[&request].iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [mine.id.to_string(), also_mine.id.to_string()]);
    let first = &refs[&request][0];
    assert_eq!(first.caption, Some(caption("井口")));
    assert_eq!(first.content_type, "image/jpeg");
    assert_eq!(first.size_bytes, mine.size_bytes);
    assert_eq!(first.sha256_hex, mine.sha256_hex);
    assert_eq!((first.width, first.height), (40, 20));
    assert!(!first.public);
    assert!(
        first
            .uri
            .starts_with(&format!("/media/governance/{}.jpg?exp=", mine.id))
    );
    assert!(
        first
            .thumbnail_uri
            .starts_with(&format!("/media/governance/{}.thumb.jpg?exp=", mine.id))
    );
    assert_eq!(refs[&earlier_request].len(), 1);
    // Of another kind, nothing.
    assert!(
        h.photos
            .refs(&h.db, "request_note", &[request])
            .await
            .unwrap()
            .is_empty()
    );
    // Attached once, never again.
    let again = h
        .photos
        .attach(
            &h.db,
            &me,
            "photos",
            &[attachment(&mine)],
            KIND,
            Uuid::now_v7(),
            now,
        )
        .await;
    assert_eq!(
        violations(again),
        [(
            "photos[0].id".to_owned(),
            "this photo is attached to something else already".to_owned()
        )]
    );
}

#[tokio::test]
async fn a_rolled_back_request_leaves_its_photos_unattached() {
    let h = Harness::new().await;
    let me = villager();
    let photo = some_photo(&h, &me).await;
    let request = Uuid::now_v7();
    let txn = h.db.begin().await.unwrap();
    h.photos
        .attach(
            &txn,
            &me,
            "photos",
            &[attachment(&photo)],
            KIND,
            request,
            h.clock.now(),
        )
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert!(
        h.photos
            .refs(&h.db, KIND, &[request])
            .await
            .unwrap()
            .is_empty()
    );
    // Still the uploader's to attach.
    h.photos
        .attach(
            &h.db,
            &me,
            "photos",
            &[attachment(&photo)],
            KIND,
            request,
            h.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(
        h.photos.refs(&h.db, KIND, &[request]).await.unwrap()[&request].len(),
        1
    );
}

#[tokio::test]
async fn pruning_deletes_old_unattached_photos_and_their_bytes_and_keeps_the_rest() {
    let h = Harness::new().await;
    let me = villager();
    let forgotten = some_photo(&h, &me).await;
    let attached = some_photo(&h, &me).await;
    let request = Uuid::now_v7();
    h.photos
        .attach(
            &h.db,
            &me,
            "photos",
            &[attachment(&attached)],
            KIND,
            request,
            h.clock.now(),
        )
        .await
        .unwrap();
    h.advance(Duration::from_secs(23 * 3600));
    let recent = some_photo(&h, &me).await;
    assert_eq!(h.files().len(), 6);

    // Not yet a day: nothing goes.
    assert_eq!(
        h.photos
            .prune_unattached(&h.db, h.clock.now())
            .await
            .unwrap(),
        0
    );
    h.advance(Duration::from_secs(3600 + 1));
    assert_eq!(
        h.photos
            .prune_unattached(&h.db, h.clock.now())
            .await
            .unwrap(),
        1
    );
    assert!(h.object(&forgotten.object_key).is_none());
    assert!(h.object(&thumbnail_key(&forgotten.object_key)).is_none());
    for kept in [&attached, &recent] {
        assert!(h.object(&kept.object_key).is_some());
        assert!(h.object(&thumbnail_key(&kept.object_key)).is_some());
    }
    assert_eq!(h.files().len(), 4);
    // The forgotten photo can no longer be attached.
    let late = h
        .photos
        .attach(
            &h.db,
            &me,
            "photos",
            &[attachment(&forgotten)],
            KIND,
            Uuid::now_v7(),
            h.clock.now(),
        )
        .await;
    assert_eq!(violations(late).len(), 1);

    // An erased request's photos are detached, cannot be attached again, and go at the next
    // prune, however recent.
    let erased = Uuid::now_v7();
    h.photos
        .attach(
            &h.db,
            &me,
            "photos",
            &[attachment(&recent)],
            KIND,
            erased,
            h.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(h.photos.detach_all(&h.db, KIND, erased).await.unwrap(), 1);
    assert!(
        h.photos
            .refs(&h.db, KIND, &[erased])
            .await
            .unwrap()
            .is_empty()
    );
    let reattach = h
        .photos
        .attach(
            &h.db,
            &me,
            "photos",
            &[attachment(&recent)],
            KIND,
            erased,
            h.clock.now(),
        )
        .await;
    assert_eq!(violations(reattach).len(), 1);
    assert_eq!(
        h.photos
            .prune_unattached(&h.db, h.clock.now())
            .await
            .unwrap(),
        1
    );
    assert!(h.object(&recent.object_key).is_none());
    assert!(h.object(&attached.object_key).is_some());
    assert_eq!(
        h.photos.refs(&h.db, KIND, &[request]).await.unwrap()[&request].len(),
        1
    );
}
