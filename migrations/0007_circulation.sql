-- Patrons and circulation: categories, item types, patrons, blocks, the rule
-- matrix, the calendar, loans, holds, transits, the fines ledger and the
-- circulation audit log. Every table follows the tenancy contract (see 0001).
-- Money is bigint minor units plus the tenant's currency (tenants.currency).
-- Loans, ledger entries and audit entries are facts: the application role may
-- insert them and change a loan's or hold's state, never delete them; ledger
-- and audit rows cannot even be updated.

-- +goose Up
ALTER TABLE tenants ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');

-- Every checkout and checkin changes an item's status. With status in no
-- index and room left on each page, that update is HOT: PostgreSQL writes
-- no index entries for it. (Listing a branch's items by status reads the
-- branch's entries and filters.)
DROP INDEX items_branch_idx;
CREATE INDEX items_branch_idx ON items (tenant_id, branch_id);
ALTER TABLE items SET (fillfactor = 85);

-- Settings of the circulation desk, one row per tenant.
CREATE TABLE circ_settings (
    tenant_id               uuid NOT NULL REFERENCES tenants (id),
    -- Where a returned item goes when no hold wants it: back to its home
    -- branch ("home"), or it stays where it was returned ("float").
    return_policy           text NOT NULL DEFAULT 'home' CHECK (return_policy IN ('home', 'float')),
    -- Do overdue fines accrue on days the branch is closed?
    fines_on_closed_days    boolean NOT NULL DEFAULT false,
    -- OPAC self-registration: off, pending until staff approve, or pending
    -- until the patron verifies the email address.
    self_registration       text NOT NULL DEFAULT 'staff_approval'
                                CHECK (self_registration IN ('off', 'staff_approval', 'email_verification')),
    self_registration_category text NOT NULL DEFAULT 'adult',
    -- Borrowing history of patrons who keep it is anonymised after this many
    -- days (null: kept as long as the patron wants).
    history_retention_days  integer CHECK (history_retention_days > 0),
    -- Patrons with this many claims-returned loans may not claim another.
    max_claims_returned     integer NOT NULL DEFAULT 3 CHECK (max_claims_returned >= 0),
    -- Found after being paid as lost: refund the replacement cost?
    refund_lost_when_found  boolean NOT NULL DEFAULT true,
    -- Loans this many days overdue are marked lost and billed by the
    -- nightly job (null: never automatically).
    lost_after_days         integer CHECK (lost_after_days > 0),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);

CREATE TABLE patron_categories (
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    code                 text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    name                 text NOT NULL,
    enrolment_months     integer CHECK (enrolment_months > 0),
    min_age              integer CHECK (min_age >= 0),
    max_age              integer CHECK (max_age >= 0),
    max_loans            integer CHECK (max_loans >= 0),
    max_holds            integer CHECK (max_holds >= 0),
    fine_threshold       bigint CHECK (fine_threshold >= 0),
    max_overdue          integer CHECK (max_overdue >= 0),
    max_lost             integer CHECK (max_lost >= 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, code),
    CHECK (min_age IS NULL OR max_age IS NULL OR min_age <= max_age)
);

CREATE TABLE item_types (
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    code               text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    name               text NOT NULL,
    loanable           boolean NOT NULL DEFAULT true,
    -- Charged when an item of this type without a price of its own is lost.
    replacement_cost   bigint CHECK (replacement_cost >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE patrons (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    card_number       text NOT NULL,
    first_name        text NOT NULL DEFAULT '',
    last_name         text NOT NULL,
    -- lower-cased, accent-free "last first" for prefix search (C collation so
    -- range conditions use the b-tree under RLS).
    name_key          text NOT NULL DEFAULT '' COLLATE "C",
    email             text NOT NULL DEFAULT '',
    phone             text NOT NULL DEFAULT '',
    address           jsonb NOT NULL DEFAULT '{}',
    home_branch_id    uuid NOT NULL,
    category          text NOT NULL,
    birth_date        date,
    expires_on        date NOT NULL,
    status            text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'pending', 'inactive', 'merged')),
    notes             text NOT NULL DEFAULT '',
    notice_channel    text NOT NULL DEFAULT 'email' CHECK (notice_channel IN ('email', 'sms', 'print', 'none')),
    history_privacy   text NOT NULL DEFAULT 'keep' CHECK (history_privacy IN ('keep', 'keep_n_days', 'never')),
    history_days      integer CHECK (history_days > 0),
    guarantor_id      uuid,
    pin_hash          text,
    email_verified_at timestamptz,
    verify_token_hash bytea,
    merged_into       uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, card_number),
    FOREIGN KEY (tenant_id, home_branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, category) REFERENCES patron_categories (tenant_id, code) ON UPDATE CASCADE,
    FOREIGN KEY (tenant_id, guarantor_id) REFERENCES patrons (tenant_id, id),
    FOREIGN KEY (tenant_id, merged_into) REFERENCES patrons (tenant_id, id),
    CHECK ((history_privacy = 'keep_n_days') = (history_days IS NOT NULL)),
    CHECK (guarantor_id IS DISTINCT FROM id)
);
CREATE INDEX patrons_name_idx ON patrons (tenant_id, name_key);
CREATE INDEX patrons_email_idx ON patrons (tenant_id, lower(email));
CREATE INDEX patrons_guarantor_idx ON patrons (tenant_id, guarantor_id) WHERE guarantor_id IS NOT NULL;

