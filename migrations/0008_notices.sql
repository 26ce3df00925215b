-- Notices: the outbox of messages to patrons. A notice row is written in the
-- same transaction as what causes it (a hold trapped, a nightly scan), so a
-- notice exists exactly when its cause committed; a sender task delivers it
-- and records the outcome. The unique key makes every re-run, retry or
-- second scheduler a no-op: one notice per patron, kind, level and dedupe
-- key (the local date for daily digests, the hold for a hold notice).

-- +goose Up
CREATE TABLE notices (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    patron_id     uuid NOT NULL,
    kind          text NOT NULL,
    level         integer NOT NULL DEFAULT 0,
    dedupe_key    text NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'sent', 'failed', 'undeliverable')),
    channel       text NOT NULL DEFAULT 'email',
    to_address    text NOT NULL DEFAULT '',
    subject       text NOT NULL,
    body_text     text NOT NULL,
    body_html     text NOT NULL DEFAULT '',
    details       jsonb NOT NULL DEFAULT '{}',
    attempts      integer NOT NULL DEFAULT 0,
    -- A delivery in progress holds the notice until then, so two workers
    -- (a retry overtaking a cut-off send) never send it at once.
    claimed_until timestamptz,
    error         text NOT NULL DEFAULT '',
    message_id    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, patron_id, kind, level, dedupe_key),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id)
);
CREATE INDEX notices_status_idx ON notices (tenant_id, status, created_at);

ALTER TABLE notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE notices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notices
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON notices TO stacks_app;
