-- Circulation aggregates rolled up by a job instead of kept by the desk.
--
-- 0012 added a trigger to every loan write that upserted two aggregate
-- rows (circ_daily, circ_hourly): the desk paid for reports on every
-- checkout, renewal and checkin (32 desks did about a fifth fewer
-- operations a second). Now the aggregates hold every event before a
-- per-library watermark (circ_rollup.through) and the reports add the
-- events since then, read live from loans and the audit log (a day or two
-- of activity: milliseconds). A job moves the watermark forward once a day.
--
-- The one case the job cannot see is an event written after the watermark
-- passed its time: an offline checkout replayed days later, a book-drop
-- checkin backdated. The desk's triggers now fire only for events older
-- than a day (a WHEN clause, evaluated without calling any function, so an
-- ordinary desk write pays nothing) and add such an event to the
-- aggregates themselves when it lies before the watermark. The job only
-- moves the watermark to a day before the oldest open transaction, and
-- both sides take the watermark row's lock, so every event is counted by
-- exactly one of them (see app.circ_rollup).
--
-- The same rollup keeps checkouts per title and library-local month
-- (circ_titles_monthly) for the popular-titles report, which summed a
-- year of loans (2M index entries) on every run.

-- +goose Up

-- Serialise with desks still running the old triggers while they go.
LOCK TABLE loans IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE circ_rollup (
    tenant_id  uuid NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) PRIMARY KEY,
    -- the aggregates hold exactly the events before this instant
    through    timestamptz NOT NULL DEFAULT '-infinity',
    rolled_at  timestamptz
);
ALTER TABLE circ_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE circ_rollup FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON circ_rollup
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
-- UPDATE: the desk's backdated path takes the row FOR SHARE.
GRANT SELECT, INSERT, UPDATE ON circ_rollup TO stacks_app;

-- Checkouts per title and library-local month (first day of the month).
-- No foreign key to bibs: loans carry bib_id without one either.
CREATE TABLE circ_titles_monthly (
    tenant_id  uuid NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id),
    month      date NOT NULL CHECK (extract(day FROM month) = 1),
    bib_id     uuid NOT NULL,
    checkouts  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, bib_id, month)
);
-- A month's most borrowed titles first: app.top_titles reads the head.
CREATE INDEX circ_titles_monthly_top_idx ON circ_titles_monthly (tenant_id, month, checkouts DESC);
ALTER TABLE circ_titles_monthly ENABLE ROW LEVEL SECURITY;
ALTER TABLE circ_titles_monthly FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON circ_titles_monthly
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON circ_titles_monthly TO stacks_app;

-- The live part of the reports reads checkins since the watermark.
CREATE INDEX loans_returned_at_idx ON loans (tenant_id, returned_at) INCLUDE (bib_id) WHERE status = 'returned';

