package acquisitions

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes declares the acquisitions module's endpoints.
func (s *Service) Routes() []httpx.Route {
	read, write := string(tenants.PermAcquisitionsRead), string(tenants.PermAcquisitionsWrite)
	ok, created, req, opt := fiber.StatusOK, fiber.StatusCreated, httpx.BodyRequired, httpx.BodyOptional
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/vendors", Perm: read, Summary: "List vendors", Handler: s.handleListVendors},
		{Method: "POST", Path: "/api/v1/vendors", Perm: write, Summary: "Add a vendor", Handler: httpx.Action(created, req, s.CreateVendor)},
		{Method: "GET", Path: "/api/v1/vendors/:id", Perm: read, Summary: "Get a vendor", Handler: httpx.IDGet("vendor", s.GetVendor)},
		{Method: "PATCH", Path: "/api/v1/vendors/:id", Perm: write, Summary: "Change a vendor", Handler: httpx.IDAction("vendor", ok, req, s.UpdateVendor)},

		{Method: "GET", Path: "/api/v1/fiscal-years", Perm: read, Summary: "List fiscal years", Handler: s.handleListFiscalYears},
		{Method: "POST", Path: "/api/v1/fiscal-years", Perm: write, Summary: "Add a fiscal year", Handler: httpx.Action(created, req, s.CreateFiscalYear)},
		{Method: "GET", Path: "/api/v1/fiscal-years/:id", Perm: read, Summary: "Get a fiscal year", Handler: httpx.IDGet("fiscal year", s.GetFiscalYear)},
		{Method: "PATCH", Path: "/api/v1/fiscal-years/:id", Perm: write, Summary: "Change a fiscal year (dates, current flag)", Handler: httpx.IDAction("fiscal year", ok, req, s.UpdateFiscalYear)},

		{Method: "POST", Path: "/api/v1/fiscal-years/:id/rollover", Perm: write, Summary: "Close a fiscal year into the next (dry_run shows the effect)", Handler: httpx.IDAction("fiscal year", ok, req, s.Rollover)},

		{Method: "GET", Path: "/api/v1/funds", Perm: read, Summary: "List funds with their balances", Handler: s.handleListFunds},
		{Method: "POST", Path: "/api/v1/funds", Perm: write, Summary: "Add a fund with its allocation", Handler: httpx.Action(created, req, s.CreateFund)},
		{Method: "GET", Path: "/api/v1/funds/:id", Perm: read, Summary: "Get a fund with its balances", Handler: httpx.IDGet("fund", s.FundView)},
		{Method: "PATCH", Path: "/api/v1/funds/:id", Perm: write, Summary: "Change a fund's settings", Handler: httpx.IDAction("fund", ok, req, s.UpdateFund)},
		{Method: "GET", Path: "/api/v1/funds/:id/ledger", Perm: read, Summary: "A fund's ledger and balances", Handler: s.handleLedger},
		{Method: "POST", Path: "/api/v1/funds/:id/transactions", Perm: write, Summary: "Allocate to (or take back from) a fund, or record a credit", Handler: httpx.IDAction("fund", created, req, s.PostToFund)},
		{Method: "POST", Path: "/api/v1/fund-transfers", Perm: write, Summary: "Move allocation between two funds", Handler: httpx.Action(created, req, s.Transfer)},

		{Method: "GET", Path: "/api/v1/purchase-orders", Perm: read, Summary: "List purchase orders", Handler: s.handleListPOs},
		{Method: "POST", Path: "/api/v1/purchase-orders", Perm: write, Summary: "Create a draft purchase order with its lines", Handler: httpx.Action(created, req, s.CreatePurchaseOrder)},
		{Method: "GET", Path: "/api/v1/purchase-orders/:id", Perm: read, Summary: "Get a purchase order with its lines", Handler: httpx.IDGet("purchase order", s.GetPurchaseOrder)},
		{Method: "GET", Path: "/api/v1/purchase-orders/:id/edifact", Perm: read, Summary: "The order as an EDIFACT ORDERS message", Handler: s.handleEDIFACT},
		{Method: "POST", Path: "/api/v1/purchase-orders/:id/open", Perm: write, Summary: "Open (send) a purchase order: encumbers its funds", Handler: s.poAction(s.OpenPurchaseOrder)},
		{Method: "POST", Path: "/api/v1/purchase-orders/:id/cancel", Perm: write, Summary: "Cancel a purchase order: releases its encumbrances", Handler: s.poAction(s.CancelPurchaseOrder)},
		{Method: "POST", Path: "/api/v1/purchase-orders/:id/close", Perm: write, Summary: "Close a purchase order: releases what is still encumbered", Handler: s.poAction(s.ClosePurchaseOrder)},
		// Before /po-lines/:id, which would take "late" for an id.
		{Method: "GET", Path: "/api/v1/po-lines/late", Perm: read, Summary: "Order lines past their vendor's lead time", Handler: s.handleLate},
		{Method: "POST", Path: "/api/v1/acquisitions/claims/run", Perm: write, Summary: "Claim late lines now (one mail per vendor per day)", Handler: httpx.Action(ok, opt, s.RunClaims)},
		{Method: "GET", Path: "/api/v1/po-lines/:id", Perm: read, Summary: "Get a purchase-order line", Handler: httpx.IDGet("order line", s.GetLine)},
		{Method: "POST", Path: "/api/v1/po-lines/:id/receive", Perm: write, Summary: "Receive copies of a line into the catalogue", Handler: httpx.IDAction("order line", ok, req, s.Receive)},
		{Method: "POST", Path: "/api/v1/po-lines/:id/cancel", Perm: write, Summary: "Cancel the rest of a line: releases its encumbrance", Handler: httpx.IDAction("order line", ok, opt, func(ctx context.Context, id uuid.UUID, _ struct{}) (*POLine, error) {
			return s.CancelLine(ctx, id)
		})},
		{Method: "GET", Path: "/api/v1/po-lines/:id/items", Perm: read, Summary: "The items a line brought in", Handler: httpx.IDGet("order line", s.lineItemsView)},
		{Method: "GET", Path: "/api/v1/acquisitions/settings", Perm: read, Summary: "Acquisitions settings", Handler: httpx.Action(ok, opt, func(ctx context.Context, _ struct{}) (*Settings, error) { return s.GetSettings(ctx) })},
		{Method: "PATCH", Path: "/api/v1/acquisitions/settings", Perm: write, Summary: "Change acquisitions settings", Handler: httpx.Action(ok, req, s.UpdateSettings)},

		{Method: "GET", Path: "/api/v1/invoices", Perm: read, Summary: "List invoices", Handler: s.handleListInvoices},
		{Method: "POST", Path: "/api/v1/invoices", Perm: write, Summary: "Record a vendor invoice", Handler: httpx.Action(created, req, s.CreateInvoice)},
		{Method: "GET", Path: "/api/v1/invoices/:id", Perm: read, Summary: "Get an invoice with its lines", Handler: httpx.IDGet("invoice", s.GetInvoice)},
		{Method: "POST", Path: "/api/v1/invoices/:id/approve", Perm: write, Summary: "Approve an invoice for payment", Handler: s.invoiceAction(s.ApproveInvoice)},
		{Method: "POST", Path: "/api/v1/invoices/:id/pay", Perm: write, Summary: "Pay an invoice: encumbrance becomes expenditure", Handler: s.invoiceAction(s.PayInvoice)},
		{Method: "POST", Path: "/api/v1/invoices/:id/cancel", Perm: write, Summary: "Cancel an unpaid invoice", Handler: s.invoiceAction(s.CancelInvoice)},

		{Method: "GET", Path: "/api/v1/purchase-suggestions", Perm: read, Summary: "List purchase suggestions", Handler: s.handleListSuggestions},
		{Method: "POST", Path: "/api/v1/purchase-suggestions", Perm: string(tenants.PermAuthenticated), Summary: "Suggest a title to buy (for a patron or yourself)", Handler: httpx.Action(created, req, s.CreateSuggestion)},
		{Method: "POST", Path: "/api/v1/purchase-suggestions/from-holds", Perm: write, Summary: "Suggest titles whose holds outnumber their copies", Handler: httpx.Action(created, opt, s.SuggestFromHolds)},
		{Method: "GET", Path: "/api/v1/purchase-suggestions/:id", Perm: read, Summary: "Get a purchase suggestion", Handler: httpx.IDGet("purchase suggestion", s.GetSuggestion)},
		{Method: "POST", Path: "/api/v1/purchase-suggestions/:id/accept", Perm: write, Summary: "Accept a purchase suggestion", Handler: httpx.IDAction("purchase suggestion", ok, opt, s.AcceptSuggestion)},
		{Method: "POST", Path: "/api/v1/purchase-suggestions/:id/reject", Perm: write, Summary: "Reject a purchase suggestion (with the reason)", Handler: httpx.IDAction("purchase suggestion", ok, req, s.RejectSuggestion)},
	}
}

