package acquisitions

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// LateLine is an order line whose copies have not all arrived within the
// vendor's lead time.
type LateLine struct {
	ID                uuid.UUID `json:"id"`
	POID              uuid.UUID `json:"po_id" gorm:"column:po_id"`
	PONumber          string    `json:"po_number" gorm:"column:po_number"`
	LineNo            int       `json:"line_no"`
	VendorID          uuid.UUID `json:"vendor_id"`
	VendorCode        string    `json:"vendor_code"`
	VendorEmail       string    `json:"-"`
	VendorName        string    `json:"-"`
	ClaimIntervalDays int       `json:"-"`
	BibID             uuid.UUID `json:"bib_id"`
	Title             string    `json:"title"`
	ISBNs             string    `json:"isbns" gorm:"column:isbns"`
	Quantity          int       `json:"quantity"`
	ReceivedQuantity  int       `json:"received_quantity"`
	OrderedOn         string    `json:"ordered_on"`
	ExpectedOn        string    `json:"expected_on"`
	DaysLate          int       `json:"days_late"`
	LastClaimedOn     *string   `json:"last_claimed_on"`
	ClaimCount        int       `json:"claim_count"`
	ClaimDue          bool      `json:"claim_due"`
}

// A line is late when it is open, on an open order, not all received, and
// its vendor's lead time after the order day has passed on @asof (the
// library's local date, @tz its zone). LateFrom/LateWhere are over po_lines
// l, purchase_orders o and vendors v; exported so the late_orders report
// (api/reports) lists exactly the lines the claims would. A subscription's
// line (serials' subscription_orders) is never late as an order: its issues
// arrive and are claimed by serials.
const (
	OrderedOnSQL  = `CAST(o.ordered_at AT TIME ZONE @tz AS date)`
	ExpectedOnSQL = OrderedOnSQL + ` + v.lead_time_days`
	LateFrom      = `po_lines l JOIN purchase_orders o ON o.id = l.po_id JOIN vendors v ON v.id = o.vendor_id`
	LateWhere     = `l.status = 'open' AND o.status IN ('open', 'partially_received') AND l.received_quantity < l.quantity
  AND ` + ExpectedOnSQL + ` < CAST(@asof AS date)
  AND NOT EXISTS (SELECT 1 FROM subscription_orders so WHERE so.po_line_id = l.id)`
)

// lateSQL finds the late lines. Titles come from the catalogue's bibs,
// read only.
const lateSQL = `SELECT l.id, l.po_id, o.number AS po_number, l.line_no, o.vendor_id, v.code AS vendor_code, v.email AS vendor_email,
  v.name AS vendor_name, v.claim_interval_days, l.bib_id, b.title, array_to_string(b.isbns, ', ') AS isbns, l.quantity, l.received_quantity,
  to_char(` + OrderedOnSQL + `, 'YYYY-MM-DD') AS ordered_on,
  to_char(` + ExpectedOnSQL + `, 'YYYY-MM-DD') AS expected_on,
  CAST(@asof AS date) - (` + ExpectedOnSQL + `) AS days_late,
  to_char(l.last_claimed_on, 'YYYY-MM-DD') AS last_claimed_on, l.claim_count,
  (l.last_claimed_on IS NULL OR l.last_claimed_on + v.claim_interval_days <= CAST(@asof AS date)) AS claim_due
FROM ` + LateFrom + ` JOIN bibs b ON b.id = l.bib_id
WHERE ` + LateWhere + `
ORDER BY v.code, o.number, l.line_no`

func (s *Service) localZone(ctx context.Context) (string, error) {
	t, err := s.tenants.GetTenant(ctx)
	if err != nil {
		return "", err
	}
	if _, err := tz.Load(t.Timezone); err != nil {
		return "UTC", nil
	}
	return t.Timezone, nil
}

// LateLines lists the lines late on asOf (YYYY-MM-DD; empty: today).
func (s *Service) LateLines(ctx context.Context, asOf string) ([]LateLine, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if asOf == "" {
		if asOf, err = s.today(ctx); err != nil {
			return nil, err
		}
	} else if err := checkDate("as_of", asOf); err != nil {
		return nil, err
	}
	tz, err := s.localZone(ctx)
	if err != nil {
		return nil, err
	}
	var rows []LateLine
	if err := db.Raw(lateSQL, map[string]any{"tz": tz, "asof": asOf}).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("late lines: %w", err)
	}
	if rows == nil {
		rows = []LateLine{}
	}
	return rows, nil
}

// ClaimRun is what a claims run did.
type ClaimRun struct {
	AsOf string `json:"as_of"`
	// Lines claimed now, and the vendors mailed (one mail per vendor per day).
	Lines   int         `json:"lines"`
	Mails   []uuid.UUID `json:"notice_ids"`
	Vendors int         `json:"vendors"`
	// Vendors with late lines but no email address: their lines are
	// recorded as claimed so staff can phone them; listed here.
	WithoutEmail []string `json:"vendors_without_email"`
}

