//! What notify forgets when identity erases a person (China's PIPL): their preferences and
//! subscriptions, their inbox, and in their delivery records the address and the text — the
//! records themselves stay, as the count of what was sent, with nothing left that names the
//! person. Run by the people consumer in the transaction that deletes them from notify's
//! projection.

use sea_orm::{ConnectionTrait as _, DatabaseTransaction, DbErr, Statement};
use terrace_platform::people::Forget;
use uuid::Uuid;

/// Notify's part of an erasure.
#[derive(Debug, Clone, Copy)]
pub struct Erase;

impl Forget for Erase {
    async fn forget(&self, txn: &DatabaseTransaction, user: Uuid) -> Result<(), DbErr> {
        for sql in [
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