func (s *Service) handleListSuggestions(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	rows, err := s.ListSuggestions(c.UserContext(), c.Query("status"), page.After, page.Limit)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(x Suggestion) uuid.UUID { return x.ID }))
}

func (s *Service) invoiceAction(fn func(ctx context.Context, id uuid.UUID) (*Invoice, error)) fiber.Handler {
	return httpx.IDAction("invoice", fiber.StatusOK, httpx.BodyOptional, func(ctx context.Context, id uuid.UUID, _ struct{}) (*Invoice, error) {
		return fn(ctx, id)
	})
}

// lineItemsView lists a line's items in the list shape.
func (s *Service) lineItemsView(ctx context.Context, id uuid.UUID) (httpx.List[catalog.Item], error) {
	items, err := s.LineItems(ctx, id)
	return httpx.List[catalog.Item]{Items: items}, err
}

func (s *Service) handleListInvoices(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	vendor, err := httpx.QueryUUID(c, "vendor_id")
	if err != nil {
		return err
	}
	rows, err := s.ListInvoices(c.UserContext(), c.Query("status"), vendor, page.After, page.Limit)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(i Invoice) uuid.UUID { return i.ID }))
}

func (s *Service) poAction(fn func(ctx context.Context, id uuid.UUID) (*PurchaseOrder, error)) fiber.Handler {
	return httpx.IDAction("purchase order", fiber.StatusOK, httpx.BodyOptional, func(ctx context.Context, id uuid.UUID, _ struct{}) (*PurchaseOrder, error) {
		return fn(ctx, id)
	})
}

