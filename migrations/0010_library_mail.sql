-- Library mail: the outbox also carries messages to the library's own staff
-- and its vendors (billing, scheduled reports, order and serials claims),
-- which have no patron. Their key is (kind, dedupe key, address), so a
-- re-run of the job that wrote them adds nothing. Attachments (a report's
-- CSV) are stored with the notice, written in the same transaction.

-- +goose Up
ALTER TABLE notices ALTER COLUMN patron_id DROP NOT NULL;
CREATE UNIQUE INDEX notices_mail_key ON notices (tenant_id, kind, dedupe_key, to_address) WHERE patron_id IS NULL;

CREATE TABLE notice_attachments (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    notice_id    uuid NOT NULL,
    position     integer NOT NULL,
    filename     text NOT NULL CHECK (filename <> ''),
    content_type text NOT NULL,
    data         bytea NOT NULL,
    PRIMARY KEY (tenant_id, notice_id, position),
    FOREIGN KEY (tenant_id, notice_id) REFERENCES notices (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE notice_attachments ENABLE ROW LEVEL SECURITY;
ALTER TABLE notice_attachments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notice_attachments
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON notice_attachments TO stacks_app;

