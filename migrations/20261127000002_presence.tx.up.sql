CREATE TABLE presence_instances (
    id TEXT PRIMARY KEY,
    heartbeat_at TIMESTAMP NOT NULL
);
--bun:split
CREATE TABLE presence_connections (
    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    conn_id TEXT NOT NULL,
    since TIMESTAMP NOT NULL,
    PRIMARY KEY (board_id, user_id, instance_id, conn_id)
);
--bun:split
CREATE INDEX presence_connections_instance_idx ON presence_connections (instance_id);
--bun:split
CREATE TABLE presence_grace (
    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    since TIMESTAMP NOT NULL,
    until TIMESTAMP NOT NULL,
    PRIMARY KEY (board_id, user_id)
);
