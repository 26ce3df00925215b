-- Reports: daily circulation aggregates kept by triggers in the same
-- transaction as each loan write, indexes the report queries need, and
-- scheduled reports with their stored runs.

-- +goose Up

-- Circulation counts per library-local day, branch, item type and patron
-- category (circ_daily), and per local day, hour and branch (circ_hourly).
-- One row carries the three events (checkouts, renewals, checkins) so a
-- report reads each cell once. Two tables rather than one with an hour
-- key: at 2M loans a year an hour key makes the aggregate nearly as many
-- rows as events (day x hour x branch x type x category cells are mostly
-- hit once or twice), and a year's report scanned 500k rows; without it a
-- year is at most days x branches x types x categories rows.
--
-- shard spreads the counters: every checkout of a book by an adult at the
-- main branch on one day would otherwise update ONE row, and that row lock
-- is held until the desk's transaction commits, so 32 desks would queue
-- behind each other. The trigger writes to shard pg_backend_pid() % 64: two
-- connections contend only when their backend pids share a residue (with 8
-- shards, 20 pooled connections shared each shard two or three at a time
-- and 32 desks did 25-40% fewer operations a second; with 64 a collision
-- is the exception), and the reports sum over shards (the shard is never a
-- grouping key). A daily job (app.circ_daily_compact) folds the shards of
-- past days into shard 0, so the extra rows live one day.
CREATE TABLE circ_daily (
    tenant_id        uuid NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id),
    day              date NOT NULL,
    branch_id        uuid NOT NULL,
    item_type        text NOT NULL,
    patron_category  text NOT NULL,
    shard            smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 63),
    checkouts        integer NOT NULL DEFAULT 0,
    renewals         integer NOT NULL DEFAULT 0,
    checkins         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, branch_id, item_type, patron_category, shard),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id)
);
CREATE TABLE circ_hourly (
    tenant_id        uuid NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id),
    day              date NOT NULL,
    hour             smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    branch_id        uuid NOT NULL,
    shard            smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 63),
    checkouts        integer NOT NULL DEFAULT 0,
    renewals         integer NOT NULL DEFAULT 0,
    checkins         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, branch_id, hour, shard),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id)
);
-- Counter updates change no indexed column: HOT updates, no index writes.
ALTER TABLE circ_daily SET (fillfactor = 80);
ALTER TABLE circ_hourly SET (fillfactor = 80);

ALTER TABLE circ_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE circ_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON circ_daily
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON circ_daily TO stacks_app;

ALTER TABLE circ_hourly ENABLE ROW LEVEL SECURITY;
ALTER TABLE circ_hourly FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON circ_hourly
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON circ_hourly TO stacks_app;

