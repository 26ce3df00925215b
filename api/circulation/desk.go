package circulation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// desk is where and when one circulation action happens.
type desk struct {
	branch *tenants.Branch
	at     time.Time
	loc    *time.Location
}

// openDesk checks the branch and the caller's right to circulate there, and
// settles the time of the action: now, or a past time for staff who may
// backdate (a future time is refused).
func (s *Service) openDesk(ctx context.Context, branchID uuid.UUID, at *time.Time, field string) (*desk, error) {
	if branchID == uuid.Nil {
		return nil, errs.Field("branch_id", "required", "branch_id (where the desk is) is required")
	}
	b, err := s.tenants.DeskBranch(ctx, branchID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("branch_id", "invalid_branch", "branch_id names no branch of this library")
		}
		return nil, err
	}
	p := tenants.PrincipalFrom(ctx)
	if p == nil || !p.CanAt(tenants.PermCirculate, b.Path) {
		return nil, errs.E(errs.Forbidden, "forbidden_branch", "you may not circulate items at "+b.Name)
	}
	now := s.now()
	d := &desk{branch: b, at: now, loc: tz.OrUTC(b.EffectiveTimezone)}
	if at != nil && !at.IsZero() {
		if at.After(now.Add(time.Minute)) { // a minute of clock skew between desk and server
			return nil, errs.Field(field, "future_time", field+" is in the future; only past times can be recorded")
		}
		if !p.Has(tenants.PermCircBackdate) {
			return nil, errs.E(errs.Forbidden, "backdate_not_allowed", "your role may not record circulation at a past time")
		}
		d.at = *at
	}
	return d, nil
}

// itemLoanable reports whether the item type lends; types the library has
// not defined lend (items may carry codes from an imported catalogue).
func itemLoanable(ctx context.Context, db *gorm.DB, itemType string) (bool, error) {
	var loanable []bool
	if err := db.Raw("SELECT loanable FROM item_types WHERE code = ?", itemType).Scan(&loanable).Error; err != nil {
		return false, fmt.Errorf("item type: %w", err)
	}
	return len(loanable) == 0 || loanable[0], nil
}

// CheckoutInput is the body of POST /circulation/checkout.
type CheckoutInput struct {
	PatronCard  string     `json:"patron_card"`
	PatronID    *uuid.UUID `json:"patron_id"`
	ItemBarcode string     `json:"item_barcode"`
	BranchID    uuid.UUID  `json:"branch_id"`
	At          *time.Time `json:"at"`
	Override    *Override  `json:"override"`
}

// CheckoutResult is the response of a checkout.
type CheckoutResult struct {
	Loan       *Loan    `json:"loan"`
	Hold       *Hold    `json:"hold,omitempty"` // the patron's hold this loan fulfilled
	Overridden []string `json:"overridden,omitempty"`
}

// lockPatron locks the patron for a desk operation on day (the desk's
// local date), with what decides their blocks.
func (s *Service) lockPatron(ctx context.Context, card string, id *uuid.UUID, day string) (*patrons.DeskPatron, error) {
	if card == "" && id == nil {
		return nil, errs.Field("patron_card", "required", "patron_card (or patron_id) is required")
	}
	dp, err := s.patrons.LockForDesk(ctx, card, id, day)
	return patronFound(card, dp, err)
}

// patronFound turns a missing patron into the desk's refusal: a field
// error for an id, a message for the clerk for a card.
func patronFound(card string, dp *patrons.DeskPatron, err error) (*patrons.DeskPatron, error) {
	if errs.KindOf(err) == errs.NotFound {
		if card == "" {
			return nil, errs.Field("patron_id", "patron_not_found", "patron_id names no patron of this library")
		}
		return nil, errs.E(errs.Invalid, "patron_not_found", "no patron with this card number; check the card or register the patron")
	}
	return dp, err
}

