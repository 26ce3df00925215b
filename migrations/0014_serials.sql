-- Serials: publication patterns of the library, subscriptions (to a vendor,
-- charged to a fund through a PO line of acquisitions, 0013), their
-- predicted and received issues, claims sent to vendors, and routing lists.
-- Every table follows the tenancy contract (see 0001). An issue is a fact
-- once received or claimed: regeneration replaces only issues still
-- "expected" (see api/serials). Claims are history: never updated or deleted.

-- +goose Up
-- Per-library serials settings; a library without a row uses these defaults.
CREATE TABLE serial_settings (
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    -- Days between two claims of the same issue, and claims before an issue
    -- is given up as missing.
    claim_interval_days  integer NOT NULL DEFAULT 30 CHECK (claim_interval_days BETWEEN 1 AND 365),
    max_claims           integer NOT NULL DEFAULT 3 CHECK (max_claims BETWEEN 1 AND 10),
    -- Renewal reminders list subscriptions whose renewal date is this close.
    renewal_notice_days  integer NOT NULL DEFAULT 60 CHECK (renewal_notice_days BETWEEN 1 AND 365),
    -- Where the renewal digest goes (serials staff); '' = no digest mail.
    staff_email          text NOT NULL DEFAULT '',
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);

-- The library's own patterns (the shipped ones live in the code).
CREATE TABLE serial_patterns (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    pattern     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- An ordered list of people an issue goes round before it is shelved.
CREATE TABLE routing_lists (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE routing_list_members (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    routing_list_id  uuid NOT NULL,
    position         integer NOT NULL CHECK (position >= 1),
    staff_user_id    uuid,
    patron_id        uuid,
    note             text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, routing_list_id, position),
    FOREIGN KEY (tenant_id, routing_list_id) REFERENCES routing_lists (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, staff_user_id) REFERENCES staff_users (tenant_id, id),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id),
    CHECK ((staff_user_id IS NULL) <> (patron_id IS NULL))
);
CREATE INDEX routing_list_members_staff_idx ON routing_list_members (tenant_id, staff_user_id) WHERE staff_user_id IS NOT NULL;
CREATE INDEX routing_list_members_patron_idx ON routing_list_members (tenant_id, patron_id) WHERE patron_id IS NOT NULL;

CREATE TABLE subscriptions (
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    id                 uuid NOT NULL,
    bib_id             uuid NOT NULL,
    vendor_id          uuid,
    fund_id            uuid,
    po_line_id         uuid,
    branch_id          uuid NOT NULL,
    location           text NOT NULL DEFAULT '',
    copies             integer NOT NULL DEFAULT 1 CHECK (copies BETWEEN 1 AND 100),
    starts_on          date NOT NULL,
    ends_on            date NOT NULL,
    renewal_on         date,
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expiring', 'expired', 'canceled')),
    -- The pattern as it was chosen (a copy: editing a library pattern later
    -- changes nothing until the subscription is regenerated), and where it
    -- came from (a shipped id or a serial_patterns id).
    pattern            jsonb NOT NULL,
    pattern_source     text NOT NULL DEFAULT '',
    first_expected_on  date NOT NULL,
    first_enumeration  integer[] NOT NULL DEFAULT '{}',
    -- Predicted up to this date (inclusive).
    predicted_until    date,
    grace_days         integer NOT NULL CHECK (grace_days BETWEEN 0 AND 365),
    routing_list_id    uuid,
    -- Received issues become items when set (circulating issues).
    create_items       boolean NOT NULL DEFAULT false,
    item_type          text NOT NULL DEFAULT 'magazine',
    annual_cost        bigint CHECK (annual_cost >= 0),
    currency           text CHECK (currency ~ '^[A-Z]{3}$'),
    -- The library's account number with the vendor, quoted in claims.
    account_number     text NOT NULL DEFAULT '',
    notes              text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, bib_id) REFERENCES bibs (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, routing_list_id) REFERENCES routing_lists (tenant_id, id),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id),
    FOREIGN KEY (tenant_id, fund_id) REFERENCES funds (tenant_id, id),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id),
    CHECK (ends_on >= starts_on),
    CHECK ((annual_cost IS NULL) = (currency IS NULL))
);
CREATE INDEX subscriptions_bib_idx ON subscriptions (tenant_id, bib_id);
CREATE INDEX subscriptions_renewal_idx ON subscriptions (tenant_id, status, renewal_on);
CREATE INDEX subscriptions_vendor_idx ON subscriptions (tenant_id, vendor_id);
CREATE INDEX subscriptions_fund_idx ON subscriptions (tenant_id, fund_id) WHERE fund_id IS NOT NULL;
CREATE INDEX subscriptions_po_line_idx ON subscriptions (tenant_id, po_line_id) WHERE po_line_id IS NOT NULL;
CREATE INDEX subscriptions_branch_idx ON subscriptions (tenant_id, branch_id);
CREATE INDEX subscriptions_routing_idx ON subscriptions (tenant_id, routing_list_id) WHERE routing_list_id IS NOT NULL;

