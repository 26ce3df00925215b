-- Per-library notice settings: which kinds are sent, their day offsets and
-- the local hour the daily notices go out. A library without a row uses
-- the defaults below (the service reads them from here too).

-- +goose Up
CREATE TABLE notice_settings (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    enabled_kinds    text[] NOT NULL DEFAULT '{hold_available,hold_expiring,hold_expired,due_soon,overdue,auto_renewal,card_expiring,fines,verification}',
    due_soon_days    integer NOT NULL DEFAULT 3 CHECK (due_soon_days BETWEEN 1 AND 30),
    -- Days after the due date of overdue levels 1, 2, 3 (0: level off).
    overdue1_days    integer NOT NULL DEFAULT 1 CHECK (overdue1_days BETWEEN 0 AND 365),
    overdue2_days    integer NOT NULL DEFAULT 7 CHECK (overdue2_days BETWEEN 0 AND 365),
    overdue3_days    integer NOT NULL DEFAULT 14 CHECK (overdue3_days BETWEEN 0 AND 365),
    -- Card-expiring reminders go this many days before the card expires.
    card_expiry_days integer NOT NULL DEFAULT 30 CHECK (card_expiry_days BETWEEN 1 AND 365),
    send_hour        integer NOT NULL DEFAULT 8 CHECK (send_hour BETWEEN 0 AND 23),
    sender_name      text NOT NULL DEFAULT '',
    reply_to         text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);

ALTER TABLE notice_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE notice_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notice_settings
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON notice_settings TO stacks_app;

-- A library's own notice texts (Go text/template), one per kind; a kind
-- without a row uses the built-in text.
CREATE TABLE notice_templates (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    kind        text NOT NULL,
    subject     text NOT NULL,
    body_text   text NOT NULL,
    body_html   text NOT NULL DEFAULT '', -- html/template; empty: the text, as simple HTML
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);

ALTER TABLE notice_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE notice_templates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notice_templates
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON notice_templates TO stacks_app;

-- Kinds a patron chose not to receive (only the kinds notices.OptionalKinds
-- lists; notices about holds ready, overdue items and fines always go).
CREATE TABLE notice_opt_outs (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    patron_id   uuid NOT NULL,
    kind        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, patron_id, kind),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id)
);

ALTER TABLE notice_opt_outs ENABLE ROW LEVEL SECURITY;
ALTER TABLE notice_opt_outs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notice_opt_outs
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, DELETE ON notice_opt_outs TO stacks_app;