-- Every library gets its watermark row with the tenant (-infinity: nothing
-- rolled up yet, every event is read live).
-- +goose StatementBegin
CREATE FUNCTION app.circ_rollup_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.circ_rollup (tenant_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tenant_circ_rollup AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION app.circ_rollup_created();
INSERT INTO circ_rollup (tenant_id) SELECT id FROM tenants ON CONFLICT DO NOTHING;

-- The old per-event path goes.
DROP TRIGGER loans_circ_daily_insert ON loans;
DROP TRIGGER loans_circ_daily_update ON loans;
DROP FUNCTION app.loans_circ_daily();
DROP FUNCTION app.circ_daily_add(uuid, timestamptz, uuid, text, text, integer, integer, integer);

-- Adds one event to the aggregates (shard 0), on the library's local day,
-- hour and month: the backdated path.
-- +goose StatementBegin
CREATE FUNCTION app.circ_add(t uuid, at timestamptz, b uuid, itype text, pcat text, bib uuid,
    co integer, rn integer, ci integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local timestamp;
BEGIN
    SELECT at AT TIME ZONE COALESCE(timezone, 'UTC') INTO local FROM public.tenants WHERE id = t;
    INSERT INTO public.circ_daily AS d (tenant_id, day, branch_id, item_type, patron_category, shard, checkouts, renewals, checkins)
    VALUES (t, local::date, b, itype, pcat, 0, co, rn, ci)
    ON CONFLICT (tenant_id, day, branch_id, item_type, patron_category, shard) DO UPDATE
        SET checkouts = d.checkouts + EXCLUDED.checkouts,
            renewals = d.renewals + EXCLUDED.renewals,
            checkins = d.checkins + EXCLUDED.checkins;
    INSERT INTO public.circ_hourly AS h (tenant_id, day, hour, branch_id, shard, checkouts, renewals, checkins)
    VALUES (t, local::date, extract(hour FROM local)::smallint, b, 0, co, rn, ci)
    ON CONFLICT (tenant_id, day, branch_id, hour, shard) DO UPDATE
        SET checkouts = h.checkouts + EXCLUDED.checkouts,
            renewals = h.renewals + EXCLUDED.renewals,
            checkins = h.checkins + EXCLUDED.checkins;
    IF co > 0 THEN
        INSERT INTO public.circ_titles_monthly AS m (tenant_id, month, bib_id, checkouts)
        VALUES (t, date_trunc('month', local)::date, bib, co)
        ON CONFLICT (tenant_id, bib_id, month) DO UPDATE SET checkouts = m.checkouts + EXCLUDED.checkouts;
    END IF;
END $$;
-- +goose StatementEnd

-- A loan event more than a day old at write time: counted here when the
-- watermark has already passed it. FOR SHARE waits for a rollup in
-- progress and then reads its new watermark (READ COMMITTED re-reads the
-- locked row), so the event is in the job's snapshot or counted here,
-- never both. Renewals count at their time (the audit entry's, equal to
-- last_renewed_at) and the lending branch, checkins at the return branch.
-- +goose StatementBegin
CREATE FUNCTION app.loans_circ_backdated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    th timestamptz;
BEGIN
    SELECT through INTO th FROM public.circ_rollup WHERE tenant_id = NEW.tenant_id FOR SHARE;
    IF th IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.checked_out_at < th THEN
            PERFORM app.circ_add(NEW.tenant_id, NEW.checked_out_at, NEW.branch_id, NEW.item_type,
                NEW.patron_category, NEW.bib_id, 1, 0, 0);
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.renewals_used > OLD.renewals_used AND NEW.last_renewed_at < th THEN
        PERFORM app.circ_add(NEW.tenant_id, NEW.last_renewed_at, NEW.branch_id, NEW.item_type,
            NEW.patron_category, NEW.bib_id, 0, NEW.renewals_used - OLD.renewals_used, 0);
    END IF;
    IF NEW.status = 'returned' AND OLD.status <> 'returned' AND NEW.returned_at < th THEN
        PERFORM app.circ_add(NEW.tenant_id, NEW.returned_at, COALESCE(NEW.return_branch_id, NEW.branch_id),
            NEW.item_type, NEW.patron_category, NEW.bib_id, 0, 0, 1);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER loans_circ_backdated_insert AFTER INSERT ON loans
    FOR EACH ROW WHEN (NEW.checked_out_at < now() - interval '1 day')
    EXECUTE FUNCTION app.loans_circ_backdated();
CREATE TRIGGER loans_circ_backdated_update AFTER UPDATE OF renewals_used, status ON loans
    FOR EACH ROW WHEN ((NEW.renewals_used > OLD.renewals_used AND NEW.last_renewed_at < now() - interval '1 day')
        OR (NEW.status = 'returned' AND OLD.status <> 'returned' AND NEW.returned_at < now() - interval '1 day'))
    EXECUTE FUNCTION app.loans_circ_backdated();

-- The current library's events in [lo, hi), one row each, with the
-- library-local time: the rollup's input and the reports' live part.
-- Renewals come from the audit log (a loan renewed twice keeps only its
-- last time).
-- +goose StatementBegin
CREATE FUNCTION app.circ_events(lo timestamptz, hi timestamptz)
RETURNS TABLE (local timestamp, branch_id uuid, item_type text, patron_category text, bib_id uuid,
    checkouts integer, renewals integer, checkins integer)
LANGUAGE sql STABLE AS $$
    WITH z AS (SELECT COALESCE((SELECT timezone FROM public.tenants WHERE id = app.current_tenant_id()), 'UTC') AS tz)
    SELECT l.checked_out_at AT TIME ZONE z.tz, l.branch_id, l.item_type, l.patron_category, l.bib_id, 1, 0, 0
    FROM public.loans l, z WHERE l.checked_out_at >= lo AND l.checked_out_at < hi
    UNION ALL
    SELECT a.at AT TIME ZONE z.tz, l.branch_id, l.item_type, l.patron_category, l.bib_id, 0, 1, 0
    FROM public.circ_audit a JOIN public.loans l ON l.tenant_id = a.tenant_id AND l.id = a.loan_id, z
    WHERE a.action = 'renew' AND a.at >= lo AND a.at < hi
    UNION ALL
    SELECT l.returned_at AT TIME ZONE z.tz, COALESCE(l.return_branch_id, l.branch_id), l.item_type, l.patron_category, l.bib_id, 0, 0, 1
    FROM public.loans l, z WHERE l.status = 'returned' AND l.returned_at >= lo AND l.returned_at < hi
$$;
-- +goose StatementEnd

-- The live part: events since the watermark.
-- +goose StatementBegin
CREATE FUNCTION app.circ_live()
RETURNS TABLE (local timestamp, branch_id uuid, item_type text, patron_category text, bib_id uuid,
    checkouts integer, renewals integer, checkins integer)
LANGUAGE sql STABLE AS $$
    SELECT * FROM app.circ_events(COALESCE((SELECT through FROM public.circ_rollup), '-infinity'), 'infinity')
$$;
-- +goose StatementEnd

-- Moves the current library's watermark forward and adds the events it
-- passes to the aggregates. The new watermark is a day before the start of
-- the oldest transaction still open (or before now): a transaction whose
-- rows this rollup cannot see yet writes events no older than a day before
-- its own start, which stay after the watermark, or older ones, which its
-- trigger counts. Only sessions of the same role show their transaction
-- start; every loan write goes through the application role. Idempotent;
-- safe to run at any time and repeatedly.
-- +goose StatementBegin
CREATE FUNCTION app.circ_rollup() RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    t uuid := app.current_tenant_id();
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'circ_rollup needs app.tenant_id';
    END IF;
    INSERT INTO public.circ_rollup (tenant_id) VALUES (t) ON CONFLICT DO NOTHING;
    SELECT through INTO lo FROM public.circ_rollup WHERE tenant_id = t FOR UPDATE;
    SELECT least(clock_timestamp(), min(xact_start)) - interval '1 day' INTO hi
    FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
      AND xact_start IS NOT NULL;
    IF hi <= lo THEN
        RETURN lo;
    END IF;
    CREATE TEMP TABLE circ_rollup_events ON COMMIT DROP AS SELECT * FROM app.circ_events(lo, hi);
    INSERT INTO public.circ_daily AS d (tenant_id, day, branch_id, item_type, patron_category, shard, checkouts, renewals, checkins)
    SELECT t, local::date, branch_id, item_type, patron_category, 0, sum(checkouts), sum(renewals), sum(checkins)
    FROM circ_rollup_events GROUP BY 2, 3, 4, 5
    ON CONFLICT (tenant_id, day, branch_id, item_type, patron_category, shard) DO UPDATE
        SET checkouts = d.checkouts + EXCLUDED.checkouts,
            renewals = d.renewals + EXCLUDED.renewals,
            checkins = d.checkins + EXCLUDED.checkins;
    INSERT INTO public.circ_hourly AS h (tenant_id, day, hour, branch_id, shard, checkouts, renewals, checkins)
    SELECT t, local::date, extract(hour FROM local)::smallint, branch_id, 0, sum(checkouts), sum(renewals), sum(checkins)
    FROM circ_rollup_events GROUP BY 2, 3, 4
    ON CONFLICT (tenant_id, day, branch_id, hour, shard) DO UPDATE
        SET checkouts = h.checkouts + EXCLUDED.checkouts,
            renewals = h.renewals + EXCLUDED.renewals,
            checkins = h.checkins + EXCLUDED.checkins;
    INSERT INTO public.circ_titles_monthly AS m (tenant_id, month, bib_id, checkouts)
    SELECT t, date_trunc('month', local)::date, bib_id, sum(checkouts)
    FROM circ_rollup_events WHERE checkouts > 0 GROUP BY 2, 3
    ON CONFLICT (tenant_id, bib_id, month) DO UPDATE SET checkouts = m.checkouts + EXCLUDED.checkouts;
    DROP TABLE circ_rollup_events;
    UPDATE public.circ_rollup SET through = hi, rolled_at = now() WHERE tenant_id = t;
    RETURN hi;
END $$;
-- +goose StatementEnd

-- Checkouts of the current library between lo and hi by title, one row
-- per title and month or per loan (sum them): the whole months from mfirst
-- (at instant mlo) to mend (at mhi, exclusive) from circ_titles_monthly,
-- which holds the checkouts before the watermark, and from the loans index
-- the days outside whole months and the whole months' checkouts since the
-- watermark. With mend = mfirst it is those loans alone.
-- +goose StatementBegin
CREATE FUNCTION app.title_checkouts(lo timestamptz, hi timestamptz, mlo timestamptz, mhi timestamptz,
    mfirst date, mend date)
RETURNS TABLE (bib_id uuid, n integer) LANGUAGE sql STABLE AS $$
    SELECT c.bib_id, c.checkouts FROM public.circ_titles_monthly c WHERE c.month >= mfirst AND c.month < mend
    UNION ALL
    SELECT l.bib_id, 1 FROM public.loans l WHERE l.checked_out_at >= lo AND l.checked_out_at < mlo
    UNION ALL
    SELECT l.bib_id, 1 FROM public.loans l WHERE l.checked_out_at >= mhi AND l.checked_out_at < hi
    UNION ALL
    SELECT l.bib_id, 1 FROM public.loans l
    WHERE l.checked_out_at >= greatest(mlo, (SELECT r.through FROM public.circ_rollup r)) AND l.checked_out_at < mhi
$$;
-- +goose StatementEnd

-- The lim most borrowed titles (title, total) of the period given as for
-- app.title_checkouts, ties by bib_id.
--
-- Summing every title's months is nearly as slow as counting the loans (a
-- busy library lends most of its titles every month), so this reads only
-- the head of each month: a title outside every month's top k was borrowed
-- at most the k-th count in each month, and at most the k-th count of the
-- loans read outside whole months ("edge"), so at most the sum of those
-- (bound). When the lim-th best of the candidates beats the bound, no other
-- title can reach the list and the answer is exact; otherwise k grows, and
-- past 10,000 everything is summed. Circulation is skewed (bestsellers),
-- so one round is the rule.
-- +goose StatementBegin
CREATE FUNCTION app.top_titles(lo timestamptz, hi timestamptz, mlo timestamptz, mhi timestamptz,
    mfirst date, mend date, lim integer)
RETURNS TABLE (title uuid, total bigint) LANGUAGE plpgsql STABLE AS $$
DECLARE
    k integer := greatest(4 * lim, 100);
    ids uuid[];
    ns bigint[];
    bound bigint;
    nth bigint;
BEGIN
    LOOP
        WITH edge AS (
            SELECT e.bib_id, sum(e.n) AS n FROM app.title_checkouts(lo, hi, mlo, mhi, mfirst, mfirst) e GROUP BY e.bib_id),
        months AS (SELECT d::date AS month FROM generate_series(mfirst, mend - 1, interval '1 month') d),
        kth AS (
            SELECT (SELECT c.checkouts FROM public.circ_titles_monthly c WHERE c.month = m.month
                    ORDER BY c.checkouts DESC OFFSET k - 1 LIMIT 1) AS v FROM months m
            UNION ALL
            SELECT (SELECT e.n FROM edge e ORDER BY e.n DESC OFFSET k - 1 LIMIT 1)),
        cand AS (
            SELECT t.bib_id FROM months m CROSS JOIN LATERAL (SELECT c.bib_id FROM public.circ_titles_monthly c
                WHERE c.month = m.month ORDER BY c.checkouts DESC LIMIT k) t
            UNION
            SELECT h.bib_id FROM (SELECT e.bib_id FROM edge e ORDER BY e.n DESC LIMIT k) h),
        tot AS (
            SELECT c.bib_id, COALESCE((SELECT sum(x.checkouts) FROM public.circ_titles_monthly x
                WHERE x.bib_id = c.bib_id AND x.month >= mfirst AND x.month < mend), 0) + COALESCE(e.n, 0) AS n
            FROM cand c LEFT JOIN edge e ON e.bib_id = c.bib_id),
        top AS (SELECT t.bib_id, t.n FROM tot t WHERE t.n > 0 ORDER BY t.n DESC, t.bib_id LIMIT lim)
        SELECT array_agg(top.bib_id ORDER BY top.n DESC, top.bib_id), array_agg(top.n ORDER BY top.n DESC, top.bib_id),
            (SELECT COALESCE(sum(kth.v), 0) FROM kth), CASE WHEN count(*) = lim THEN min(top.n) ELSE 0 END
        INTO ids, ns, bound, nth FROM top;
        IF bound = 0 OR nth > bound THEN
            RETURN QUERY SELECT * FROM unnest(ids, ns);
            RETURN;
        END IF;
        EXIT WHEN k >= 10000;
        k := k * 8;
    END LOOP;
    RETURN QUERY
    SELECT x.bib_id, sum(x.n)::bigint FROM app.title_checkouts(lo, hi, mlo, mhi, mfirst, mend) x
    GROUP BY x.bib_id ORDER BY 2 DESC, 1 LIMIT lim;
END $$;
-- +goose StatementEnd

-- Rebuild (a repair tool and the benchmarks' loader): empty the current
-- library's aggregates and roll everything up again.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app.circ_daily_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t uuid := app.current_tenant_id();
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'circ_daily_rebuild needs app.tenant_id';
    END IF;
    INSERT INTO public.circ_rollup (tenant_id) VALUES (t) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM public.circ_rollup WHERE tenant_id = t FOR UPDATE;
    DELETE FROM public.circ_daily WHERE tenant_id = t;
    DELETE FROM public.circ_hourly WHERE tenant_id = t;
    DELETE FROM public.circ_titles_monthly WHERE tenant_id = t;
    UPDATE public.circ_rollup SET through = '-infinity' WHERE tenant_id = t;
    PERFORM app.circ_rollup();
END $$;
-- +goose StatementEnd

-- Shards are no longer written (nothing contends on the aggregates now);
-- folding the old ones is part of the rebuild below.
DROP FUNCTION app.circ_daily_compact(date);

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