-- Adds one event to both aggregates, on the library's local day and hour.
-- Runs as the caller (stacks_app), inside the desk's transaction, under RLS.
-- +goose StatementBegin
CREATE FUNCTION app.circ_daily_add(t uuid, at timestamptz, b uuid, itype text, pcat text,
    co integer, rn integer, ci integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    local timestamp;
    sh smallint := (pg_backend_pid() % 64)::smallint;
BEGIN
    SELECT timezone INTO tz FROM public.tenants WHERE id = t;
    local := at AT TIME ZONE COALESCE(tz, 'UTC');
    INSERT INTO public.circ_daily AS d (tenant_id, day, branch_id, item_type, patron_category, shard, checkouts, renewals, checkins)
    VALUES (t, local::date, b, itype, pcat, sh, co, rn, ci)
    ON CONFLICT (tenant_id, day, branch_id, item_type, patron_category, shard) DO UPDATE
        SET checkouts = d.checkouts + EXCLUDED.checkouts,
            renewals = d.renewals + EXCLUDED.renewals,
            checkins = d.checkins + EXCLUDED.checkins;
    INSERT INTO public.circ_hourly AS h (tenant_id, day, hour, branch_id, shard, checkouts, renewals, checkins)
    VALUES (t, local::date, extract(hour FROM local)::smallint, b, sh, co, rn, ci)
    ON CONFLICT (tenant_id, day, branch_id, hour, shard) DO UPDATE
        SET checkouts = h.checkouts + EXCLUDED.checkouts,
            renewals = h.renewals + EXCLUDED.renewals,
            checkins = h.checkins + EXCLUDED.checkins;
END $$;
-- +goose StatementEnd

-- Every desk path (checkout, renewal, checkin at the desk, offline replay,
-- the nightly auto-renewal) writes the loan row, so counting here covers
-- them all without the circulation code knowing. A checkout counts at its
-- checked_out_at and branch; a renewal at last_renewed_at and the lending
-- branch (the loan row does not record where it was renewed); a checkin at
-- returned_at and the return branch.
-- +goose StatementBegin
CREATE FUNCTION app.loans_circ_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM app.circ_daily_add(NEW.tenant_id, NEW.checked_out_at, NEW.branch_id, NEW.item_type,
            NEW.patron_category, 1, 0, 0);
        RETURN NULL;
    END IF;
    IF NEW.renewals_used > OLD.renewals_used THEN
        PERFORM app.circ_daily_add(NEW.tenant_id, COALESCE(NEW.last_renewed_at, now()), NEW.branch_id,
            NEW.item_type, NEW.patron_category, 0, NEW.renewals_used - OLD.renewals_used, 0);
    END IF;
    IF NEW.status = 'returned' AND OLD.status <> 'returned' THEN
        PERFORM app.circ_daily_add(NEW.tenant_id, NEW.returned_at, COALESCE(NEW.return_branch_id, NEW.branch_id),
            NEW.item_type, NEW.patron_category, 0, 0, 1);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER loans_circ_daily_insert AFTER INSERT ON loans
    FOR EACH ROW EXECUTE FUNCTION app.loans_circ_daily();
-- Only updates that renew or return: anonymising, marking lost or a due
-- date change never reach the function.
CREATE TRIGGER loans_circ_daily_update AFTER UPDATE OF renewals_used, status ON loans
    FOR EACH ROW WHEN (NEW.renewals_used > OLD.renewals_used OR (NEW.status = 'returned' AND OLD.status <> 'returned'))
    EXECUTE FUNCTION app.loans_circ_daily();

-- Rebuilds the current tenant's aggregates from its loans (renewals from
-- the audit log's renew entries, which carry their time): the backfill
-- below, and a repair tool. Set-based, all in shard 0.
-- +goose StatementBegin
CREATE FUNCTION app.circ_daily_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t uuid := app.current_tenant_id();
    tz text;
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'circ_daily_rebuild needs app.tenant_id';
    END IF;
    SELECT timezone INTO tz FROM public.tenants WHERE id = t;
    DELETE FROM public.circ_daily WHERE tenant_id = t;
    DELETE FROM public.circ_hourly WHERE tenant_id = t;
    CREATE TEMP TABLE circ_events ON COMMIT DROP AS
    SELECT e.at AT TIME ZONE tz AS local, e.branch_id, e.item_type, e.patron_category, e.co, e.rn, e.ci
    FROM (
        SELECT l.checked_out_at AS at, l.branch_id, l.item_type, l.patron_category, 1 AS co, 0 AS rn, 0 AS ci
        FROM public.loans l WHERE l.tenant_id = t
        UNION ALL
        SELECT a.at, l.branch_id, l.item_type, l.patron_category, 0, 1, 0
        FROM public.circ_audit a JOIN public.loans l ON l.tenant_id = a.tenant_id AND l.id = a.loan_id
        WHERE a.tenant_id = t AND a.action = 'renew'
        UNION ALL
        SELECT l.returned_at, COALESCE(l.return_branch_id, l.branch_id), l.item_type, l.patron_category, 0, 0, 1
        FROM public.loans l WHERE l.tenant_id = t AND l.status = 'returned'
    ) e;
    INSERT INTO public.circ_daily (tenant_id, day, branch_id, item_type, patron_category, shard, checkouts, renewals, checkins)
    SELECT t, local::date, branch_id, item_type, patron_category, 0, sum(co), sum(rn), sum(ci)
    FROM circ_events GROUP BY 2, 3, 4, 5;
    INSERT INTO public.circ_hourly (tenant_id, day, hour, branch_id, shard, checkouts, renewals, checkins)
    SELECT t, local::date, extract(hour FROM local)::smallint, branch_id, 0, sum(co), sum(rn), sum(ci)
    FROM circ_events GROUP BY 2, 3, 4;
    DROP TABLE circ_events;
END $$;
-- +goose StatementEnd

-- Folds the shards of the current tenant's days before `before` into
-- shard 0: the shards only matter while desks are writing a day, and
-- fewer rows make long reports faster. Idempotent; the workers run it once
-- a day per library.
-- +goose StatementBegin
CREATE FUNCTION app.circ_daily_compact(before date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH moved AS (
        DELETE FROM public.circ_daily WHERE tenant_id = app.current_tenant_id() AND day < before AND shard <> 0
        RETURNING day, branch_id, item_type, patron_category, checkouts, renewals, checkins)
    INSERT INTO public.circ_daily AS d (day, branch_id, item_type, patron_category, shard, checkouts, renewals, checkins)
    SELECT day, branch_id, item_type, patron_category, 0, sum(checkouts), sum(renewals), sum(checkins)
    FROM moved GROUP BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, day, branch_id, item_type, patron_category, shard) DO UPDATE
        SET checkouts = d.checkouts + EXCLUDED.checkouts,
            renewals = d.renewals + EXCLUDED.renewals,
            checkins = d.checkins + EXCLUDED.checkins;
    WITH moved AS (
        DELETE FROM public.circ_hourly WHERE tenant_id = app.current_tenant_id() AND day < before AND shard <> 0
        RETURNING day, hour, branch_id, checkouts, renewals, checkins)
    INSERT INTO public.circ_hourly AS h (day, hour, branch_id, shard, checkouts, renewals, checkins)
    SELECT day, hour, branch_id, 0, sum(checkouts), sum(renewals), sum(checkins)
    FROM moved GROUP BY 1, 2, 3
    ON CONFLICT (tenant_id, day, branch_id, hour, shard) DO UPDATE
        SET checkouts = h.checkouts + EXCLUDED.checkouts,
            renewals = h.renewals + EXCLUDED.renewals,
            checkins = h.checkins + EXCLUDED.checkins;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        PERFORM app.circ_daily_rebuild();
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
-- +goose StatementEnd

-- Report queries by period: popular titles over checkouts in a date range
-- (bib and branch included: an index-only scan when nothing else filters);
-- dead items and an item's last checkout; fines by period.
CREATE INDEX loans_checked_out_idx ON loans (tenant_id, checked_out_at) INCLUDE (bib_id, branch_id);
CREATE INDEX loans_item_checked_out_idx ON loans (tenant_id, item_id, checked_out_at);
CREATE INDEX fee_entries_created_idx ON fee_entries (tenant_id, created_at);

-- Scheduled reports: a report with its parameters (relative dates such as
-- last_month keep their meaning), built by the worker at the library's
-- local hour and sent to the recipients.
CREATE TABLE report_schedules (
    tenant_id     uuid NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id),
    id            uuid NOT NULL,
    name          text NOT NULL DEFAULT '',
    report        text NOT NULL,
    params        jsonb NOT NULL DEFAULT '{}',
    frequency     text NOT NULL CHECK (frequency IN ('daily', 'weekly', 'monthly')),
    hour          smallint NOT NULL DEFAULT 7 CHECK (hour BETWEEN 0 AND 23),
    format        text NOT NULL DEFAULT 'csv' CHECK (format IN ('csv', 'json', 'svg')),
    recipients    text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    owner_id      uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES staff_users (tenant_id, id)
);
CREATE INDEX report_schedules_status_idx ON report_schedules (tenant_id, status);

