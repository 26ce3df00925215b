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
		{Method: "POST", Path: "/api/v1/circulation/checkout", Perm: circ, Summary: "Check an item out to a patron", Handler: s.handleCheckout},
		{Method: "POST", Path: "/api/v1/circulation/checkin", Perm: circ, Summary: "Check an item in and route it", Handler: s.handleCheckin},
		{Method: "POST", Path: "/api/v1/circulation/offline", Perm: p(tenants.PermCircBackdate), Summary: "Replay offline circulation transactions in order", Handler: s.handleOffline},
		{Method: "GET", Path: "/api/v1/circulation/settings", Perm: read, Summary: "Get circulation settings", Handler: s.handleGetSettings},
		{Method: "PATCH", Path: "/api/v1/circulation/settings", Perm: p(tenants.PermCirculationRules), Summary: "Change circulation settings", Handler: s.handleUpdateSettings},
		{Method: "GET", Path: "/api/v1/circulation/rules/explain", Perm: read, Summary: "Explain which rule applies to a patron, item and branch", Handler: s.handleExplain},
		{Method: "GET", Path: "/api/v1/circulation/audit", Perm: p(tenants.PermPatronData), Summary: "List circulation audit entries", Handler: s.handleAudit},

		{Method: "GET", Path: "/api/v1/loans/:id", Perm: read, Summary: "Get a loan", Handler: s.handleGetLoan},
		{Method: "POST", Path: "/api/v1/loans/:id/renew", Perm: circ, Summary: "Renew a loan", Handler: s.handleRenew},
		{Method: "POST", Path: "/api/v1/loans/:id/lost", Perm: circ, Summary: "Mark a borrowed item lost and bill it", Handler: s.handleLost},
		{Method: "POST", Path: "/api/v1/loans/:id/claims-returned", Perm: circ, Summary: "Record that the patron says they returned the item", Handler: s.handleClaimsReturned},
		{Method: "POST", Path: "/api/v1/loans/:id/found", Perm: circ, Summary: "Close a lost or claimed-returned loan: the item was found", Handler: s.handleFound},

		{Method: "GET", Path: "/api/v1/patrons/:id/loans", Perm: read, Summary: "A patron's loans (current or history)", Handler: s.handlePatronLoans},
		{Method: "GET", Path: "/api/v1/patrons/:id/holds", Perm: read, Summary: "A patron's holds", Handler: s.handlePatronHolds},
		{Method: "GET", Path: "/api/v1/patrons/:id/fines", Perm: read, Summary: "A patron's fines ledger and balance", Handler: s.handleFines},
		{Method: "POST", Path: "/api/v1/patrons/:id/renew-all", Perm: circ, Summary: "Renew all of a patron's loans", Handler: s.handleRenewAll},
		{Method: "POST", Path: "/api/v1/patrons/:id/payments", Perm: circ, Summary: "Take a payment", Handler: s.handlePay},
		{Method: "POST", Path: "/api/v1/patrons/:id/charges", Perm: circ, Summary: "Add a manual, damage or processing charge", Handler: s.handleCharge},
		{Method: "POST", Path: "/api/v1/patrons/:id/waivers", Perm: p(tenants.PermCircOverride), Summary: "Waive charges", Handler: s.handleWaive},
		{Method: "POST", Path: "/api/v1/patrons/:id/refunds", Perm: circ, Summary: "Pay back a patron's credit", Handler: s.handleRefund},

		{Method: "GET", Path: "/api/v1/holds/pull-list", Perm: read, Summary: "Items to pull from a branch's shelves for holds", Handler: s.handlePullList},
		{Method: "GET", Path: "/api/v1/holds", Perm: read, Summary: "List holds", Handler: s.handleListHolds},
		{Method: "POST", Path: "/api/v1/holds", Perm: circ, Summary: "Place a hold on a title or an item", Handler: s.handlePlaceHold},
		{Method: "GET", Path: "/api/v1/holds/:id", Perm: read, Summary: "Get a hold with its queue position", Handler: s.handleGetHold},
		{Method: "PATCH", Path: "/api/v1/holds/:id", Perm: circ, Summary: "Change a hold's pickup branch, end date or suspension", Handler: s.handleUpdateHold},
		{Method: "POST", Path: "/api/v1/holds/:id/cancel", Perm: circ, Summary: "Cancel a hold", Handler: s.handleCancelHold},
		{Method: "GET", Path: "/api/v1/transits", Perm: read, Summary: "Items in transit to or from a branch", Handler: s.handleTransits},
	}
}

func (s *Service) handleCheckout(c *fiber.Ctx) error {
	var in CheckoutInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.Checkout(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Service) handleCheckin(c *fiber.Ctx) error {
	var in CheckinInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.Checkin(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Service) handleRenew(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "loan")
	if err != nil {
		return err
	}
	var in RenewInput
	if len(c.Body()) > 0 {
		if err := httpx.Bind(c, &in); err != nil {
			return err
		}
	}
	res, err := s.Renew(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Service) handleRenewAll(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	var in RenewInput
	if len(c.Body()) > 0 {
		if err := httpx.Bind(c, &in); err != nil {
			return err
		}
	}
	res, err := s.RenewAll(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(res)
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

func (s *Service) handleGetLoan(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "loan")
	if err != nil {
		return err
	}
	l, err := s.GetLoan(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(l)
}

type noteInput struct {
	Note string `json:"note"`
}

func (s *Service) handleLost(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "loan")
	if err != nil {
		return err
	}
	var in noteInput
	if len(c.Body()) > 0 {
		if err := httpx.Bind(c, &in); err != nil {
			return err
		}
	}
	res, err := s.MarkLost(c.UserContext(), id, in.Note)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Service) handleClaimsReturned(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "loan")
	if err != nil {
		return err
	}
	var in noteInput
	if len(c.Body()) > 0 {
		if err := httpx.Bind(c, &in); err != nil {
			return err
		}
	}
	l, err := s.ClaimReturned(c.UserContext(), id, in.Note)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"loan": l})
}

func (s *Service) handleFound(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "loan")
	if err != nil {
		return err
	}
	var in FoundInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.Found(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(res)
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

func (s *Service) handleFines(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	acc, err := s.Fines(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(acc)
}

func (s *Service) handlePay(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	var in PaymentInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.Pay(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Service) handleWaive(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	var in WaiveInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.Waive(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Service) handleCharge(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	var in ChargeInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	e, err := s.AddCharge(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(e)
}

func (s *Service) handleRefund(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	var in RefundInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	e, err := s.Refund(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(e)
}

func (s *Service) handlePlaceHold(c *fiber.Ctx) error {
	var in HoldInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	h, err := s.PlaceHold(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(h)
}

func (s *Service) handleGetHold(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "hold")
	if err != nil {
		return err
	}
	h, err := s.GetHold(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(h)
}

func (s *Service) handleUpdateHold(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "hold")
	if err != nil {
		return err
	}
	var in HoldChange
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	h, err := s.UpdateHold(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(h)
}

func (s *Service) handleCancelHold(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "hold")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if len(c.Body()) > 0 {
		if err := httpx.Bind(c, &in); err != nil {
			return err
		}
	}
	h, err := s.CancelHold(c.UserContext(), id, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(h)
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

func (s *Service) handleGetSettings(c *fiber.Ctx) error {
	st, err := s.GetSettings(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Service) handleUpdateSettings(c *fiber.Ctx) error {
	var in SettingsInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	st, err := s.UpdateSettings(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(st)
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
