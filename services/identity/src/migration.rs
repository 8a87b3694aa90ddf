//! The identity service's migrations. Applied migrations are never edited; a change is a new one.

use sea_orm_migration::{MigrationTrait, MigratorTrait};
use terrace_platform::db::SqlMigration;

/// Users and their one-time codes.
pub const USERS: SqlMigration = SqlMigration {
    name: "m20261128_200001_identity_users",
    up: r"
CREATE TABLE users (
    id             uuid        PRIMARY KEY,
    -- E.164, e.g. +8613800138000; one account per phone.
    phone_number   text        NOT NULL UNIQUE,
    display_name   text        NOT NULL,
    locale         text        NOT NULL,
    time_zone      text        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('active', 'locked', 'disabled')),
    -- argon2id PHC string; NULL for villagers who only log in with one-time codes.
    password_hash  text,
    -- Consecutive wrong passwords; at the limit the account is locked for a while.
    failed_logins  integer     NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    last_login_at  timestamptz,
    -- Who registered the user when it was not the user (an official for a villager without a phone).
    created_by     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE otp_challenges (
    id           uuid        PRIMARY KEY,
    phone_number text        NOT NULL,
    purpose      text        NOT NULL,
    -- HMAC-SHA256 of the code under the service secret; the code itself is never stored.
    code_hash    bytea       NOT NULL,
    expires_at   timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    consumed_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX otp_challenges_phone ON otp_challenges (phone_number, purpose, created_at DESC);

-- Idempotent mutations: the first answer to a request_id is kept and replayed.
CREATE TABLE request_log (
    request_id  uuid        PRIMARY KEY,
    rpc         text        NOT NULL,
    fingerprint bytea       NOT NULL,
    response    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
",
};

/// The migrator of the `identity` database.
/// The request log keyed by `request_id` alone gave way to the platform's idempotency log, keyed
/// by caller and request id.
const DROP_REQUEST_LOG: SqlMigration = SqlMigration {
    name: "m20261201_100005_identity_drop_request_log",
    up: "DROP TABLE IF EXISTS request_log;",
};

#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = terrace_platform::db::migrations();
        migrations.extend([
            USERS.boxed(),
            crate::keys::MIGRATION.boxed(),
            crate::tokens::MIGRATION.boxed(),
            crate::grants::MIGRATION.boxed(),
            crate::agencies::MIGRATION.boxed(),
            // consents
            crate::consents::MIGRATION.boxed(),
            // management
            crate::management::MIGRATION.boxed(),
            crate::management::STATUS_RANK.boxed(),
            crate::grants::REQUESTS.boxed(),
            crate::agencies::CREATING_REQUESTS.boxed(),
            crate::management::CREATED_BY_REQUEST.boxed(),
            crate::consents::REQUEST_IDS.boxed(),
            DROP_REQUEST_LOG.boxed(),
        ]);
        migrations
    }
}