ALTER TABLE report_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON report_schedules
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON report_schedules TO stacks_app;

-- One run of a report (scheduled or "run now"): its outcome and the file,
-- kept in Postgres so any API process can serve the download. period is the
-- schedule's period key (the local date, week or month it ran for): one run
-- per schedule and period, whatever retries or schedulers do.
CREATE TABLE report_runs (
    tenant_id     uuid NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id),
    id            uuid NOT NULL,
    schedule_id   uuid,
    report        text NOT NULL,
    params        jsonb NOT NULL DEFAULT '{}',
    period        text NOT NULL,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    format        text NOT NULL,
    content_type  text NOT NULL DEFAULT '',
    filename      text NOT NULL DEFAULT '',
    file          bytea,
    size_bytes    bigint NOT NULL DEFAULT 0,
    row_count     bigint NOT NULL DEFAULT 0,
    attempts      integer NOT NULL DEFAULT 0,
    error         text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    duration_ms   bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, schedule_id) REFERENCES report_schedules (tenant_id, id) ON DELETE SET NULL (schedule_id)
);
CREATE UNIQUE INDEX report_runs_period_idx ON report_runs (tenant_id, schedule_id, period) WHERE schedule_id IS NOT NULL;
CREATE INDEX report_runs_created_idx ON report_runs (tenant_id, created_at);

ALTER TABLE report_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON report_runs
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON report_runs TO stacks_app;