// ClaimInput is the body of POST /api/v1/acquisitions/claims/run.
type ClaimInput struct {
	AsOf string `json:"as_of"`
}

// RunClaims claims every late line whose claim is due on asOf: one mail
// per vendor (through the notices outbox, deduplicated on vendor and day)
// listing its lines, each line recorded as claimed (po_claims, last
// claimed date, count). Running it again the same day adds nothing.
func (s *Service) RunClaims(ctx context.Context, in ClaimInput) (*ClaimRun, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	lines, err := s.LateLines(ctx, in.AsOf)
	if err != nil {
		return nil, err
	}
	asOf := in.AsOf
	if asOf == "" {
		if asOf, err = s.today(ctx); err != nil {
			return nil, err
		}
	}
	lib, err := s.tenants.GetTenant(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	run := &ClaimRun{AsOf: asOf, Mails: []uuid.UUID{}, WithoutEmail: []string{}}
	byVendor := map[uuid.UUID][]LateLine{}
	var order []uuid.UUID
	for _, l := range lines {
		if !l.ClaimDue {
			continue
		}
		res := db.Exec(`INSERT INTO po_claims (tenant_id, id, po_line_id, vendor_id, claimed_on) VALUES (?, ?, ?, ?, CAST(? AS date))
ON CONFLICT (tenant_id, po_line_id, claimed_on) DO NOTHING`, tenant, tenants.NewID(), l.ID, l.VendorID, asOf)
		if res.Error != nil {
			return nil, fmt.Errorf("record claim: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			continue
		}
		if err := db.Exec(`UPDATE po_lines SET last_claimed_on = CAST(? AS date), claim_count = claim_count + 1, updated_at = now() WHERE id = ?`,
			asOf, l.ID).Error; err != nil {
			return nil, fmt.Errorf("mark line claimed: %w", err)
		}
		if _, ok := byVendor[l.VendorID]; !ok {
			order = append(order, l.VendorID)
		}
		byVendor[l.VendorID] = append(byVendor[l.VendorID], l)
		run.Lines++
	}
	run.Vendors = len(order)
	for _, vid := range order {
		ls := byVendor[vid]
		if ls[0].VendorEmail == "" {
			run.WithoutEmail = append(run.WithoutEmail, ls[0].VendorCode)
			continue
		}
		if s.notices == nil {
			return nil, errs.E(errs.Unavailable, "notices_unavailable", "claims cannot be mailed: the outbox is not connected")
		}
		m := claimMail(lib.Name, ls, asOf)
		n, err := s.notices.QueueMail(ctx, m)
		if err != nil {
			return nil, err
		}
		if n != nil {
			run.Mails = append(run.Mails, n.ID)
			if err := db.Exec(`UPDATE po_claims SET notice_id = ? WHERE vendor_id = ? AND claimed_on = CAST(? AS date) AND notice_id IS NULL`,
				n.ID, vid, asOf).Error; err != nil {
				return nil, fmt.Errorf("link claims to their mail: %w", err)
			}
		}
	}
	return run, nil
}

// claimMail is the claim letter to one vendor for its late lines.
func claimMail(library string, ls []LateLine, asOf string) notices.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "Dear %s,\n\nThe following items ordered by %s have not arrived yet. Please send them or tell us when to expect them.\n\n",
		ls[0].VendorName, library)
	details := make([]map[string]any, len(ls))
	for i, l := range ls {
		fmt.Fprintf(&b, "- Order %s, line %d: %s", l.PONumber, l.LineNo, l.Title)
		if l.ISBNs != "" {
			fmt.Fprintf(&b, " (ISBN %s)", l.ISBNs)
		}
		fmt.Fprintf(&b, "\n  ordered %s, %d of %d received, expected by %s", l.OrderedOn, l.ReceivedQuantity, l.Quantity, l.ExpectedOn)
		if l.ClaimCount > 0 {
			fmt.Fprintf(&b, ", claim %d", l.ClaimCount+1)
		}
		b.WriteString("\n")
		details[i] = map[string]any{"po_line_id": l.ID, "po_number": l.PONumber, "line_no": l.LineNo}
	}
	fmt.Fprintf(&b, "\nThank you,\n%s\n", library)
	return notices.Mail{Kind: "order_claim", DedupeKey: ls[0].VendorID.String() + ":" + asOf, To: ls[0].VendorEmail,
		Subject: fmt.Sprintf("Claim: %d late order line(s) from %s", len(ls), library), Text: b.String(),
		Details: map[string]any{"vendor_id": ls[0].VendorID, "as_of": asOf, "lines": details}}
}
