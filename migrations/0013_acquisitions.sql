-- Acquisitions: vendors, fiscal years, funds and their ledger, purchase
-- orders and lines, receipts, invoices, claims and purchase suggestions.
-- Every table follows the tenancy contract (see 0001). Money is bigint
-- minor units with its ISO 4217 currency; percentages are integer basis
-- points (hundredths of a percent); exchange rates are integer millionths
-- (fund currency units per unit of the line's currency, times 1,000,000).
-- A fund's balances are never stored: they are sums over fund_transactions,
-- which the application role may insert and read, never change.

-- +goose Up
CREATE TABLE acq_settings (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    -- Received copies go straight to the shelf (available) instead of
    -- in_processing.
    skip_processing  boolean NOT NULL DEFAULT false,
    -- The last purchase-order number handed out (PO numbers are 1, 2, ...).
    last_po_number   bigint NOT NULL DEFAULT 0,
    -- The library's EDI identifier (SAN or GLN) as buyer in EDIFACT orders.
    edi_id           text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);

CREATE TABLE vendors (
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    id                   uuid NOT NULL,
    code                 text NOT NULL,
    name                 text NOT NULL,
    email                text NOT NULL DEFAULT '',
    contacts             jsonb NOT NULL DEFAULT '[]',
    addresses            jsonb NOT NULL DEFAULT '[]',
    account_numbers      jsonb NOT NULL DEFAULT '[]',
    currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    discount_bp          integer NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 10000),
    lead_time_days       integer NOT NULL DEFAULT 30 CHECK (lead_time_days >= 0),
    claim_interval_days  integer NOT NULL DEFAULT 30 CHECK (claim_interval_days > 0),
    -- EDI identifier (SAN or GLN) for EDIFACT messages.
    edi_id               text NOT NULL DEFAULT '',
    active               boolean NOT NULL DEFAULT true,
    notes                text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE fiscal_years (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    code        text NOT NULL,
    starts_on   date NOT NULL,
    ends_on     date NOT NULL,
    current     boolean NOT NULL DEFAULT false,
    closed_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    CHECK (starts_on < ends_on)
);
CREATE UNIQUE INDEX fiscal_years_current_idx ON fiscal_years (tenant_id) WHERE current;

CREATE TABLE funds (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    id              uuid NOT NULL,
    fiscal_year_id  uuid NOT NULL,
    code            text NOT NULL,
    name            text NOT NULL,
    -- The org unit owning the fund: staff need acquisitions.write there (or
    -- above) to spend from it, and its copies go to that subtree.
    branch_id       uuid,
    parent_id       uuid,
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    warn_bp         integer CHECK (warn_bp BETWEEN 0 AND 100000),
    stop_bp         integer CHECK (stop_bp BETWEEN 0 AND 100000),
    -- At fiscal-year rollover: carry open encumbrances into next year's
    -- fund ("rollover") or release them ("release"); carry the unspent
    -- allocation too?
    encumbrance_rollover text NOT NULL DEFAULT 'rollover' CHECK (encumbrance_rollover IN ('rollover', 'release')),
    carry_unspent   boolean NOT NULL DEFAULT false,
    -- The fund of the previous year this one was rolled over from.
    rolled_from_id  uuid,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, fiscal_year_id, code),
    FOREIGN KEY (tenant_id, fiscal_year_id) REFERENCES fiscal_years (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES funds (tenant_id, id),
    FOREIGN KEY (tenant_id, rolled_from_id) REFERENCES funds (tenant_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX funds_parent_idx ON funds (tenant_id, parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE purchase_orders (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    number      text NOT NULL,
    vendor_id   uuid NOT NULL,
    status      text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'open', 'partially_received', 'received', 'closed', 'canceled')),
    notes       text NOT NULL DEFAULT '',
    ordered_at  timestamptz,
    closed_at   timestamptz,
    created_by  uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);
CREATE INDEX purchase_orders_vendor_idx ON purchase_orders (tenant_id, vendor_id);

CREATE TABLE po_lines (
    tenant_id             uuid NOT NULL REFERENCES tenants (id),
    id                    uuid NOT NULL,
    po_id                 uuid NOT NULL,
    line_no               integer NOT NULL CHECK (line_no > 0),
    bib_id                uuid NOT NULL,
    quantity              integer NOT NULL CHECK (quantity > 0),
    received_quantity     integer NOT NULL DEFAULT 0 CHECK (received_quantity >= 0),
    invoiced_quantity     integer NOT NULL DEFAULT 0 CHECK (invoiced_quantity >= 0),
    status                text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'received', 'closed', 'canceled')),
    unit_price            bigint NOT NULL CHECK (unit_price >= 0),
    currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    discount_bp           integer NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 10000),
    -- Fund currency units per unit of the line's currency, in millionths;
    -- null when the funds' currency is the line's.
    exchange_rate_micros  bigint CHECK (exchange_rate_micros > 0),
    branch_id             uuid NOT NULL,
    item_type             text NOT NULL DEFAULT 'book',
    notes                 text NOT NULL DEFAULT '',
    -- Claims: the last day a claim for this line was sent, and how many.
    last_claimed_on       date,
    claim_count           integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, po_id, line_no),
    FOREIGN KEY (tenant_id, po_id) REFERENCES purchase_orders (tenant_id, id),
    FOREIGN KEY (tenant_id, bib_id) REFERENCES bibs (tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id),
    CHECK (received_quantity <= quantity),
    CHECK (invoiced_quantity <= quantity)
);
CREATE INDEX po_lines_bib_idx ON po_lines (tenant_id, bib_id);

