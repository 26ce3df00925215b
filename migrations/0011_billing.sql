-- Billing: each library's subscription as Stripe last told us, and the
-- Stripe events already processed. Access (full, warning, read-only) is
-- derived from the account in one function, app.tenant_access(), which the
-- authentication query reads on every request, so there is one rule and no
-- extra round trip.

-- +goose Up
CREATE TABLE billing_accounts (
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    plan                   text NOT NULL DEFAULT 'trial',
    billing_interval       text NOT NULL DEFAULT '' CHECK (billing_interval IN ('', 'month', 'year')),
    -- Stripe's subscription statuses, plus our own no-card trial
    -- ('trialing' without a subscription).
    status                 text NOT NULL DEFAULT 'trialing' CHECK (status IN ('trialing', 'active', 'past_due',
                               'unpaid', 'canceled', 'incomplete', 'incomplete_expired', 'paused')),
    trial_ends_at          timestamptz,
    stripe_customer_id     text NOT NULL DEFAULT '',
    stripe_subscription_id text NOT NULL DEFAULT '',
    quantity               integer NOT NULL DEFAULT 0,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean NOT NULL DEFAULT false,
    canceled_at            timestamptz,
    -- When the first unpaid invoice made the subscription past_due, and
    -- until when the library keeps full access (BILLING_GRACE_DAYS later).
    past_due_since         timestamptz,
    grace_ends_at          timestamptz,
    -- The plan's limits as of the last sync (copied from the plans file so
    -- a plan change in the file applies at the next sync, never mid-period).
    limits                 jsonb NOT NULL DEFAULT '{}',
    synced_at              timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);
CREATE UNIQUE INDEX billing_accounts_customer ON billing_accounts (tenant_id, stripe_customer_id);
ALTER TABLE billing_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_accounts
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON billing_accounts TO stacks_app;

-- Every library starts on the no-card trial (the billing module sets the
-- plan's own trial length at signup; 30 days is the floor for tenants made
-- any other way).
-- +goose StatementBegin
CREATE FUNCTION app.billing_account_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.billing_accounts (tenant_id, trial_ends_at) VALUES (NEW.id, now() + interval '30 days')
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tenant_billing_account AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION app.billing_account_created();

-- +goose StatementBegin
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        INSERT INTO billing_accounts (tenant_id, trial_ends_at) VALUES (t, now() + interval '30 days')
        ON CONFLICT DO NOTHING;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
-- +goose StatementEnd

-- The one access rule: {"access": "full" | "warning" | "read_only",
-- "status", "reason", "until"}. Stable and RLS-scoped: it reads the current
-- tenant's account only.
-- +goose StatementBegin
CREATE FUNCTION app.tenant_access() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', a.status, 'plan', a.plan, 'until', CASE
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
    FROM public.billing_accounts a
$$;
-- +goose StatementEnd

-- Deleting a library that left: every row of every tenant table, in an
-- order the foreign keys accept (a table goes once no remaining table
-- references it), for the current tenant only (RLS applies to the owner
-- too: FORCE). Runs as the owner because append-only tables (ledgers,
-- audit) grant the application no DELETE; it refuses unless the library's
-- subscription has ended. The billing account and the tenant row stay (the
-- tenant is marked closed by the caller), so the record of what happened
-- survives and the slug stays taken.
-- +goose StatementBegin
CREATE FUNCTION app.purge_tenant() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    t         uuid := app.current_tenant_id();
    remaining regclass[];
    tbl       regclass;
    progress  boolean;
    n         bigint := 0;
    c         bigint;
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'purge_tenant: no tenant in this transaction';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM billing_accounts WHERE tenant_id = t AND status IN ('canceled', 'incomplete_expired')) THEN
        RAISE EXCEPTION 'purge_tenant: the subscription of tenant % has not ended', t;
    END IF;
    SELECT array_agg(cl.oid::regclass) INTO remaining
    FROM pg_class cl
    JOIN pg_namespace ns ON ns.oid = cl.relnamespace AND ns.nspname = 'public'
    JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE cl.relkind IN ('r', 'p') AND NOT cl.relispartition AND cl.oid <> 'billing_accounts'::regclass;
    WHILE cardinality(remaining) > 0 LOOP
        progress := false;
        FOREACH tbl IN ARRAY remaining LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid = tbl
                           AND k.conrelid <> tbl AND k.conrelid = ANY (remaining)) THEN
                EXECUTE format('DELETE FROM %s WHERE tenant_id = $1', tbl) USING t;
                GET DIAGNOSTICS c = ROW_COUNT;
                n := n + c;
                remaining := array_remove(remaining, tbl);
                progress := true;
            END IF;
        END LOOP;
        IF NOT progress THEN
            RAISE EXCEPTION 'purge_tenant: foreign keys form a cycle among %', remaining;
        END IF;
    END LOOP;
    RETURN n;
END $$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION app.purge_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.purge_tenant() TO stacks_app;

-- Stripe events already processed: a platform table (events arrive before
-- we know whose they are). A replay finds its id here and changes nothing.
CREATE TABLE stripe_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, DELETE ON stripe_events TO stacks_app;