-- Every PO line a subscription was ordered on (one per period): acquisitions
-- must not claim these lines as undelivered orders (the issues are claimed
-- by serials), and reports add up a title's cost per year from them.
CREATE TABLE subscription_orders (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    subscription_id  uuid NOT NULL,
    po_line_id       uuid NOT NULL,
    starts_on        date NOT NULL,
    ends_on          date NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subscription_id, po_line_id),
    UNIQUE (tenant_id, po_line_id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id)
);

CREATE TABLE serial_issues (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    subscription_id   uuid NOT NULL,
    -- Position in the prediction (null for issues added by hand).
    seq               integer,
    kind              text NOT NULL DEFAULT 'regular' CHECK (kind IN ('regular', 'supplement', 'special', 'unexpected')),
    label             text NOT NULL,
    enumeration       integer[] NOT NULL DEFAULT '{}',
    enumeration_end   integer[],
    chronology        jsonb NOT NULL DEFAULT '{}',
    chronology_end    jsonb,
    expected_on       date NOT NULL,
    status            text NOT NULL DEFAULT 'expected'
                          CHECK (status IN ('expected', 'received', 'late', 'claimed', 'missing', 'damaged', 'not_published')),
    claims            integer NOT NULL DEFAULT 0 CHECK (claims >= 0),
    last_claimed_at   timestamptz,
    received_at       timestamptz,
    received_by       uuid,
    item_id           uuid,
    note              text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, received_by) REFERENCES staff_users (tenant_id, id)
);
CREATE INDEX serial_issues_sub_idx ON serial_issues (tenant_id, subscription_id, expected_on);
-- The nightly claim run reads open issues by status and date.
CREATE INDEX serial_issues_open_idx ON serial_issues (tenant_id, status, expected_on)
    WHERE status IN ('expected', 'late', 'claimed', 'damaged');
CREATE INDEX serial_issues_item_idx ON serial_issues (tenant_id, item_id) WHERE item_id IS NOT NULL;
CREATE INDEX serial_issues_received_by_idx ON serial_issues (tenant_id, received_by) WHERE received_by IS NOT NULL;

-- One row per issue per claim sent (history for vendor performance).
CREATE TABLE serial_claims (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    issue_id         uuid NOT NULL,
    subscription_id  uuid NOT NULL,
    vendor_id        uuid,
    claim_no         integer NOT NULL CHECK (claim_no >= 1),
    reason           text NOT NULL CHECK (reason IN ('late', 'damaged')),
    run_date         date NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, issue_id, claim_no),
    FOREIGN KEY (tenant_id, issue_id) REFERENCES serial_issues (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);
CREATE INDEX serial_claims_vendor_idx ON serial_claims (tenant_id, vendor_id, run_date);
CREATE INDEX serial_claims_sub_idx ON serial_claims (tenant_id, subscription_id);

ALTER TABLE serial_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE serial_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON serial_settings
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON serial_settings TO stacks_app;

ALTER TABLE serial_patterns ENABLE ROW LEVEL SECURITY;
ALTER TABLE serial_patterns FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON serial_patterns
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON serial_patterns TO stacks_app;

ALTER TABLE routing_lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE routing_lists FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON routing_lists
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON routing_lists TO stacks_app;

ALTER TABLE routing_list_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE routing_list_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON routing_list_members
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON routing_list_members TO stacks_app;

ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subscriptions
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON subscriptions TO stacks_app;

ALTER TABLE subscription_orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE subscription_orders FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subscription_orders
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON subscription_orders TO stacks_app;

ALTER TABLE serial_issues ENABLE ROW LEVEL SECURITY;
ALTER TABLE serial_issues FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON serial_issues
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON serial_issues TO stacks_app;

ALTER TABLE serial_claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE serial_claims FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON serial_claims
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON serial_claims TO stacks_app;