-- How a line's cost is split between funds.
CREATE TABLE po_line_funds (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    po_line_id  uuid NOT NULL,
    fund_id     uuid NOT NULL,
    percent_bp  integer NOT NULL CHECK (percent_bp BETWEEN 1 AND 10000),
    PRIMARY KEY (tenant_id, po_line_id, fund_id),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id),
    FOREIGN KEY (tenant_id, fund_id) REFERENCES funds (tenant_id, id)
);
CREATE INDEX po_line_funds_fund_idx ON po_line_funds (tenant_id, fund_id);

-- The copies a line brought into the catalogue: fund -> order -> shelf.
CREATE TABLE po_receipts (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    po_line_id   uuid NOT NULL,
    item_id      uuid NOT NULL,
    received_on  date NOT NULL,
    received_by  uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, item_id),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE INDEX po_receipts_line_idx ON po_receipts (tenant_id, po_line_id);

CREATE TABLE invoices (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    vendor_id     uuid NOT NULL,
    number        text NOT NULL,
    invoice_date  date NOT NULL,
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'paid', 'canceled')),
    -- [{"kind":"shipping|tax|discount|other","amount":minor units,"note"}]
    adjustments   jsonb NOT NULL DEFAULT '[]',
    approved_at   timestamptz,
    paid_at       timestamptz,
    canceled_at   timestamptz,
    created_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, vendor_id, number),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);

CREATE TABLE invoice_lines (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    invoice_id   uuid NOT NULL,
    po_line_id   uuid NOT NULL,
    quantity     integer NOT NULL CHECK (quantity > 0),
    unit_price   bigint NOT NULL CHECK (unit_price >= 0),
    subtotal     bigint NOT NULL,
    -- This line's share of the invoice's adjustments (largest remainder).
    adjustment   bigint NOT NULL DEFAULT 0,
    total        bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id),
    CHECK (total = subtotal + adjustment)
);
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (tenant_id, invoice_id);
CREATE INDEX invoice_lines_po_line_idx ON invoice_lines (tenant_id, po_line_id);

