//! The market's goods the cross-service tests (notify's, the flows) trade: 200 斤 of 红富士苹果
//! at ¥3.50 a 斤 for pickup, no minimum order; and an order of some 斤 of a listing.

use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as market;

/// 200 斤 of 红富士苹果 at ¥3.50 a 斤, for pickup.
pub fn apples() -> market::Listing {
    market::Listing {
        category_id: "fruit.apple".to_owned(),
        title: Some(common::LocalizedText {
            translations: [("zh-CN".to_owned(), "红富士苹果".to_owned())].into(),
        }),
        stocked: Some(common::Quantity {
            value_milli: 200_000,
            unit: common::Unit::Jin as i32,
        }),
        unit_price: Some(common::Money {
            amount_minor: 350,
            currency_code: "CNY".to_owned(),
        }),
        fulfilment_methods: vec![market::FulfilmentMethod::Pickup as i32],
        ..Default::default()
    }
}

/// An order of `jin` 斤 of the listing `listing_id`, picked up.
pub fn pickup_order(listing_id: &str, jin: i64) -> market::Order {
    market::Order {
        listing_id: listing_id.to_owned(),
        quantity: Some(common::Quantity {
            value_milli: jin * 1000,
            unit: common::Unit::Jin as i32,
        }),
        fulfilment_method: market::FulfilmentMethod::Pickup as i32,
        ..Default::default()
    }
}
