BEGIN;
INSERT INTO plain (payload) VALUES (repeat($$x$$, 64));
COMMIT;
