-- Patron links: the one-click links in patron mail (renew my loans). The
-- token is "pl_<tenant hex>_<secret>" like staff tokens; only its SHA-256 is
-- stored, looked up inside the named library's rows. A link expires and can
-- be used any number of times until then (a renewal that is not allowed is
-- refused by the desk's own rules).

-- +goose Up
CREATE TABLE patron_links (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    id         uuid NOT NULL,
    patron_id  uuid NOT NULL,
    purpose    text NOT NULL CHECK (purpose IN ('renew')),
    token_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX patron_links_expiry_idx ON patron_links (tenant_id, expires_at);
ALTER TABLE patron_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE patron_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON patron_links
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON patron_links TO stacks_app;
