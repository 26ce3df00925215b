package circulation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes declares the circulation endpoints.
func (s *Service) Routes() []httpx.Route {
	p := func(perm tenants.Permission) string { return string(perm) }
	circ, read := p(tenants.PermCirculate), p(tenants.PermPatronsRead)
	return []httpx.Route{
		{Method: "POST", Path: "/api/v1/circulation/checkout", Perm: circ, Summary: "Check an item out to a patron", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.Checkout)},
		{Method: "POST", Path: "/api/v1/circulation/checkin", Perm: circ, Summary: "Check an item in and route it", Handler: httpx.Action(fiber.StatusOK, httpx.BodyRequired, s.Checkin),
			AllowReadOnly: true}, // returning books is never blocked by billing,
		{Method: "POST", Path: "/api/v1/circulation/offline", Perm: p(tenants.PermCircBackdate), Summary: "Replay offline circulation transactions in order", Handler: s.handleOffline},
		{Method: "GET", Path: "/api/v1/circulation/settings", Perm: read, Summary: "Get circulation settings", Handler: httpx.Action(fiber.StatusOK, httpx.BodyOptional, func(ctx context.Context, _ struct{}) (*Settings, error) { return s.GetSettings(ctx) })},
		{Method: "PATCH", Path: "/api/v1/circulation/settings", Perm: p(tenants.PermCirculationRules), Summary: "Change circulation settings", Handler: httpx.Action(fiber.StatusOK, httpx.BodyRequired, s.UpdateSettings)},
		{Method: "GET", Path: "/api/v1/circulation/rules/explain", Perm: read, Summary: "Explain which rule applies to a patron, item and branch", Handler: s.handleExplain},
		{Method: "GET", Path: "/api/v1/circulation/audit", Perm: p(tenants.PermPatronData), Summary: "List circulation audit entries", Handler: s.handleAudit},

		{Method: "GET", Path: "/api/v1/loans/:id", Perm: read, Summary: "Get a loan", Handler: httpx.IDGet("loan", s.GetLoan)},
		{Method: "POST", Path: "/api/v1/loans/:id/renew", Perm: circ, Summary: "Renew a loan", Handler: httpx.IDAction("loan", fiber.StatusOK, httpx.BodyOptional, s.Renew)},
		{Method: "POST", Path: "/api/v1/loans/:id/lost", Perm: circ, Summary: "Mark a borrowed item lost and bill it", Handler: httpx.IDAction("loan", fiber.StatusOK, httpx.BodyOptional, s.markLost)},
		{Method: "POST", Path: "/api/v1/loans/:id/claims-returned", Perm: circ, Summary: "Record that the patron says they returned the item", Handler: httpx.IDAction("loan", fiber.StatusOK, httpx.BodyOptional, s.claimReturned)},
		{Method: "POST", Path: "/api/v1/loans/:id/found", Perm: circ, Summary: "Close a lost or claimed-returned loan: the item was found", Handler: httpx.IDAction("loan", fiber.StatusOK, httpx.BodyRequired, s.Found)},

		{Method: "GET", Path: "/api/v1/patrons/:id/loans", Perm: read, Summary: "A patron's loans (current or history)", Handler: s.handlePatronLoans},
		{Method: "GET", Path: "/api/v1/patrons/:id/holds", Perm: read, Summary: "A patron's holds", Handler: s.handlePatronHolds},
		{Method: "GET", Path: "/api/v1/patrons/:id/fines", Perm: read, Summary: "A patron's fines ledger and balance", Handler: httpx.IDGet("patron", s.Fines)},
		{Method: "POST", Path: "/api/v1/patrons/:id/renew-all", Perm: circ, Summary: "Renew all of a patron's loans", Handler: httpx.IDAction("patron", fiber.StatusOK, httpx.BodyOptional, s.RenewAll)},
		{Method: "POST", Path: "/api/v1/patrons/:id/payments", Perm: circ, Summary: "Take a payment", Handler: httpx.IDAction("patron", fiber.StatusCreated, httpx.BodyRequired, s.Pay)},
		{Method: "POST", Path: "/api/v1/patrons/:id/charges", Perm: circ, Summary: "Add a manual, damage or processing charge", Handler: httpx.IDAction("patron", fiber.StatusCreated, httpx.BodyRequired, s.AddCharge)},
		{Method: "POST", Path: "/api/v1/patrons/:id/waivers", Perm: p(tenants.PermCircOverride), Summary: "Waive charges", Handler: httpx.IDAction("patron", fiber.StatusCreated, httpx.BodyRequired, s.Waive)},
		{Method: "POST", Path: "/api/v1/patrons/:id/refunds", Perm: circ, Summary: "Pay back a patron's credit", Handler: httpx.IDAction("patron", fiber.StatusCreated, httpx.BodyRequired, s.Refund)},

		{Method: "GET", Path: "/api/v1/holds/pull-list", Perm: read, Summary: "Items to pull from a branch's shelves for holds", Handler: s.handlePullList},
		{Method: "GET", Path: "/api/v1/holds", Perm: read, Summary: "List holds", Handler: s.handleListHolds},
		{Method: "POST", Path: "/api/v1/holds", Perm: circ, Summary: "Place a hold on a title or an item", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.PlaceHold)},
		{Method: "GET", Path: "/api/v1/holds/:id", Perm: read, Summary: "Get a hold with its queue position", Handler: httpx.IDGet("hold", s.GetHold)},
		{Method: "PATCH", Path: "/api/v1/holds/:id", Perm: circ, Summary: "Change a hold's pickup branch, end date or suspension", Handler: httpx.IDAction("hold", fiber.StatusOK, httpx.BodyRequired, s.UpdateHold)},
		{Method: "POST", Path: "/api/v1/holds/:id/cancel", Perm: circ, Summary: "Cancel a hold", Handler: httpx.IDAction("hold", fiber.StatusOK, httpx.BodyOptional, s.cancelHold)},
		{Method: "GET", Path: "/api/v1/transits", Perm: read, Summary: "Items in transit to or from a branch", Handler: s.handleTransits},
	}
}