-- The fund ledger. kind and sign: allocation (±, money given to or taken
-- from the fund), transfer (±, one row on each fund), encumbrance (+, on
-- order), release (+, encumbrance given back: cancel, close, payment),
-- expenditure (+, paid), credit (+, money back from a vendor).
-- allocated = allocation + transfer; encumbered = encumbrance - release;
-- expended = expenditure - credit; available = allocated - encumbered - expended.
CREATE TABLE fund_transactions (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    fund_id          uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('allocation', 'transfer', 'encumbrance', 'release', 'expenditure', 'credit')),
    amount           bigint NOT NULL,
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    po_line_id       uuid,
    invoice_line_id  uuid,
    related_fund_id  uuid,
    reason           text NOT NULL DEFAULT '',
    created_by       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, fund_id) REFERENCES funds (tenant_id, id),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_line_id) REFERENCES invoice_lines (tenant_id, id),
    FOREIGN KEY (tenant_id, related_fund_id) REFERENCES funds (tenant_id, id),
    CHECK (amount <> 0),
    CHECK (kind IN ('allocation', 'transfer') OR amount > 0)
);
CREATE INDEX fund_transactions_fund_idx ON fund_transactions (tenant_id, fund_id, id);
CREATE INDEX fund_transactions_line_idx ON fund_transactions (tenant_id, po_line_id) WHERE po_line_id IS NOT NULL;

-- Claims sent for late lines: one per line per day.
CREATE TABLE po_claims (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    po_line_id   uuid NOT NULL,
    vendor_id    uuid NOT NULL,
    claimed_on   date NOT NULL,
    notice_id    uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, po_line_id, claimed_on),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id),
    FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);

CREATE TABLE purchase_suggestions (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    source       text NOT NULL CHECK (source IN ('patron', 'staff', 'holds_ratio')),
    patron_id    uuid,
    bib_id       uuid,
    title        text NOT NULL DEFAULT '',
    author       text NOT NULL DEFAULT '',
    isbn         text NOT NULL DEFAULT '',
    notes        text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected', 'ordered')),
    reason       text NOT NULL DEFAULT '',
    po_line_id   uuid,
    decided_by   uuid,
    decided_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patron_id) REFERENCES patrons (tenant_id, id),
    FOREIGN KEY (tenant_id, bib_id) REFERENCES bibs (tenant_id, id),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id)
);
CREATE INDEX purchase_suggestions_status_idx ON purchase_suggestions (tenant_id, status);

ALTER TABLE acq_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE acq_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON acq_settings
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON acq_settings TO stacks_app;

ALTER TABLE vendors ENABLE ROW LEVEL SECURITY;
ALTER TABLE vendors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON vendors
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON vendors TO stacks_app;

ALTER TABLE fiscal_years ENABLE ROW LEVEL SECURITY;
ALTER TABLE fiscal_years FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fiscal_years
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON fiscal_years TO stacks_app;

ALTER TABLE funds ENABLE ROW LEVEL SECURITY;
ALTER TABLE funds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON funds
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON funds TO stacks_app;

ALTER TABLE purchase_orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE purchase_orders FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON purchase_orders
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON purchase_orders TO stacks_app;

ALTER TABLE po_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE po_lines FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON po_lines
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON po_lines TO stacks_app;

ALTER TABLE po_line_funds ENABLE ROW LEVEL SECURITY;
ALTER TABLE po_line_funds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON po_line_funds
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
-- UPDATE only to move a line's share to next year's fund at rollover.
GRANT SELECT, INSERT, UPDATE (fund_id) ON po_line_funds TO stacks_app;

ALTER TABLE po_receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE po_receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON po_receipts
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON po_receipts TO stacks_app;

ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoices
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON invoices TO stacks_app;

ALTER TABLE invoice_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice_lines FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice_lines
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON invoice_lines TO stacks_app;

ALTER TABLE fund_transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE fund_transactions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fund_transactions
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
-- Append-only: the ledger is the history of the money.
GRANT SELECT, INSERT ON fund_transactions TO stacks_app;

ALTER TABLE po_claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE po_claims FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON po_claims
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
-- UPDATE only to link a claim to the mail that carried it.
GRANT SELECT, INSERT, UPDATE (notice_id) ON po_claims TO stacks_app;

ALTER TABLE purchase_suggestions ENABLE ROW LEVEL SECURITY;
ALTER TABLE purchase_suggestions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON purchase_suggestions
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON purchase_suggestions TO stacks_app;
