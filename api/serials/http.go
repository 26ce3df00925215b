package serials

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/api/serials/pattern"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes declares the serials endpoints. Reading subscriptions and issues
// needs acquisitions.read (every staff member); changing them, and
// anything that names people (routing lists and slips), serials.write;
// the library's claim settings and a claim run now, branches.manage
// (owners and admins).
func (s *Service) Routes() []httpx.Route {
	read, write := string(tenants.PermAcquisitionsRead), string(tenants.PermSerialsWrite)
	admin := string(tenants.PermBranchesManage)
	created, ok := fiber.StatusCreated, fiber.StatusOK
	req, opt := httpx.BodyRequired, httpx.BodyOptional
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/serial-patterns", Perm: read, Summary: "Publication patterns: the shipped library and the library's own", Handler: httpx.Action(ok, opt,
			func(ctx context.Context, _ struct{}) (httpx.List[PatternView], error) {
				ps, err := s.ListPatterns(ctx)
				return httpx.List[PatternView]{Items: ps}, err
			})},
		{Method: "POST", Path: "/api/v1/serial-patterns", Perm: write, Summary: "Save a publication pattern for the library", Handler: httpx.Action(created, req,
			func(ctx context.Context, in pattern.Pattern) (*PatternView, error) { return s.CreatePattern(ctx, in) })},
		{Method: "GET", Path: "/api/v1/serials/settings", Perm: read, Summary: "Claim interval, maximum claims, renewal window, staff address", Handler: httpx.Action(ok, opt,
			func(ctx context.Context, _ struct{}) (*Settings, error) { return s.GetSettings(ctx) })},
		{Method: "PATCH", Path: "/api/v1/serials/settings", Perm: admin, Summary: "Change the serials settings", Handler: httpx.Action(ok, req, s.UpdateSettings)},
		{Method: "POST", Path: "/api/v1/serials/claims/run", Perm: admin, Summary: "Run today's claims now (same task id as the nightly run)", Handler: httpx.Action(fiber.StatusAccepted, opt, s.Run)},
		{Method: "GET", Path: "/api/v1/serials/renewals", Perm: read, Summary: "Subscriptions due for renewal (within_days, default the library's renewal window)", Handler: s.handleRenewals},

		{Method: "GET", Path: "/api/v1/subscriptions", Perm: read, Summary: "List subscriptions (bib_id, vendor_id, status)", Handler: s.handleList},
		{Method: "POST", Path: "/api/v1/subscriptions", Perm: write, Summary: "Subscribe to a serial; its issues are predicted", Handler: httpx.Action(created, req, s.Create)},
		{Method: "GET", Path: "/api/v1/subscriptions/:id", Perm: read, Summary: "Get a subscription with its holdings summary", Handler: httpx.IDGet("subscription", s.Get)},
		{Method: "PATCH", Path: "/api/v1/subscriptions/:id", Perm: write, Summary: "Change a subscription's terms, or cancel it", Handler: httpx.IDAction("subscription", ok, req, s.Update)},
		{Method: "GET", Path: "/api/v1/subscriptions/:id/issues", Perm: read, Summary: "A subscription's issues by expected date (from, to, status)", Handler: s.handleIssues},
		{Method: "POST", Path: "/api/v1/subscriptions/:id/issues", Perm: write, Summary: "Add a supplement, special or unexpected issue (received unless told)", Handler: httpx.IDAction("subscription", created, req, s.AddIssue)},
		{Method: "POST", Path: "/api/v1/subscriptions/:id/predict", Perm: write, Summary: "Predict the issues of the next months", Handler: httpx.IDAction("subscription", ok, opt, s.Predict)},
		{Method: "POST", Path: "/api/v1/subscriptions/:id/regenerate", Perm: write, Summary: "Re-predict after a pattern change; received and claimed issues stay", Handler: httpx.IDAction("subscription", ok, opt, s.Regenerate)},
		{Method: "POST", Path: "/api/v1/subscriptions/:id/receive-next", Perm: write, Summary: "Check in the next awaited issue", Handler: httpx.IDAction("subscription", ok, opt, s.ReceiveNext)},
		{Method: "POST", Path: "/api/v1/subscriptions/:id/renew", Perm: write, Summary: "Renew for the next period", Handler: httpx.IDAction("subscription", ok, opt, s.Renew)},
		{Method: "GET", Path: "/api/v1/subscriptions/:id/orders", Perm: read, Summary: "The PO lines of a subscription's periods", Handler: httpx.IDGet("subscription", s.Orders)},
		{Method: "GET", Path: "/api/v1/subscriptions/:id/mfhd", Perm: read, Summary: "The subscription as MARC holdings fields 853/863 (MARC-in-JSON fields)", Handler: httpx.IDGet("subscription", s.MFHD)},

		{Method: "GET", Path: "/api/v1/serial-issues", Perm: read, Summary: "Issues across subscriptions (status, vendor_id, branch_id): the late and claimed list", Handler: s.handleAllIssues},
		{Method: "GET", Path: "/api/v1/serial-issues/:id", Perm: read, Summary: "Get a serial issue", Handler: httpx.IDGet("serial issue", s.GetIssue)},
		{Method: "POST", Path: "/api/v1/serial-issues/:id/receive", Perm: write, Summary: "Check an issue in (optionally as an item with a barcode)", Handler: httpx.IDAction("serial issue", ok, opt, s.Receive)},
		{Method: "POST", Path: "/api/v1/serial-issues/:id/missing", Perm: write, Summary: "Give an issue up as missing", Handler: httpx.IDAction("serial issue", ok, opt, s.MarkMissing)},
		{Method: "POST", Path: "/api/v1/serial-issues/:id/damaged", Perm: write, Summary: "Record an issue received damaged (claimed for a replacement)", Handler: httpx.IDAction("serial issue", ok, req, s.MarkDamaged)},
		{Method: "POST", Path: "/api/v1/serial-issues/:id/not-published", Perm: write, Summary: "Record that the publisher skipped an issue", Handler: httpx.IDAction("serial issue", ok, opt, s.MarkNotPublished)},
		{Method: "GET", Path: "/api/v1/serial-issues/:id/routing-slip", Perm: write, Summary: "An issue's routing slip (JSON, or ?format=html to print)", Handler: s.handleSlip},

		{Method: "GET", Path: "/api/v1/routing-lists", Perm: write, Summary: "List routing lists", Handler: httpx.Action(ok, opt,
			func(ctx context.Context, _ struct{}) (httpx.List[RoutingList], error) {
				ls, err := s.ListRoutingLists(ctx)
				return httpx.List[RoutingList]{Items: ls}, err
			})},
		{Method: "POST", Path: "/api/v1/routing-lists", Perm: write, Summary: "Create a routing list", Handler: httpx.Action(created, req, s.CreateRoutingList)},
		{Method: "GET", Path: "/api/v1/routing-lists/:id", Perm: write, Summary: "Get a routing list", Handler: httpx.IDGet("routing list", s.GetRoutingList)},
		{Method: "PUT", Path: "/api/v1/routing-lists/:id", Perm: write, Summary: "Rename a routing list and replace its members", Handler: httpx.IDAction("routing list", ok, req, s.ReplaceRoutingList)},
		{Method: "DELETE", Path: "/api/v1/routing-lists/:id", Perm: write, Summary: "Delete a routing list no subscription uses", Handler: s.handleDeleteRoutingList},
	}
}