CREATE TABLE patron_blocks (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    patron_id    uuid NOT NULL,
    reason       text NOT NULL,
    ends_on      date,
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    lifted_at    timestamptz,
    lifted_by    uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id)
);
CREATE INDEX patron_blocks_patron_idx ON patron_blocks (tenant_id, patron_id);

-- The rule matrix. A null key means "any". Precedence (most specific wins)
-- is in api/circulation/policy and the README.
CREATE TABLE circ_rules (
    tenant_id               uuid NOT NULL REFERENCES tenants (id),
    id                      uuid NOT NULL,
    branch_id               uuid,
    patron_category         text,
    item_type               text,
    loan_days               integer CHECK (loan_days > 0),
    loan_hours              integer CHECK (loan_hours > 0),
    max_loans               integer CHECK (max_loans >= 0),
    renewals                integer NOT NULL DEFAULT 0 CHECK (renewals >= 0),
    renewal_days            integer CHECK (renewal_days > 0),
    no_renewal_before_days  integer CHECK (no_renewal_before_days >= 0),
    fine_amount             bigint NOT NULL DEFAULT 0 CHECK (fine_amount >= 0),
    fine_interval           text NOT NULL DEFAULT 'day' CHECK (fine_interval IN ('day', 'hour')),
    grace_days              integer NOT NULL DEFAULT 0 CHECK (grace_days >= 0),
    max_fine                bigint CHECK (max_fine >= 0),
    processing_fee          bigint NOT NULL DEFAULT 0 CHECK (processing_fee >= 0),
    holds_allowed           boolean NOT NULL DEFAULT true,
    max_holds               integer CHECK (max_holds >= 0),
    hold_shelf_days         integer NOT NULL DEFAULT 7 CHECK (hold_shelf_days > 0),
    auto_renew              boolean NOT NULL DEFAULT false,
    notes                   text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE NULLS NOT DISTINCT (tenant_id, branch_id, patron_category, item_type),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, patron_category) REFERENCES patron_categories (tenant_id, code) ON UPDATE CASCADE,
    FOREIGN KEY (tenant_id, item_type) REFERENCES item_types (tenant_id, code) ON UPDATE CASCADE,
    CHECK ((loan_days IS NULL) <> (loan_hours IS NULL))
);

-- Days a branch (or, with branch_id null, the whole library) is closed.
-- Weekly hours are branches.opening_hours, inherited down the tree.
CREATE TABLE closed_days (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    branch_id   uuid,
    day         date NOT NULL,
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE NULLS NOT DISTINCT (tenant_id, branch_id, day),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id)
);
CREATE INDEX closed_days_day_idx ON closed_days (tenant_id, day);

CREATE TABLE loans (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    item_id           uuid NOT NULL,
    -- null once the loan is anonymised (privacy); the snapshot columns below
    -- keep the statistics.
    patron_id         uuid,
    patron_category   text NOT NULL,
    item_type         text NOT NULL,
    bib_id            uuid NOT NULL,
    branch_id         uuid NOT NULL,
    rule_id           uuid,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'lost', 'claims_returned', 'returned')),
    checked_out_at    timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    renewals_used     integer NOT NULL DEFAULT 0,
    renewals_allowed  integer NOT NULL,
    last_renewed_at   timestamptz,
    returned_at       timestamptz,
    return_branch_id  uuid,
    lost_at           timestamptz,
    claimed_at        timestamptz,
    created_by        uuid,
    anonymised_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, return_branch_id) REFERENCES branches (tenant_id, id),
    CHECK ((status = 'returned') = (returned_at IS NOT NULL))
);
-- One open loan per item: the constraint that makes 50 simultaneous
-- checkouts of one item produce exactly one loan.
CREATE UNIQUE INDEX loans_open_item_idx ON loans (tenant_id, item_id) WHERE status <> 'returned';
CREATE INDEX loans_patron_idx ON loans (tenant_id, patron_id, status);
CREATE INDEX loans_due_idx ON loans (tenant_id, due_at) WHERE status = 'active';
CREATE INDEX loans_returned_idx ON loans (tenant_id, returned_at) WHERE patron_id IS NOT NULL AND status = 'returned';