// Checkout lends an item to a patron.
func (s *Service) Checkout(ctx context.Context, in CheckoutInput) (*CheckoutResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if in.ItemBarcode == "" {
		return nil, errs.Field("item_barcode", "required", "item_barcode is required")
	}
	d, err := s.openDesk(ctx, in.BranchID, in.At, "at")
	if err != nil {
		return nil, err
	}
	// Lock order everywhere: item, then patron, then loan/hold rows. The
	// two locks and the facts about both go in one round trip (a
	// pipeline): the server runs them in this order, one statement after
	// the other, so the facts are read with both locks held.
	if in.PatronCard == "" && in.PatronID == nil {
		return nil, errs.Field("patron_card", "required", "patron_card (or patron_id) is required")
	}
	today := d.at.In(d.loc).Format(time.DateOnly)
	itemLock := s.catalog.ItemLock(in.ItemBarcode, uuid.Nil)
	patronLock := s.patrons.DeskLock(in.PatronCard, in.PatronID, today)
	f := &facts{}
	if err := tenants.Pipeline(ctx, itemLock.Step(), patronLock.Step(),
		s.deskFactsStep(f, in.PatronCard, in.PatronID, in.ItemBarcode, uuid.Nil, today, false)); err != nil {
		return nil, fmt.Errorf("checkout: %w", err)
	}
	item, err := itemLock.Item()
	if err != nil {
		return nil, err
	}
	pp, err := patronLock.Patron()
	dp, err := patronFound(in.PatronCard, pp, err)
	if err != nil {
		return nil, err
	}
	p := dp.Patron
	var refusals []refusal
	var heldFor *Hold    // the hold on the shelf for this item, when it is this patron's
	var othersHold *Hold // the hold this copy is set aside for, when it is someone else's
	switch item.Status {
	case "available":
	case "checked_out":
		var owner []uuid.UUID
		if err := db.Raw("SELECT patron_id FROM loans WHERE item_id = ? AND status <> 'returned' AND patron_id IS NOT NULL",
			item.ID).Scan(&owner).Error; err != nil {
			return nil, fmt.Errorf("current borrower: %w", err)
		}
		if len(owner) == 1 && owner[0] == p.ID {
			return nil, errs.E(errs.Conflict, "item_already_on_loan_to_patron",
				"This item is already checked out to this patron. Renew it instead.")
		}
		return nil, errs.E(errs.Conflict, "item_not_available",
			"This item is checked out to someone else. Check it in first.").WithDetails(map[string]any{"item_status": item.Status})
	case "on_hold_shelf", "in_transit":
		h, err := s.trappedHold(ctx, item.ID)
		if err != nil {
			return nil, err
		}
		switch {
		case h != nil && h.PatronID == p.ID:
			heldFor = h
		case h != nil:
			othersHold = h
			refusals = append(refusals, refusal{kind: errs.Conflict, code: "item_on_hold_for_other", overridable: true,
				msg: "This item is set aside for another patron's hold.", details: map[string]any{"hold_id": h.ID}})
		case item.Status == "in_transit":
			refusals = append(refusals, refusal{kind: errs.Conflict, code: "item_not_available", overridable: true,
				msg: "This item is in transit between branches.", details: map[string]any{"item_status": item.Status}})
		}
	default:
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "item_not_available", overridable: true,
			msg: "This item is " + item.Status + " and cannot be lent as it is.", details: map[string]any{"item_status": item.Status}})
	}
	if heldFor == nil && item.Status == "available" && f.OtherHold != nil {
		// An item-level hold of someone else on exactly this copy.
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "item_on_hold_for_other", overridable: true,
			msg: "Another patron has a hold on this very copy.", details: map[string]any{"hold_id": *f.OtherHold}})
	}
	if !f.Loanable {
		refusals = append(refusals, refusal{kind: errs.Invalid, code: "item_not_loanable", overridable: true,
			msg: "Items of type " + item.ItemType + " are for use in the library only."})
	}
	st := f.standing()
	cat := dp.Category
	refusals = append(refusals, refusalsOf(dp.Blocks(st))...)
	rule, cal, err := s.policy.DeskPolicy(ctx, policy.RuleRef{Subject: policy.Subject{BranchID: d.branch.ID,
		BranchPath: d.branch.Path, PatronCategory: p.Category, ItemType: item.ItemType}}, d.branch, d.at, d.at)
	if err != nil {
		return nil, err
	}
	if cat != nil && cat.MaxLoans != nil && st.Loans >= *cat.MaxLoans {
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "loan_limit_reached", overridable: true,
			msg:     fmt.Sprintf("The patron has %d items out; %s patrons may borrow %d.", st.Loans, cat.Name, *cat.MaxLoans),
			details: map[string]any{"limit": *cat.MaxLoans, "loans": st.Loans}})
	}
	if rule.MaxLoans != nil {
		if n := f.loansOf(rule.ItemType); n >= *rule.MaxLoans {
			kind := "items"
			if rule.ItemType != nil {
				kind = *rule.ItemType + " items"
			}
			refusals = append(refusals, refusal{kind: errs.Conflict, code: "loan_limit_reached", overridable: true,
				msg:     fmt.Sprintf("The patron has %d %s out; the limit is %d.", n, kind, *rule.MaxLoans),
				details: map[string]any{"limit": *rule.MaxLoans, "loans": n, "rule_id": rule.ID}})
		}
	}
	forced, err := decide(ctx, refusals, in.Override)
	if err != nil {
		return nil, err
	}
	loan := &Loan{ID: tenants.NewID(), ItemID: item.ID, PatronID: &p.ID, PatronCategory: p.Category,
		ItemType: item.ItemType, BibID: item.BibID, BranchID: d.branch.ID, RuleID: &rule.ID, Status: LoanActive,
		CheckedOutAt: d.at, DueAt: cal.DueAt(rule, d.at), RenewalsAllowed: rule.Renewals}
	loan.TenantID, _ = tenants.CurrentTenant(ctx)
	if p := tenants.PrincipalFrom(ctx); p != nil && p.UserID != uuid.Nil {
		loan.CreatedBy = &p.UserID
	}
	reason := ""
	if in.Override != nil {
		reason = in.Override.Reason
	}
	// The loan, the item's new status and the audit entry in one statement.
	// When nothing follows it (no hold to close, no transit to end), it
	// goes with the COMMIT; a concurrent checkout of the item then fails
	// there, mapped the same way.
	last := heldFor == nil && f.OwnHold == nil && othersHold == nil && item.Status != "in_transit"
	loanTaken := func(err error) error {
		if code, _ := tenants.PgCode(err); code == tenants.PgUniqueViolation {
			return errs.E(errs.Conflict, "item_not_available", "This item was just checked out at another desk.")
		}
		return nil
	}
	record := s.auditWith
	if last {
		record = func(ctx context.Context, e auditEntry, writes ...write) error {
			return s.auditLast(ctx, e, loanTaken, writes...)
		}
	}
	err = record(ctx, auditEntry{Action: "checkout", BranchID: &d.branch.ID, PatronID: &p.ID, ItemID: &item.ID,
		LoanID: &loan.ID, OverrideCodes: forced, OverrideReason: reason, At: d.at,
		Details: map[string]any{"due_at": loan.DueAt, "rule_id": rule.ID, "barcode": item.Barcode}},
		write{`INSERT INTO loans (tenant_id, id, item_id, patron_id, patron_category, item_type, bib_id, branch_id, rule_id, status,
  checked_out_at, due_at, renewals_allowed, created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, []any{
			loan.TenantID, loan.ID, loan.ItemID, loan.PatronID, loan.PatronCategory, loan.ItemType, loan.BibID, loan.BranchID,
			loan.RuleID, loan.Status, loan.CheckedOutAt, loan.DueAt, loan.RenewalsAllowed, loan.CreatedBy}},
		itemState(item.ID, "checked_out", nil))
	if err != nil {
		if m := loanTaken(err); m != nil {
			return nil, m
		}
		return nil, fmt.Errorf("insert loan: %w", err)
	}
	// The loan fills the patron's own hold: the one this copy waited for,
	// or else their oldest hold on this title or this copy.
	if heldFor == nil && f.OwnHold != nil {
		var hs []Hold
		if err := db.Raw(`SELECT * FROM holds WHERE id = ? AND status = 'pending' FOR UPDATE`, *f.OwnHold).Scan(&hs).Error; err != nil {
			return nil, fmt.Errorf("patron's hold: %w", err)
		}
		if len(hs) == 1 {
			heldFor = &hs[0]
		}
	}
	if heldFor != nil {
		if err := s.closeHold(ctx, heldFor, HoldFulfilled, "", d.at); err != nil {
			return nil, err
		}
	}
	if othersHold != nil {
		// Lent past another patron's hold (override): that hold goes back
		// to the queue, first in line for the next copy.
		if err := db.Exec(`UPDATE holds SET status = 'pending', trapped_item_id = NULL, trapped_at = NULL, shelf_expires_at = NULL
  WHERE id = ?`, othersHold.ID).Error; err != nil {
			return nil, fmt.Errorf("release hold: %w", err)
		}
	}
	if item.Status == "in_transit" {
		// The journey ends here: received for the patron it was sent to,
		// cut short otherwise.
		if err := s.endTransit(ctx, item.ID, d.at, heldFor != nil); err != nil {
			return nil, err
		}
	}
	return &CheckoutResult{Loan: loan.fill(s.now()), Hold: heldFor, Overridden: forced}, nil
}

// CheckinInput is the body of POST /circulation/checkin.
type CheckinInput struct {
	ItemBarcode string     `json:"item_barcode"`
	ItemID      *uuid.UUID `json:"item_id"`
	BranchID    uuid.UUID  `json:"branch_id"`
	ReturnedAt  *time.Time `json:"returned_at"`
}

// CheckinResult says where the item goes now.
type CheckinResult struct {
	Route   string   `json:"route"` // shelf | hold_shelf | transit
	Loan    *Loan    `json:"loan"`
	Fine    *Money   `json:"fine"`
	Credit  *Money   `json:"credit,omitempty"` // a lost charge reversed because the item came back
	Hold    *Hold    `json:"hold"`
	Transit *Transit `json:"transit"`
	Item    struct {
		ID       uuid.UUID `json:"id"`
		Barcode  string    `json:"barcode"`
		Status   string    `json:"status"`
		BranchID uuid.UUID `json:"branch_id"`
	} `json:"item"`
	Messages []string `json:"messages,omitempty"`
}

// Checkin takes an item back (or just scans it in): closes its loan with
// any overdue fine, and routes it to the shelf, the hold shelf or a transit.
func (s *Service) Checkin(ctx context.Context, in CheckinInput) (*CheckinResult, error) {
	if in.ItemBarcode == "" && in.ItemID == nil {
		return nil, errs.Field("item_barcode", "required", "item_barcode is required")
	}
	d, err := s.openDesk(ctx, in.BranchID, in.ReturnedAt, "returned_at")
	if err != nil {
		return nil, err
	}
	id := uuid.Nil
	if in.ItemID != nil {
		id = *in.ItemID
	}
	// The item's lock and the checkin's facts in one round trip, in this
	// order (see Checkout).
	itemLock := s.catalog.ItemLock(in.ItemBarcode, id)
	var cf checkinFacts
	facts := deskCheckinFacts[b2i(in.ItemBarcode != "")].Step(map[string]any{"barcode": in.ItemBarcode, "iid": id,
		"day": d.at.In(d.loc).Format(time.DateOnly)}, &cf)
	if err := tenants.Pipeline(ctx, itemLock.Step(), facts); err != nil {
		return nil, fmt.Errorf("checkin: %w", err)
	}
	item, err := itemLock.Item()
	if err != nil {
		return nil, err
	}
	return s.checkinWith(ctx, d, item, &cf)
}

// checkinFacts is everything a checkin needs beyond the item, read (and
// locked) in one statement: the open loan, the open transit, the hold the
// copy is set aside for, the next hold it could fill, the settings and the
// borrower's privacy choice.
type checkinFacts struct {
	Loan     `gorm:"embedded"`
	HasLoan  bool
	Privacy  *string
	Settings []byte
	Transit  []byte
	Trapped  []byte
	Next     []byte
}

// The item's id and title come in once, through the row k (@k); OFFSET 0
// keeps it a row (see factsSQL): as scalar subqueries in each place, the
// desk's barcode lookup ran five times per checkin.
const checkinFactsSQL = `SELECT l.*, l.id IS NOT NULL AS has_loan,
  (SELECT history_privacy FROM patrons WHERE id = l.patron_id) AS privacy,
  (SELECT row_to_json(s) FROM circ_settings s) AS settings,
  (SELECT row_to_json(t) FROM transits t WHERE t.item_id = k.item AND t.received_at IS NULL AND t.canceled_at IS NULL
     FOR UPDATE) AS transit,
  (SELECT row_to_json(h) FROM holds h WHERE h.trapped_item_id = k.item AND h.status IN ('in_transit', 'waiting')
     FOR UPDATE) AS trapped,
  (SELECT row_to_json(h) FROM holds h JOIN patrons p ON p.id = h.patron_id
     WHERE h.status = 'pending' AND p.status = 'active' AND (h.item_id = k.item OR (h.item_id IS NULL AND h.bib_id = k.bib))
       AND (h.suspended_until IS NULL OR h.suspended_until <= CAST(@day AS date))
       AND (h.not_needed_after IS NULL OR h.not_needed_after >= CAST(@day AS date))
     ORDER BY h.requested_at, h.id LIMIT 1 FOR UPDATE OF h) AS next
FROM (@k OFFSET 0) k
LEFT JOIN LATERAL (SELECT * FROM loans WHERE item_id = k.item AND status <> 'returned' FOR UPDATE) l ON true`

// checkinFactsWith is checkinFactsSQL with its row of ids.
func checkinFactsWith(k string) string { return strings.Replace(checkinFactsSQL, "@k", k, 1) }

// loadCheckinFactsSQL reads the facts of an item already in hand.
var loadCheckinFactsSQL = checkinFactsWith(`SELECT CAST(@item AS uuid) AS item, CAST(@bib AS uuid) AS bib`)

// deskCheckinFacts are checkinFactsSQL for the desk's pipeline, finding the
// item by id [0] or barcode [1] itself; compiled once.
var deskCheckinFacts = [2]*tenants.Named{
	tenants.CompileNamed(checkinFactsWith(`SELECT it.id AS item, it.bib_id AS bib FROM (SELECT 1) one LEFT JOIN items it ON it.id = @iid`)),
	tenants.CompileNamed(checkinFactsWith(`SELECT it.id AS item, it.bib_id AS bib FROM (SELECT 1) one LEFT JOIN items it ON it.barcode = @barcode`)),
}

func (s *Service) checkin(ctx context.Context, d *desk, item *catalog.Item) (*CheckinResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var cf checkinFacts
	if err := db.Raw(loadCheckinFactsSQL, map[string]any{"item": item.ID, "bib": item.BibID,
		"day": d.at.In(d.loc).Format(time.DateOnly)}).Scan(&cf).Error; err != nil {
		return nil, fmt.Errorf("checkin facts: %w", err)
	}
	return s.checkinWith(ctx, d, item, &cf)
}

// checkinWith is checkin with its facts read.
func (s *Service) checkinWith(ctx context.Context, d *desk, item *catalog.Item, cf *checkinFacts) (*CheckinResult, error) {
	var settings Settings
	if err := json.Unmarshal(cf.Settings, &settings); err != nil {
		return nil, fmt.Errorf("circulation settings: %w", err)
	}
	res := &CheckinResult{}
	// Where the item goes first: hold and transit routes write their own
	// rows; the item's plain status change joins the statement below.
	pending, err := s.route(ctx, d, item, &settings, cf, res)
	if err != nil {
		return nil, err
	}
	var writes []write
	if pending != nil {
		writes = append(writes, *pending)
	}
	e := auditEntry{Action: "checkin", BranchID: &d.branch.ID, ItemID: &item.ID, At: d.at,
		Details: map[string]any{"barcode": item.Barcode, "route": res.Route}}
	if res.Hold != nil {
		e.HoldID = &res.Hold.ID
	}
	if cf.HasLoan {
		loan := &cf.Loan
		if d.at.Before(loan.CheckedOutAt) {
			return nil, errs.Field("returned_at", "before_checkout", "returned_at is before the item was checked out")
		}
		if err := s.closeLoan(ctx, d, loan, item, &settings, cf.Privacy, res, &e, writes); err != nil {
			return nil, err
		}
		res.Loan = loan.fill(s.now())
	} else if err := s.auditLast(ctx, e, nil, writes...); err != nil {
		return nil, err
	}
	res.Item.ID, res.Item.Barcode, res.Item.BranchID = item.ID, item.Barcode, item.BranchID
	return res, nil
}

// closeLoan returns a loan: overdue fine for active loans, the lost charge
// credited back for lost ones, history anonymised at once for patrons who
// keep none. The loan's update and the audit entry e go in one statement.
func (s *Service) closeLoan(ctx context.Context, d *desk, loan *Loan, item *catalog.Item, settings *Settings, privacy *string, res *CheckinResult, e *auditEntry, writes []write) error {
	if loan.Status == LoanActive && d.at.After(loan.DueAt) && loan.PatronID != nil {
		rule, cal, err := s.loanPolicy(ctx, loan, d.branch, loan.DueAt, d.at)
		if err != nil {
			return err
		}
		if fine := cal.OverdueFine(rule, loan.DueAt, d.at, settings.FinesOnClosedDays); fine > 0 {
			m, err := s.charge(ctx, *loan.PatronID, "overdue", fine, &loan.ID, &item.ID, &d.branch.ID,
				fmt.Sprintf("overdue: due %s, returned %s", loan.DueAt.In(d.loc).Format("2006-01-02 15:04"), d.at.In(d.loc).Format("2006-01-02 15:04")))
			if err != nil {
				return err
			}
			res.Fine = m
			e.Details["fine"] = m
		}
	}
	if loan.Status == LoanLost && loan.PatronID != nil {
		credit, err := s.creditLost(ctx, *loan.PatronID, loan.ID, settings.RefundLostWhenFound, &d.branch.ID)
		if err != nil {
			return err
		}
		if credit != nil {
			res.Credit = credit
			res.Messages = append(res.Messages, "The item was lost and is found: its replacement charge is credited back.")
		}
	}
	forget := privacy != nil && *privacy == "never"
	e.LoanID = &loan.ID
	if !forget {
		e.PatronID = loan.PatronID
	}
	loan.Status, loan.ReturnedAt, loan.ReturnBranchID = LoanReturned, &d.at, &d.branch.ID
	writes = append(writes, write{`UPDATE loans SET status = 'returned', returned_at = ?, return_branch_id = ? WHERE id = ?`,
		[]any{d.at, d.branch.ID, loan.ID}})
	// With the COMMIT unless the history is anonymised right after.
	record := s.auditLast
	if forget {
		record = func(ctx context.Context, e auditEntry, _ func(error) error, writes ...write) error {
			return s.auditWith(ctx, e, writes...)
		}
	}
	if err := record(ctx, *e, nil, writes...); err != nil {
		return fmt.Errorf("close loan: %w", err)
	}
	if forget {
		if err := s.anonymiseLoans(ctx, []uuid.UUID{loan.ID}); err != nil {
			return err
		}
		loan.PatronID = nil
	}
	return nil
}

// loanPolicy is the rule a loan was made under (or, when that rule has been
// deleted since, the rule that applies now) with the calendar of the
// loan's branch over [from, to].
func (s *Service) loanPolicy(ctx context.Context, loan *Loan, known *tenants.Branch, from, to time.Time) (*policy.Rule, *policy.Calendar, error) {
	b := known
	if b == nil || b.ID != loan.BranchID {
		var err error
		if b, err = s.tenants.DeskBranch(ctx, loan.BranchID); err != nil {
			return nil, nil, err
		}
	}
	return s.policy.DeskPolicy(ctx, policy.RuleRef{ID: loan.RuleID, Subject: policy.Subject{BranchID: b.ID, BranchPath: b.Path,
		PatronCategory: loan.PatronCategory, ItemType: loan.ItemType}}, b, from, to)
}

// route decides where a checked-in item goes: to a hold that wants it (on
// this branch's hold shelf or in transit to the pickup branch), else to its
// shelf, or in transit home.
func (s *Service) route(ctx context.Context, d *desk, item *catalog.Item, settings *Settings, cf *checkinFacts, res *CheckinResult) (*write, error) {
	db, _ := tenants.DB(ctx)
	// An open transit ends here: received, or overtaken by this checkin.
	if len(cf.Transit) > 0 {
		var open Transit
		if err := json.Unmarshal(cf.Transit, &open); err != nil {
			return nil, fmt.Errorf("open transit: %w", err)
		}
		if err := s.endTransit(ctx, item.ID, d.at, open.ToBranchID == d.branch.ID); err != nil {
			return nil, err
		}
	}
	// A hold this copy already serves (waiting or travelling), else the
	// next hold it can fill.
	var h *Hold
	for _, raw := range [][]byte{cf.Trapped, cf.Next} {
		if len(raw) > 0 {
			h = &Hold{}
			if err := json.Unmarshal(raw, h); err != nil {
				return nil, fmt.Errorf("hold: %w", err)
			}
			h.fill()
			break
		}
	}
	if h != nil {
		res.Hold = h
		if h.PickupBranchID == d.branch.ID {
			if h.Status != HoldWaiting {
				if err := s.trapOnShelf(ctx, h, item, d.at); err != nil {
					return nil, err
				}
			}
			res.Route = "hold_shelf"
			res.Item.Status = "on_hold_shelf"
			return ptr(itemState(item.ID, "on_hold_shelf", nil)), nil
		}
		t, err := s.startTransit(ctx, item.ID, d.branch.ID, h.PickupBranchID, "hold", &h.ID, d.at)
		if err != nil {
			return nil, err
		}
		if err := db.Exec(`UPDATE holds SET status = 'in_transit', trapped_item_id = ?, trapped_at = ?, shelf_expires_at = NULL
  WHERE id = ?`, item.ID, d.at, h.ID).Error; err != nil {
			return nil, fmt.Errorf("hold in transit: %w", err)
		}
		h.Status, h.TrappedItemID, h.TrappedAt, h.ShelfExpiresAt = HoldInTransit, &item.ID, &d.at, nil
		res.Route, res.Transit, res.Item.Status = "transit", t, "in_transit"
		return ptr(itemState(item.ID, "in_transit", nil)), nil
	}
	switch {
	case item.BranchID == d.branch.ID:
	case settings.ReturnPolicy == "float":
		item.BranchID = d.branch.ID
		res.Route, res.Item.Status = "shelf", "available"
		return ptr(itemState(item.ID, "available", &d.branch.ID)), nil
	default:
		t, err := s.startTransit(ctx, item.ID, d.branch.ID, item.BranchID, "return", nil, d.at)
		if err != nil {
			return nil, err
		}
		res.Route, res.Transit, res.Item.Status = "transit", t, "in_transit"
		return ptr(itemState(item.ID, "in_transit", nil)), nil
	}
	status := "available"
	switch item.Status {
	case "withdrawn", "damaged", "in_processing":
		status = item.Status // checkin does not put these back on the shelf
		res.Messages = append(res.Messages, "The item is "+item.Status+"; it was not put back into circulation.")
	}
	res.Route, res.Item.Status = "shelf", status
	if status == item.Status {
		return nil, nil // already there: nothing to write
	}
	return ptr(itemState(item.ID, status, nil)), nil
}

// RenewInput is the optional body of a renewal.
type RenewInput struct {
	At       *time.Time `json:"at"`
	BranchID *uuid.UUID `json:"branch_id"` // where the renewal happens; the loan's branch by default
	Override *Override  `json:"override"`
}

// RenewResult is the response of a renewal.
type RenewResult struct {
	Loan       *Loan    `json:"loan"`
	Fine       *Money   `json:"fine,omitempty"` // fine charged for the overdue period so far
	Overridden []string `json:"overridden,omitempty"`
}

// Renew extends a loan.
func (s *Service) Renew(ctx context.Context, loanID uuid.UUID, in RenewInput) (*RenewResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	peek, err := tenants.Find[Loan](ctx, "no loan with this id", "id = ?", loanID)
	if err != nil {
		return nil, err
	}
	branchID := peek.BranchID
	if in.BranchID != nil {
		branchID = *in.BranchID
	}
	d, err := s.openDesk(ctx, branchID, in.At, "at")
	if err != nil {
		return nil, err
	}
	// The item's lock, the loan's, the patron's and the facts in one round
	// trip, in the desk's lock order (see Checkout); the patron is the one
	// the loan named when peeked at, checked again below.
	today := d.at.In(d.loc).Format(time.DateOnly)
	itemLock := s.catalog.ItemLock("", peek.ItemID)
	var loans []Loan
	loanLock := tenants.Step{SQL: "SELECT * FROM loans WHERE id = $1 FOR UPDATE", Args: []any{loanID}, Dest: &loans}
	var patronLock *patrons.DeskLockStep
	f := &facts{}
	steps := []tenants.Step{itemLock.Step(), loanLock}
	if peek.PatronID != nil {
		patronLock = s.patrons.DeskLock("", peek.PatronID, today)
		steps = append(steps, patronLock.Step(), s.deskFactsStep(f, "", peek.PatronID, "", peek.ItemID, today, true))
	}
	if err := tenants.Pipeline(ctx, steps...); err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	item, err := itemLock.Item()
	if err != nil {
		return nil, err
	}
	loan, err := activeLoan(loans)
	if err != nil {
		return nil, err
	}
	if patronLock == nil || *loan.PatronID != *peek.PatronID {
		// The loan changed hands since (patron records merged): the
		// ordinary way, with its own reads.
		return s.renew(ctx, db, d, item, loanID, in.Override)
	}
	pp, err := patronLock.Patron()
	dp, err := patronFound("", pp, err)
	if err != nil {
		return nil, err
	}
	return s.renewWith(ctx, d, item, loan, dp, f, in.Override, true)
}

// activeLoan is the locked loan, refused unless it is active and has a
// borrower.
func activeLoan(loans []Loan) (*Loan, error) {
	if len(loans) == 0 {
		return nil, errs.NotFoundf("no loan with this id")
	}
	loan := &loans[0]
	if loan.Status != LoanActive || loan.PatronID == nil {
		return nil, errs.E(errs.Conflict, "loan_not_active", "This loan is "+loan.Status+" and cannot be renewed.")
	}
	return loan, nil
}

func (s *Service) renew(ctx context.Context, db *gorm.DB, d *desk, item *catalog.Item, loanID uuid.UUID, ov *Override) (*RenewResult, error) {
	var loans []Loan
	if err := db.Raw("SELECT * FROM loans WHERE id = ? FOR UPDATE", loanID).Scan(&loans).Error; err != nil {
		return nil, fmt.Errorf("lock loan: %w", err)
	}
	loan, err := activeLoan(loans)
	if err != nil {
		return nil, err
	}
	today := d.at.In(d.loc).Format(time.DateOnly)
	dp, err := s.lockPatron(ctx, "", loan.PatronID, today)
	if err != nil {
		return nil, err
	}
	f, err := s.loadFacts(ctx, dp.Patron.ID, &item.ID, &item.BibID, item.ItemType, today)
	if err != nil {
		return nil, err
	}
	return s.renewWith(ctx, d, item, loan, dp, f, ov, false)
}

// renewWith decides and records a renewal of the locked loan with the
// locked patron and their facts. last sends the write with the COMMIT
// (see auditLast): only for a renewal that is the whole request.
func (s *Service) renewWith(ctx context.Context, d *desk, item *catalog.Item, loan *Loan, dp *patrons.DeskPatron, f *facts, ov *Override, last bool) (*RenewResult, error) {
	p := dp.Patron
	from, to := loan.DueAt, d.at
	if to.Before(from) {
		from, to = to, from
	}
	rule, cal, err := s.loanPolicy(ctx, loan, d.branch, from, to)
	if err != nil {
		return nil, err
	}
	var refusals []refusal
	if loan.RenewalsUsed >= loan.RenewalsAllowed {
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "no_renewals_left", overridable: true,
			msg:     fmt.Sprintf("This item has been renewed %d times, the most allowed.", loan.RenewalsUsed),
			details: map[string]any{"renewals_allowed": loan.RenewalsAllowed}})
	}
	if rule.NoRenewalBeforeDays != nil {
		opens := loan.DueAt.AddDate(0, 0, -*rule.NoRenewalBeforeDays)
		if d.at.Before(opens) {
			refusals = append(refusals, refusal{kind: errs.Conflict, code: "renewal_too_soon", overridable: true,
				msg:     "It is too soon to renew: renewals open on " + opens.In(d.loc).Format("Mon 2 Jan 2006") + ".",
				details: map[string]any{"renewable_from": opens}})
		}
	}
	// Holds of others on this title that no copy on the shelf can fill.
	if f.Waiting > f.FreeCopies {
		refusals = append(refusals, refusal{kind: errs.Conflict, code: "item_on_hold", overridable: true,
			msg: "Another patron is waiting for this title; it cannot be renewed.", details: map[string]any{"holds_waiting": f.Waiting}})
	}
	refusals = append(refusals, refusalsOf(dp.Blocks(f.standing()))...)
	forced, err := decide(ctx, refusals, ov)
	if err != nil {
		return nil, err
	}
	res := &RenewResult{Overridden: forced}
	if d.at.After(loan.DueAt) {
		// Renewing an overdue item: the fine so far is charged now, and the
		// new period starts today.
		settings, err := s.GetSettings(ctx)
		if err != nil {
			return nil, err
		}
		if fine := cal.OverdueFine(rule, loan.DueAt, d.at, settings.FinesOnClosedDays); fine > 0 {
			m, err := s.charge(ctx, p.ID, "overdue", fine, &loan.ID, &item.ID, &d.branch.ID,
				"overdue until renewed on "+d.at.In(d.loc).Format("2006-01-02 15:04"))
			if err != nil {
				return nil, err
			}
			res.Fine = m
		}
	}
	due := cal.RenewDueAt(rule, d.at)
	if due.Before(loan.DueAt) {
		due = loan.DueAt // an early renewal never shortens a loan
	}
	reason := ""
	if ov != nil {
		reason = ov.Reason
	}
	record := s.auditWith
	if last {
		record = func(ctx context.Context, e auditEntry, writes ...write) error {
			return s.auditLast(ctx, e, nil, writes...)
		}
	}
	if err := record(ctx, auditEntry{Action: "renew", BranchID: &d.branch.ID, PatronID: &p.ID, ItemID: &item.ID,
		LoanID: &loan.ID, OverrideCodes: forced, OverrideReason: reason, At: d.at,
		Details: map[string]any{"due_at": due, "renewals_used": loan.RenewalsUsed + 1}},
		write{"UPDATE loans SET due_at = ?, renewals_used = renewals_used + 1, last_renewed_at = ? WHERE id = ?",
			[]any{due, d.at, loan.ID}}); err != nil {
		return nil, fmt.Errorf("renew loan: %w", err)
	}
	loan.DueAt, loan.RenewalsUsed, loan.LastRenewedAt = due, loan.RenewalsUsed+1, &d.at
	res.Loan = loan.fill(s.now())
	return res, nil
}

// RenewAllResult reports each loan of a renew-all.
type RenewAllResult struct {
	Results []RenewOutcome `json:"results"`
	Renewed int            `json:"renewed"`
	Refused int            `json:"refused"`
}

// RenewOutcome is one loan's result in a renew-all.
type RenewOutcome struct {
	LoanID uuid.UUID          `json:"loan_id"`
	Loan   *Loan              `json:"loan,omitempty"`
	Error  *httpx.ErrorDetail `json:"error,omitempty"`
}

// RenewAll tries to renew every active loan of a patron; refusals are
// reported per loan and do not stop the others.
func (s *Service) RenewAll(ctx context.Context, patronID uuid.UUID, in RenewInput) (*RenewAllResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.patrons.Get(ctx, patronID); err != nil {
		return nil, err
	}
	var loans []Loan
	if err := db.Raw("SELECT * FROM loans WHERE patron_id = ? AND status = 'active' ORDER BY due_at, id", patronID).Scan(&loans).Error; err != nil {
		return nil, fmt.Errorf("patron's loans: %w", err)
	}
	out := &RenewAllResult{Results: []RenewOutcome{}}
	for _, l := range loans {
		branchID := l.BranchID
		if in.BranchID != nil {
			branchID = *in.BranchID
		}
		var r *RenewResult
		d, err := s.openDesk(ctx, branchID, in.At, "at")
		if err == nil {
			var item *catalog.Item
			if item, err = s.catalog.LockItem(ctx, "", l.ItemID); err != nil {
				return nil, err
			}
			r, err = s.renew(ctx, db, d, item, l.ID, in.Override)
		}
		var e *errs.Error
		switch {
		case err == nil:
			out.Renewed++
			out.Results = append(out.Results, RenewOutcome{LoanID: l.ID, Loan: r.Loan})
		case errors.As(err, &e) && e.Kind != errs.Internal:
			out.Refused++
			out.Results = append(out.Results, RenewOutcome{LoanID: l.ID, Error: &httpx.ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}})
		default:
			return nil, err
		}
	}
	return out, nil
}