func (s *Service) handleList(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := SubscriptionFilter{Status: c.Query("status"), After: page.After, Limit: page.Limit}
	if f.Status != "" && !slices.Contains([]string{SubActive, SubExpiring, SubExpired, SubCanceled}, f.Status) {
		return httpx.BadQuery("status", "status is one of active, expiring, expired, canceled")
	}
	if f.BibID, err = httpx.QueryUUID(c, "bib_id"); err != nil {
		return err
	}
	if f.VendorID, err = httpx.QueryUUID(c, "vendor_id"); err != nil {
		return err
	}
	rows, err := s.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(s Subscription) uuid.UUID { return s.ID }))
}

func (s *Service) handleIssues(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "subscription")
	if err != nil {
		return err
	}
	limit, err := httpx.ParseLimit(c, httpx.MaxLimit)
	if err != nil {
		return err
	}
	rows, next, err := s.ListIssues(c.UserContext(), id, IssueFilter{From: strings.Clone(c.Query("from")), To: strings.Clone(c.Query("to")),
		Status: strings.Clone(c.Query("status")), Limit: limit, Cursor: strings.Clone(c.Query("cursor"))})
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []Issue{}
	}
	return c.JSON(httpx.List[Issue]{Items: rows, NextCursor: next})
}

func (s *Service) handleRenewals(c *fiber.Ctx) error {
	days := 0
	if v := c.Query("within_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return httpx.BadQuery("within_days", "within_days must be a whole number of days, 1 or more")
		}
		days = n
	}
	rows, err := s.Renewals(c.UserContext(), days)
	if err != nil {
		return err
	}
	return c.JSON(httpx.List[RenewalView]{Items: rows})
}

func (s *Service) handleSlip(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "serial issue")
	if err != nil {
		return err
	}
	slip, err := s.RoutingSlip(c.UserContext(), id)
	if err != nil {
		return err
	}
	switch c.Query("format") {
	case "", "json":
		return c.JSON(slip)
	case "html":
		b, err := slip.HTML()
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		// The slip is a page of its own: allow its inline style, nothing else.
		c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		return c.Send(b)
	}
	return httpx.BadQuery("format", "format is json or html")
}

func (s *Service) handleDeleteRoutingList(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "routing list")
	if err != nil {
		return err
	}
	if err := s.DeleteRoutingList(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleAllIssues(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := AllIssuesFilter{Status: strings.Clone(c.Query("status")), After: page.After, Limit: page.Limit}
	if f.VendorID, err = httpx.QueryUUID(c, "vendor_id"); err != nil {
		return err
	}
	if f.BranchID, err = httpx.QueryUUID(c, "branch_id"); err != nil {
		return err
	}
	rows, err := s.AllIssues(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(v IssueView) uuid.UUID { return v.ID }))
}
