//! What notify keeps to reach a person beyond the people projection: their e-mail address, from
//! identity's user snapshots and events (kept by the people consumer, [`crate::erasure::Erase`]),
//! deleted when the person clears it or is erased. Only notify holds it: no other service needs
//! an address to write to.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use terrace_platform::db::SqlMigration;

/// The addresses' table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261205_000005_notify_contact_emails",
    up: r"
CREATE TABLE contact_emails (
    user_id uuid PRIMARY KEY,
    address text NOT NULL
);
",
};

/// `contact_emails`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub address: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Keeps `address` as `user`'s (identity checked it); an empty one deletes theirs.
pub async fn remember<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    address: &str,
) -> Result<(), DbErr> {
    if address.trim().is_empty() {
        return forget(conn, user).await;
    }
    Entity::insert(ActiveModel::from(Model {
        user_id: user,
        address: address.trim().to_owned(),
    }))
    .on_conflict(
        OnConflict::column(Column::UserId)
            .update_column(Column::Address)
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Deletes `user`'s address.
pub async fn forget<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<(), DbErr> {
    Entity::delete_by_id(user).exec(conn).await?;
    Ok(())
}

/// `user`'s address, if notify has one.
pub async fn email_of<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<Option<String>, DbErr> {
    Ok(Entity::find_by_id(user)
        .one(conn)
        .await?
        .map(|row| row.address))
}
