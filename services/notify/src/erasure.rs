//! What notify keeps of a person beyond the people projection (their e-mail address,
//! [`crate::contacts`]), and what it forgets when identity erases them (China's PIPL): that
//! address, their preferences and subscriptions, their inbox, and in their delivery records the
//! address and the text — the
//! records themselves stay, as the count of what was sent, with nothing left that names the
//! person. Run by the people consumer in the transaction that deletes them from notify's
//! projection.

use sea_orm::{ConnectionTrait as _, DatabaseTransaction, DbErr, Statement};
use terrace_platform::people::PersonalData;
use uuid::Uuid;

/// Notify's part of an erasure.
#[derive(Debug, Clone, Copy)]
pub struct Erase;

impl PersonalData for Erase {
    async fn remember(
        &self,
        txn: &DatabaseTransaction,
        user: Uuid,
        person: &terrace_proto::identity::v1::User,
    ) -> Result<(), DbErr> {
        crate::contacts::remember(txn, user, &person.email).await
    }

    async fn forget(&self, txn: &DatabaseTransaction, user: Uuid) -> Result<(), DbErr> {
        terrace_platform::officials::forget_user(txn, user).await?;
        for sql in [
            "DELETE FROM contact_emails WHERE user_id = $1",
            "DELETE FROM preferences WHERE user_id = $1",
            "DELETE FROM subscriptions WHERE user_id = $1",
            "DELETE FROM inbox_items WHERE user_id = $1",
            "UPDATE deliveries SET address = '', body = '', subject = '', params = '{}'::jsonb,
                    recipient_user_id = NULL
              WHERE recipient_user_id = $1",
        ] {
            txn.execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                sql,
                [user.into()],
            ))
            .await?;
        }
        Ok(())
    }
}