// GetLoan loads one loan with its item's barcode and title.
func (s *Service) GetLoan(ctx context.Context, id uuid.UUID) (*Loan, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var ls []Loan
	if err := db.Raw(loanSelect+" WHERE l.id = ?", id).Scan(&ls).Error; err != nil {
		return nil, fmt.Errorf("get loan: %w", err)
	}
	if len(ls) == 0 {
		return nil, errs.NotFoundf("no loan with this id")
	}
	return ls[0].fill(s.now()), nil
}

const loanSelect = `SELECT l.*, i.barcode, b.title FROM loans l JOIN items i ON i.id = l.item_id JOIN bibs b ON b.id = l.bib_id`

// NoteInput is the optional body of lost and claims-returned.
type NoteInput struct {
	Note string `json:"note"`
}

func (s *Service) markLost(ctx context.Context, id uuid.UUID, in NoteInput) (*LostResult, error) {
	return s.MarkLost(ctx, id, in.Note)
}

func (s *Service) claimReturned(ctx context.Context, id uuid.UUID, in NoteInput) (map[string]*Loan, error) {
	l, err := s.ClaimReturned(ctx, id, in.Note)
	if err != nil {
		return nil, err
	}
	return map[string]*Loan{"loan": l}, nil
}

// CancelInput is the optional body of POST /holds/{id}/cancel.
type CancelInput struct {
	Reason string `json:"reason"`
}

func (s *Service) cancelHold(ctx context.Context, id uuid.UUID, in CancelInput) (*Hold, error) {
	return s.CancelHold(ctx, id, in.Reason)
}

// PatronLoans lists a patron's loans: open ones, or the returned ones the
// patron's privacy setting keeps (history).
func (s *Service) PatronLoans(ctx context.Context, patronID uuid.UUID, which string, page httpx.Page) ([]Loan, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.patrons.Get(ctx, patronID); err != nil {
		return nil, err
	}
	cond := "l.status <> 'returned'"
	switch which {
	case "", "current":
	case "history":
		cond = "l.status = 'returned'"
	case "all":
		cond = "true"
	default:
		return nil, httpx.BadQuery("status", "status is current, history or all")
	}
	var ls []Loan
	if err := db.Raw(loanSelect+" WHERE l.patron_id = ? AND "+cond+" AND l.id > ? ORDER BY l.id LIMIT ?",
		patronID, page.After, page.Limit+1).Scan(&ls).Error; err != nil {
		return nil, fmt.Errorf("patron loans: %w", err)
	}
	now := s.now()
	for i := range ls {
		ls[i].fill(now)
	}
	return ls, nil
}

func (s *Service) handlePatronLoans(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	ls, err := s.PatronLoans(c.UserContext(), id, c.Query("status"), page)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(ls, page, func(l Loan) uuid.UUID { return l.ID }))
}

func (s *Service) handlePatronHolds(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	if _, err := s.patrons.Get(c.UserContext(), id); err != nil {
		return err
	}
	return s.listHolds(c, HoldFilter{PatronID: &id, Status: cmpOr(c.Query("status"), "open")})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var holdStatusFilters = []string{"open", HoldPending, HoldInTransit, HoldWaiting, HoldFulfilled, HoldCanceled, HoldExpired}

func (s *Service) listHolds(c *fiber.Ctx, f HoldFilter) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	if f.Status != "" && !slices.Contains(holdStatusFilters, f.Status) {
		return httpx.BadQuery("status", "status is one of "+strings.Join(holdStatusFilters, ", "))
	}
	f.After, f.Limit = page.After, page.Limit
	hs, err := s.ListHolds(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(hs, page, func(h Hold) uuid.UUID { return h.ID }))
}

