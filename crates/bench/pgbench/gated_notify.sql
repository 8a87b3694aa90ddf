BEGIN;
INSERT INTO gated_notify (payload) VALUES (repeat($$x$$, 64));
COMMIT;
