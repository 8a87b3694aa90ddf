BEGIN;
INSERT INTO always_notify (payload) VALUES (repeat($$x$$, 64));
COMMIT;
