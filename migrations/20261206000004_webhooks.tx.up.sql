-- A board's webhooks. cursor_seq is the seq of the last event handled
-- (acknowledged, or not of a chosen type); epoch changes when the cursor is
-- moved by a replay, version on every change of the row's settings.
-- lease_owner holds the instance that delivers the webhook until
-- lease_until (Unix milliseconds).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    cursor_seq BIGINT NOT NULL DEFAULT 0,
    epoch BIGINT NOT NULL DEFAULT 1,
    version BIGINT NOT NULL DEFAULT 1,
    failing_since TIMESTAMP,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
--bun:split
CREATE INDEX webhooks_board_idx ON webhooks (board_id, created_at);
--bun:split
CREATE INDEX webhooks_status_idx ON webhooks (status, lease_until);
--bun:split
-- The latest delivery attempts of each webhook, numbered by n.
CREATE TABLE webhook_attempts (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    n BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    at TIMESTAMP NOT NULL,
    PRIMARY KEY (webhook_id, n)
);