func (s *Service) handleListHolds(c *fiber.Ctx) error {
	f := HoldFilter{Status: c.Query("status")}
	var err error
	if f.PatronID, err = httpx.QueryUUID(c, "patron_id"); err != nil {
		return err
	}
	if f.BibID, err = httpx.QueryUUID(c, "bib_id"); err != nil {
		return err
	}
	if f.BranchID, err = httpx.QueryUUID(c, "pickup_branch_id"); err != nil {
		return err
	}
	return s.listHolds(c, f)
}

func requiredBranch(c *fiber.Ctx) (uuid.UUID, error) {
	b, err := httpx.QueryUUID(c, "branch_id")
	if err != nil {
		return uuid.Nil, err
	}
	if b == nil {
		return uuid.Nil, httpx.BadQuery("branch_id", "branch_id is required")
	}
	return *b, nil
}

func (s *Service) handlePullList(c *fiber.Ctx) error {
	b, err := requiredBranch(c)
	if err != nil {
		return err
	}
	items, err := s.PullList(c.UserContext(), b)
	if err != nil {
		return err
	}
	if items == nil {
		items = []PullItem{}
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Service) handleTransits(c *fiber.Ctx) error {
	b, err := requiredBranch(c)
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	dir := c.Query("direction")
	if !slices.Contains([]string{"", "incoming", "outgoing"}, dir) {
		return httpx.BadQuery("direction", "direction is incoming or outgoing")
	}
	ts, err := s.ListTransits(c.UserContext(), TransitFilter{BranchID: b, Direction: dir, After: page.After, Limit: page.Limit})
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(ts, page, func(t Transit) uuid.UUID { return t.ID }))
}

// handleExplain explains the rule for ?patron= (id or card) or
// ?patron_category=, ?item= (id or barcode) or ?item_type=, and ?branch=.
func (s *Service) handleExplain(c *fiber.Ctx) error {
	ctx := c.UserContext()
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	subj := policy.Subject{PatronCategory: c.Query("patron_category"), ItemType: c.Query("item_type")}
	if v := c.Query("patron"); v != "" {
		var cats []string
		if err := db.Raw("SELECT category FROM patrons WHERE card_number = ? OR id::text = ?", v, v).Scan(&cats).Error; err != nil {
			return fmt.Errorf("explain patron: %w", err)
		}
		if len(cats) == 0 {
			return httpx.BadQuery("patron", "no patron with this id or card number")
		}
		subj.PatronCategory = cats[0]
	}
	if v := c.Query("item"); v != "" {
		var types []string
		if err := db.Raw("SELECT item_type FROM items WHERE barcode = ? OR id::text = ?", v, v).Scan(&types).Error; err != nil {
			return fmt.Errorf("explain item: %w", err)
		}
		if len(types) == 0 {
			return httpx.BadQuery("item", "no item with this id or barcode")
		}
		subj.ItemType = types[0]
	}
	if subj.PatronCategory == "" || subj.ItemType == "" {
		return httpx.BadQuery("patron", "give patron (or patron_category) and item (or item_type)")
	}
	bid, err := uuid.Parse(c.Query("branch"))
	if err != nil {
		return httpx.BadQuery("branch", "branch must be the id of the branch where the loan happens")
	}
	b, err := s.tenants.GetBranch(ctx, bid)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return httpx.BadQuery("branch", "no branch with this id")
		}
		return err
	}
	subj.BranchID, subj.BranchPath = b.ID, b.Path
	ex, err := s.policy.Explain(ctx, subj)
	if err != nil {
		return err
	}
	return c.JSON(ex)
}

// AuditEntry is one line of the circulation audit log.
type AuditEntry struct {
	ID             uuid.UUID       `json:"id"`
	At             time.Time       `json:"at"`
	Action         string          `json:"action"`
	StaffID        *uuid.UUID      `json:"staff_id"`
	APIKeyID       *uuid.UUID      `json:"api_key_id"`
	BranchID       *uuid.UUID      `json:"branch_id"`
	PatronID       *uuid.UUID      `json:"patron_id"`
	ItemID         *uuid.UUID      `json:"item_id"`
	LoanID         *uuid.UUID      `json:"loan_id"`
	HoldID         *uuid.UUID      `json:"hold_id"`
	OverrideCodes  tenants.Strings `json:"override_codes"`
	OverrideReason string          `json:"override_reason"`
	Details        jsonRaw         `json:"details"`
}

func (s *Service) handleAudit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	q := "SELECT * FROM circ_audit WHERE id > @after"
	args := map[string]any{"after": page.After, "limit": page.Limit + 1}
	for _, k := range []string{"patron_id", "item_id", "loan_id", "hold_id", "branch_id", "staff_id"} {
		v, err := httpx.QueryUUID(c, k)
		if err != nil {
			return err
		}
		if v != nil {
			q += " AND " + k + " = @" + k
			args[k] = *v
		}
	}
	if a := c.Query("action"); a != "" {
		q += " AND action = @action"
		args["action"] = a
	}
	var out []AuditEntry
	if err := db.Raw(q+" ORDER BY id LIMIT @limit", args).Scan(&out).Error; err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return c.JSON(httpx.NewList(out, page, func(e AuditEntry) uuid.UUID { return e.ID }))
}
