//! `service_request_followers` (`crate::requests::MIGRATION`): someone told of a request's
//! progress besides its requester — the requester of a duplicate merged into it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_request_followers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub service_request_id: Uuid,
    /// The duplicate they filed.
    #[sea_orm(primary_key, auto_increment = false)]
    pub merged_request_id: Uuid,
    pub user_id: Option<Uuid>,
    pub contact_name: String,
    pub contact_phone: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