func (s *Service) handleListVendors(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	rows, err := s.ListVendors(c.UserContext(), page.After, page.Limit)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(v Vendor) uuid.UUID { return v.ID }))
}

func (s *Service) handleListFiscalYears(c *fiber.Ctx) error {
	rows, err := s.ListFiscalYears(c.UserContext())
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []FiscalYear{}
	}
	return c.JSON(httpx.List[FiscalYear]{Items: rows})
}

func (s *Service) handleListFunds(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	fy, err := httpx.QueryUUID(c, "fiscal_year_id")
	if err != nil {
		return err
	}
	rows, err := s.ListFunds(c.UserContext(), FundFilter{FiscalYearID: fy, After: page.After, Limit: page.Limit})
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(f Fund) uuid.UUID { return f.ID }))
}

func (s *Service) handleListPOs(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	vendor, err := httpx.QueryUUID(c, "vendor_id")
	if err != nil {
		return err
	}
	rows, err := s.ListPurchaseOrders(c.UserContext(), POFilter{Status: c.Query("status"), VendorID: vendor, After: page.After, Limit: page.Limit})
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(p PurchaseOrder) uuid.UUID { return p.ID }))
}

func (s *Service) handleLate(c *fiber.Ctx) error {
	rows, err := s.LateLines(c.UserContext(), c.Query("as_of"))
	if err != nil {
		return err
	}
	return c.JSON(httpx.List[LateLine]{Items: rows})
}

func (s *Service) handleEDIFACT(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "purchase order")
	if err != nil {
		return err
	}
	msg, err := s.EDIFACT(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/EDIFACT")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="order-`+id.String()+`.edi"`)
	return c.Send(msg)
}

// handleLedger pages a fund's ledger (?limit, default 500; ?cursor).
func (s *Service) handleLedger(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "fund")
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	if c.Query("limit") == "" {
		page.Limit = httpx.MaxLimit
	}
	led, err := s.FundLedgerPage(c.UserContext(), id, page.After, page.Limit)
	if err != nil {
		return err
	}
	l := httpx.NewList(led.Entries, page, func(t Transaction) uuid.UUID { return t.ID })
	led.Entries, led.NextCursor = l.Items, l.NextCursor
	return c.JSON(led)
}
