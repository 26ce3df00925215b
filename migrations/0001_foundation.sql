-- Foundation: the tenant directory, org units (branches), staff, sessions, API keys.
-- Every tenant-owned table follows the tenancy contract in README.md:
-- tenant_id NOT NULL, (tenant_id, id) primary key, composite foreign keys,
-- ENABLE + FORCE row level security with the tenant_isolation policy.
-- The application role stacks_app is created by `stacks migrate` before this runs.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS app;
GRANT USAGE ON SCHEMA app TO stacks_app;

-- Fail closed: no setting, or the '' a reused pooled connection reports, means no tenant.
CREATE FUNCTION app.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- Platform table: the directory of tenants. Anyone may look a tenant up by slug
-- (login needs it before any tenant is chosen); only the tenant itself may change its row.
CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('library', 'consortium')),
    timezone    text NOT NULL,
    country     text NOT NULL,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_read ON tenants FOR SELECT USING (true);
CREATE POLICY tenants_insert ON tenants FOR INSERT WITH CHECK (id = app.current_tenant_id());
CREATE POLICY tenants_update ON tenants FOR UPDATE
    USING (id = app.current_tenant_id()) WITH CHECK (id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON tenants TO stacks_app;

-- Org units: consortium -> member library -> branch. path is root..self, so
-- "is X in the subtree of G" is `G = ANY(X.path)` without recursion.
CREATE TABLE branches (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    parent_id      uuid,
    kind           text NOT NULL CHECK (kind IN ('consortium', 'library', 'branch')),
    name           text NOT NULL,
    code           text NOT NULL,
    path           uuid[] NOT NULL,
    timezone       text,
    email          text NOT NULL DEFAULT '',
    phone          text NOT NULL DEFAULT '',
    address        jsonb NOT NULL DEFAULT '{}',
    opening_hours  jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES branches (tenant_id, id),
    CHECK (parent_id IS NOT NULL OR kind <> 'branch')
);
CREATE INDEX branches_parent_idx ON branches (tenant_id, parent_id);
-- At most one root per tenant.
CREATE UNIQUE INDEX branches_one_root ON branches (tenant_id) WHERE parent_id IS NULL;

CREATE TABLE staff_users (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    email          text NOT NULL CHECK (email = lower(email)),
    name           text NOT NULL DEFAULT '',
    password_hash  text NOT NULL,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

-- A role granted at an org unit applies to that unit's subtree.
CREATE TABLE staff_grants (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    user_id     uuid NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'librarian', 'circulation', 'cataloger', 'acquisitions', 'readonly')),
    branch_id   uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, user_id, role, branch_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES staff_users (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id)
);
CREATE INDEX staff_grants_branch_idx ON staff_grants (tenant_id, branch_id);

-- Login sessions. The token itself is never stored, only its SHA-256.
CREATE TABLE sessions (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    user_id     uuid NOT NULL,
    token_hash  bytea NOT NULL,
    ip          text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES staff_users (tenant_id, id)
);
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);
CREATE INDEX sessions_expires_idx ON sessions (tenant_id, expires_at);

-- API keys for integrations: one role at one org unit each.
CREATE TABLE api_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    name          text NOT NULL,
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'librarian', 'circulation', 'cataloger', 'acquisitions', 'readonly')),
    branch_id     uuid NOT NULL,
    created_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key_hash),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES staff_users (tenant_id, id)
);

ALTER TABLE branches ENABLE ROW LEVEL SECURITY;
ALTER TABLE branches FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON branches
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON branches TO stacks_app;

ALTER TABLE staff_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON staff_users
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_users TO stacks_app;

ALTER TABLE staff_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON staff_grants
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_grants TO stacks_app;

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO stacks_app;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys TO stacks_app;
