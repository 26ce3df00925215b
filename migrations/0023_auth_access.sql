-- The authentication statement every request runs, made cheaper.
--
-- app.tenant_access() is PL/pgSQL (0022), so each call runs its query
-- through SPI: a second executor start-up per request. Measured with
-- pgbench at 32 clients (BEGIN, set_config, the authentication statement,
-- COMMIT): 10.3-10.9k transactions/s calling the function, 12.5k with the
-- same lookup inlined into the statement. The subscription's access is now
-- a view the authentication statement reads as a subquery (planned with
-- it, once per connection), and the function reads the same view, so the
-- rules stay in one place.
--
-- security_invoker: the view reads billing_accounts with the caller's
-- rights, so its row-level security applies (a view otherwise runs as its
-- owner, who is not subject to it). migrations/rls_test.go checks every
-- view for it.

-- +goose Up
CREATE VIEW app.tenant_access_v WITH (security_invoker = true) AS
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
        ELSE a.status END) AS access
FROM public.billing_accounts a;
GRANT SELECT ON app.tenant_access_v TO stacks_app;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app.tenant_access() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT access FROM app.tenant_access_v);
END $$;
-- +goose StatementEnd
