-- Three tables that differ only in what their insert trigger does.
DROP TABLE IF EXISTS plain, always_notify, gated_notify;
CREATE TABLE plain (id bigserial PRIMARY KEY, payload text NOT NULL);
CREATE TABLE always_notify (id bigserial PRIMARY KEY, payload text NOT NULL);
CREATE TABLE gated_notify (id bigserial PRIMARY KEY, payload text NOT NULL);

CREATE OR REPLACE FUNCTION bench_always_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bench', '');
    RETURN NULL;
END $$;
CREATE TRIGGER always_notify AFTER INSERT ON always_notify
    FOR EACH STATEMENT EXECUTE FUNCTION bench_always_notify();

-- What the outbox trigger does: notify only when the (here absent) relay holds the lock.
CREATE OR REPLACE FUNCTION bench_gated_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared(122550254464888) THEN
        PERFORM pg_notify('bench', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER gated_notify AFTER INSERT ON gated_notify
    FOR EACH STATEMENT EXECUTE FUNCTION bench_gated_notify();
