package policy

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes declares the item type, rule and calendar endpoints. The explain
// route lives in circulation (it looks up patrons and items).
func (s *Service) Routes() []httpx.Route {
	catRead := string(tenants.PermCatalogRead)
	rulesRead, rulesWrite := string(tenants.PermPatronsRead), string(tenants.PermCirculationRules)
	brRead, brManage := string(tenants.PermBranchesRead), string(tenants.PermBranchesManage)
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/item-types", Perm: catRead, Summary: "List item types", Handler: s.handleListItemTypes},
		{Method: "POST", Path: "/api/v1/item-types", Perm: rulesWrite, Summary: "Add an item type", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.CreateItemType)},
		{Method: "GET", Path: "/api/v1/item-types/:code", Perm: catRead, Summary: "Get an item type", Handler: s.handleGetItemType},
		{Method: "PATCH", Path: "/api/v1/item-types/:code", Perm: rulesWrite, Summary: "Change an item type (name, loanable, replacement cost)", Handler: s.handleUpdateItemType},
		{Method: "DELETE", Path: "/api/v1/item-types/:code", Perm: rulesWrite, Summary: "Delete an item type no rule names", Handler: s.handleDeleteItemType},
		{Method: "GET", Path: "/api/v1/circulation/rules", Perm: rulesRead, Summary: "List circulation rules (by branch, patron category, item type)", Handler: s.handleListRules},
		{Method: "POST", Path: "/api/v1/circulation/rules", Perm: rulesWrite, Summary: "Add a circulation rule", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.CreateRule)},
		// Before /rules/:id, which would otherwise take "lint" for an id.
		{Method: "GET", Path: "/api/v1/circulation/rules/lint", Perm: rulesRead, Summary: "Check the rule matrix: shadowed rules, uncovered combinations, non-loanable types", Handler: httpx.Action(fiber.StatusOK, httpx.BodyOptional, func(ctx context.Context, _ struct{}) (*LintReport, error) { return s.Lint(ctx) })},
		{Method: "GET", Path: "/api/v1/circulation/rules/:id", Perm: rulesRead, Summary: "Get a circulation rule", Handler: httpx.IDGet("circulation rule", s.GetRule)},
		{Method: "PATCH", Path: "/api/v1/circulation/rules/:id", Perm: rulesWrite, Summary: "Change a circulation rule", Handler: httpx.IDAction("circulation rule", fiber.StatusOK, httpx.BodyRequired, s.UpdateRule)},
		{Method: "DELETE", Path: "/api/v1/circulation/rules/:id", Perm: rulesWrite, Summary: "Delete a circulation rule", Handler: s.handleDeleteRule},
		{Method: "GET", Path: "/api/v1/calendar/closed-days", Perm: brRead, Summary: "List closed days (by branch, date range)", Handler: s.handleListClosedDays},
		{Method: "POST", Path: "/api/v1/calendar/closed-days", Perm: brManage, Summary: "Add closed days (one day, a list or a range) for a branch or the whole library", Handler: s.handleAddClosedDays},
		{Method: "DELETE", Path: "/api/v1/calendar/closed-days/:id", Perm: brManage, Summary: "Delete a closed day", Handler: s.handleDeleteClosedDay},
		{Method: "GET", Path: "/api/v1/branches/:id/calendar", Perm: brRead, Summary: "A branch's effective calendar: open days, hours, closed reasons", Handler: s.handleBranchCalendar},
	}
}

func (s *Service) handleListItemTypes(c *fiber.Ctx) error {
	rows, err := s.ListItemTypes(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(httpx.List[ItemType]{Items: rows})
}

func (s *Service) handleGetItemType(c *fiber.Ctx) error {
	t, err := s.GetItemType(c.UserContext(), c.Params("code"))
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Service) handleUpdateItemType(c *fiber.Ctx) error {
	var in ItemTypeInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	t, err := s.UpdateItemType(c.UserContext(), c.Params("code"), in)
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Service) handleDeleteItemType(c *fiber.Ctx) error {
	if err := s.DeleteItemType(c.UserContext(), c.Params("code")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func queryDate(c *fiber.Ctx, name string) (string, error) {
	v := strings.TrimSpace(c.Query(name))
	if v == "" {
		return "", nil
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return "", httpx.BadQuery(name, name+" must be a date YYYY-MM-DD")
	}
	return v, nil
}

func (s *Service) handleListRules(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := RuleFilter{PatronCategory: strings.ToLower(strings.TrimSpace(c.Query("patron_category"))),
		ItemType: strings.ToLower(strings.TrimSpace(c.Query("item_type"))), After: page.After, Limit: page.Limit}
	if f.BranchID, err = httpx.QueryUUID(c, "branch_id"); err != nil {
		return err
	}
	rows, err := s.ListRules(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(r Rule) uuid.UUID { return r.ID }))
}

func (s *Service) handleDeleteRule(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "circulation rule")
	if err != nil {
		return err
	}
	if err := s.DeleteRule(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleListClosedDays(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := ClosedDayFilter{After: page.After, Limit: page.Limit}
	if c.Query("branch_id") == "none" {
		f.LibraryWide = true
	} else if f.BranchID, err = httpx.QueryUUID(c, "branch_id"); err != nil {
		return err
	}
	if f.From, err = queryDate(c, "from"); err != nil {
		return err
	}
	if f.To, err = queryDate(c, "to"); err != nil {
		return err
	}
	rows, err := s.ListClosedDays(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(d ClosedDay) uuid.UUID { return d.ID }))
}

func (s *Service) handleAddClosedDays(c *fiber.Ctx) error {
	var in ClosedDayInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	rows, err := s.AddClosedDays(c.UserContext(), in)
	if err != nil {
		return err
	}
	if in.Day != nil {
		return c.Status(fiber.StatusCreated).JSON(rows[0])
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"items": rows})
}

func (s *Service) handleDeleteClosedDay(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "closed day")
	if err != nil {
		return err
	}
	if err := s.DeleteClosedDay(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleBranchCalendar(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "branch")
	if err != nil {
		return err
	}
	cal, err := s.BranchDays(c.UserContext(), id, c.Query("from"), c.Query("to"))
	if err != nil {
		return err
	}
	return c.JSON(cal)
}