CREATE TABLE holds (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    patron_id         uuid NOT NULL,
    bib_id            uuid NOT NULL,
    item_id           uuid,          -- item-level hold
    pickup_branch_id  uuid NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'in_transit', 'waiting', 'fulfilled', 'canceled', 'expired')),
    requested_at      timestamptz NOT NULL,
    not_needed_after  date,
    suspended_until   date,
    trapped_item_id   uuid,
    trapped_at        timestamptz,
    shelf_expires_at  timestamptz,
    closed_at         timestamptz,
    cancel_reason     text NOT NULL DEFAULT '',
    created_by        uuid,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id),
    FOREIGN KEY (tenant_id, bib_id) REFERENCES bibs (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, trapped_item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, pickup_branch_id) REFERENCES branches (tenant_id, id)
);
CREATE INDEX holds_bib_queue_idx ON holds (tenant_id, bib_id, requested_at) WHERE status IN ('pending', 'in_transit', 'waiting');
CREATE INDEX holds_patron_idx ON holds (tenant_id, patron_id, status);
-- An item waits for, or travels to, at most one hold.
CREATE UNIQUE INDEX holds_trapped_item_idx ON holds (tenant_id, trapped_item_id) WHERE status IN ('in_transit', 'waiting');
CREATE INDEX holds_shelf_idx ON holds (tenant_id, shelf_expires_at) WHERE status = 'waiting';

CREATE TABLE transits (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    id              uuid NOT NULL,
    item_id         uuid NOT NULL,
    from_branch_id  uuid NOT NULL,
    to_branch_id    uuid NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('hold', 'return')),
    hold_id         uuid,
    sent_at         timestamptz NOT NULL,
    received_at     timestamptz,
    canceled_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, from_branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, to_branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, hold_id) REFERENCES holds (tenant_id, id)
);
CREATE UNIQUE INDEX transits_open_item_idx ON transits (tenant_id, item_id) WHERE received_at IS NULL AND canceled_at IS NULL;
CREATE INDEX transits_to_idx ON transits (tenant_id, to_branch_id) WHERE received_at IS NULL AND canceled_at IS NULL;

-- The fines and fees ledger. Every row is an immutable fact:
--   charge   what the patron owes (overdue, lost, processing, damage, manual)
--   payment  money received (cash, card, other)
--   waiver   a charge forgiven by staff
--   credit   a charge reversed by the system (a lost item found)
--   refund   money given back to the patron
-- balance = charges + refunds - payments - waivers - credits.
CREATE TABLE fee_entries (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    patron_id     uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('charge', 'payment', 'waiver', 'credit', 'refund')),
    charge_type   text CHECK (charge_type IN ('overdue', 'lost', 'processing', 'damage', 'manual')),
    method        text CHECK (method IN ('cash', 'card', 'check', 'online', 'other')),
    amount        bigint NOT NULL CHECK (amount > 0),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    loan_id       uuid,
    item_id       uuid,
    branch_id     uuid,
    note          text NOT NULL DEFAULT '',
    created_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id),
    FOREIGN KEY (tenant_id, loan_id) REFERENCES loans (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id),
    CHECK ((kind = 'charge') = (charge_type IS NOT NULL)),
    CHECK ((kind IN ('payment', 'refund')) = (method IS NOT NULL))
);
CREATE INDEX fee_entries_patron_idx ON fee_entries (tenant_id, patron_id, created_at);
CREATE INDEX fee_entries_loan_idx ON fee_entries (tenant_id, loan_id) WHERE loan_id IS NOT NULL;

-- How payments, waivers and credits settle charges (and refunds undo
-- payments). The sum allocated to a charge never exceeds it: enforced by the
-- service under a lock on the patron, and checked again here.
CREATE TABLE fee_allocations (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    entry_id      uuid NOT NULL,   -- the payment, waiver, credit or refund
    charge_id     uuid NOT NULL,
    amount        bigint NOT NULL CHECK (amount <> 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, entry_id) REFERENCES fee_entries (tenant_id, id),
    FOREIGN KEY (tenant_id, charge_id) REFERENCES fee_entries (tenant_id, id)
);
CREATE INDEX fee_allocations_charge_idx ON fee_allocations (tenant_id, charge_id);
CREATE INDEX fee_allocations_entry_idx ON fee_allocations (tenant_id, entry_id);

