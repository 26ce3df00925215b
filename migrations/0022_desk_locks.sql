-- The circulation desk under many concurrent clients: fewer row locks on
-- shared rows, and an authentication statement that does not plan its
-- subscription check on every request.
--
-- A foreign-key check locks the referenced row FOR KEY SHARE. Every loan and
-- every audit entry of a library pointed at the same tenants row, so with 32
-- desks busy each check found the row already locked by other open
-- transactions and had to create a new MultiXact (copying every current
-- locker) and write a WAL record for the tuple lock: a hot spot that grew
-- with the number of desks. The keys to tenants go where another key
-- already proves the tenant: a loan's (tenant_id, item_id) key reaches
-- tenants through items and bibs, a hold's and a fee entry's
-- (tenant_id, patron_id) through patrons, a transit's (tenant_id, item_id)
-- through items (0019 did the same for items and bib_headings). The audit
-- log has no other key; its rows are written only inside a tenant
-- transaction, whose RLS check (tenant_id = app.current_tenant_id()) the
-- application opens only for an authenticated tenant, and tenants are never
-- deleted (app.purge_tenant empties a closed library's tables and keeps the
-- tenants row), so the key could never fail.

-- +goose Up
ALTER TABLE loans DROP CONSTRAINT loans_tenant_id_fkey;
ALTER TABLE holds DROP CONSTRAINT holds_tenant_id_fkey;
ALTER TABLE transits DROP CONSTRAINT transits_tenant_id_fkey;
ALTER TABLE fee_entries DROP CONSTRAINT fee_entries_tenant_id_fkey;
ALTER TABLE circ_audit DROP CONSTRAINT circ_audit_tenant_id_fkey;

-- app.tenant_access() runs in the authentication statement of every
-- request. As a LANGUAGE sql function that cannot be inlined (it returns
-- one value from a query) PostgreSQL 15 parsed and planned its body on every
-- call (0.13 ms); PL/pgSQL keeps the plan for the session. Same body, same
-- result.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app.tenant_access() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('status', a.status, 'plan', a.plan, 'until', CASE
            WHEN a.status = 'trialing' THEN a.trial_ends_at
            WHEN a.status = 'past_due' THEN a.grace_ends_at END,
        'access', CASE
            WHEN a.status = 'active' THEN 'full'
            WHEN a.status = 'trialing' AND (a.trial_ends_at IS NULL OR a.trial_ends_at > now()) THEN 'full'
            WHEN a.status = 'past_due' AND a.grace_ends_at > now() THEN 'warning'
            ELSE 'read_only' END,
        'reason', CASE
            WHEN a.status = 'trialing' AND a.trial_ends_at <= now() THEN 'trial_expired'
            WHEN a.status = 'past_due' AND a.grace_ends_at > now() THEN 'payment_failed'
            WHEN a.status = 'past_due' THEN 'grace_period_over'
            WHEN a.status IN ('active', 'trialing') THEN ''
            ELSE a.status END)
    FROM public.billing_accounts a);
END $$;
-- +goose StatementEnd

-- Configuration epochs. Every desk transaction read its branch (with the
-- effective time zone), its circulation rule and its calendar (ancestors'
-- hours, closed days): two statements of the nine a checkout made, for data
-- that changes a few times a year. The API now keeps them in memory per
-- library, valid for one epoch: any write to branches, tenants, circ_rules
-- or closed_days bumps the library's epoch in the same transaction, and the
-- authentication statement every request runs already reads it. A request
-- whose epoch matches the cached one uses the cache; any other loads afresh
-- (the epoch and the data in one statement, so they agree).
CREATE TABLE config_epochs (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    epoch     bigint NOT NULL DEFAULT 0
);
ALTER TABLE config_epochs ENABLE ROW LEVEL SECURITY;
ALTER TABLE config_epochs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON config_epochs
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON config_epochs TO stacks_app;

-- Every library has its row from its creation on (a trigger on tenants;
-- existing libraries get theirs here), so a bump is a plain UPDATE: it can
-- never bring back the row of a library app.purge_tenant is emptying.
-- +goose StatementBegin
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        INSERT INTO config_epochs (tenant_id) VALUES (t) ON CONFLICT DO NOTHING;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.config_epoch_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO config_epochs (tenant_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tenants_config_epoch_row AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION app.config_epoch_row();

-- A statement-level trigger: one bump per statement, whatever it touched.
-- The application writes these tables only inside a tenant transaction (RLS
-- is forced on all four): RLS limits the UPDATE to that library. A role
-- that bypasses RLS (a superuser's maintenance, a restore script) may have
-- changed any library without naming one: the same UPDATE bumps them all.
-- +goose StatementBegin
CREATE FUNCTION app.bump_config_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_epochs SET epoch = epoch + 1;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER branches_config_epoch AFTER INSERT OR UPDATE OR DELETE ON branches
    FOR EACH STATEMENT EXECUTE FUNCTION app.bump_config_epoch();
CREATE TRIGGER tenants_config_epoch AFTER UPDATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION app.bump_config_epoch();
CREATE TRIGGER circ_rules_config_epoch AFTER INSERT OR UPDATE OR DELETE ON circ_rules
    FOR EACH STATEMENT EXECUTE FUNCTION app.bump_config_epoch();
CREATE TRIGGER closed_days_config_epoch AFTER INSERT OR UPDATE OR DELETE ON closed_days
    FOR EACH STATEMENT EXECUTE FUNCTION app.bump_config_epoch();

-- Open item-level holds by copy: the desk asks at every checkout whether
-- another patron holds exactly this copy, which read the library's whole
-- holds table (fulfilled and canceled ones included) without it.
CREATE INDEX holds_item_queue_idx ON holds (tenant_id, item_id)
    WHERE item_id IS NOT NULL AND status IN ('pending', 'in_transit', 'waiting');