-- Who did what at the desk, and why when they overrode a refusal.
CREATE TABLE circ_audit (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    at               timestamptz NOT NULL DEFAULT now(),
    action           text NOT NULL,
    staff_id         uuid,
    api_key_id       uuid,
    branch_id        uuid,
    patron_id        uuid,
    item_id          uuid,
    loan_id          uuid,
    hold_id          uuid,
    override_codes   text[] NOT NULL DEFAULT '{}',
    override_reason  text NOT NULL DEFAULT '',
    details          jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX circ_audit_at_idx ON circ_audit (tenant_id, at);
CREATE INDEX circ_audit_patron_idx ON circ_audit (tenant_id, patron_id, at) WHERE patron_id IS NOT NULL;
CREATE INDEX circ_audit_item_idx ON circ_audit (tenant_id, item_id, at) WHERE item_id IS NOT NULL;

ALTER TABLE circ_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE circ_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON circ_settings
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON circ_settings TO stacks_app;

ALTER TABLE patron_categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE patron_categories FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON patron_categories
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON patron_categories TO stacks_app;

ALTER TABLE item_types ENABLE ROW LEVEL SECURITY;
ALTER TABLE item_types FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON item_types
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON item_types TO stacks_app;

ALTER TABLE patrons ENABLE ROW LEVEL SECURITY;
ALTER TABLE patrons FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON patrons
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON patrons TO stacks_app;

ALTER TABLE patron_blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE patron_blocks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON patron_blocks
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON patron_blocks TO stacks_app;

ALTER TABLE circ_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE circ_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON circ_rules
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON circ_rules TO stacks_app;

ALTER TABLE closed_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE closed_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON closed_days
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON closed_days TO stacks_app;

ALTER TABLE loans ENABLE ROW LEVEL SECURITY;
ALTER TABLE loans FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON loans
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON loans TO stacks_app;

ALTER TABLE holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE holds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON holds
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON holds TO stacks_app;

ALTER TABLE transits ENABLE ROW LEVEL SECURITY;
ALTER TABLE transits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON transits
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON transits TO stacks_app;

ALTER TABLE fee_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE fee_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fee_entries
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
-- UPDATE only of patron_id, for merging duplicate patrons.
GRANT SELECT, INSERT, UPDATE (patron_id) ON fee_entries TO stacks_app;

ALTER TABLE fee_allocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE fee_allocations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fee_allocations
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON fee_allocations TO stacks_app;

ALTER TABLE circ_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE circ_audit FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON circ_audit
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
-- UPDATE only for the privacy job, which clears patron_id on old entries.
GRANT SELECT, INSERT, UPDATE (patron_id) ON circ_audit TO stacks_app;

-- Working defaults for a library: two patron categories, four item types
-- (reference is not loanable) and a fallback rule (21 days, 3 renewals, no
-- fines), so a fresh library can check out at once. Runs for each new
-- tenant (trigger below) and once here for the tenants that exist.
-- +goose StatementBegin
CREATE FUNCTION app.circulation_defaults(t uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.circ_settings (tenant_id) VALUES (t) ON CONFLICT DO NOTHING;
    INSERT INTO public.patron_categories (tenant_id, code, name, enrolment_months, min_age, max_age) VALUES
        (t, 'adult', 'Adult', 12, NULL, NULL),
        (t, 'child', 'Child', 12, NULL, 17)
    ON CONFLICT DO NOTHING;
    INSERT INTO public.item_types (tenant_id, code, name, loanable) VALUES
        (t, 'book', 'Book', true),
        (t, 'dvd', 'DVD', true),
        (t, 'magazine', 'Magazine', true),
        (t, 'reference', 'Reference (library use only)', false)
    ON CONFLICT DO NOTHING;
    INSERT INTO public.circ_rules (tenant_id, id, loan_days, renewals, renewal_days, hold_shelf_days, notes)
    VALUES (t, gen_random_uuid(), 21, 3, 21, 7, 'Fallback rule created with the library')
    ON CONFLICT DO NOTHING;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.tenant_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM app.circulation_defaults(NEW.id);
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tenant_circulation_defaults AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION app.tenant_created();

-- +goose StatementBegin
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        PERFORM app.circulation_defaults(t);
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
-- +goose StatementEnd
