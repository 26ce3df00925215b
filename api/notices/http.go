package notices

import (
	"context"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes declares the notices endpoints.
func (s *Service) Routes() []httpx.Route {
	read, write := string(tenants.PermPatronsRead), string(tenants.PermPatronsWrite)
	rules := string(tenants.PermCirculationRules)
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/notices/settings", Perm: read, Summary: "The library's notice settings", Handler: httpx.Action(fiber.StatusOK, httpx.BodyOptional,
			func(ctx context.Context, _ struct{}) (*Settings, error) { return s.GetSettings(ctx) })},
		{Method: "PATCH", Path: "/api/v1/notices/settings", Perm: rules, Summary: "Change which notices go out, their days and hour", Handler: httpx.Action(fiber.StatusOK, httpx.BodyRequired, s.UpdateSettings)},
		{Method: "POST", Path: "/api/v1/notices/run", Perm: rules, Summary: "Run a daily notice kind now (same task id as the scheduler)", Handler: httpx.Action(fiber.StatusAccepted, httpx.BodyRequired, s.Run)},
		{Method: "GET", Path: "/api/v1/notices/templates", Perm: read, Summary: "The notice texts, built in or the library's own", Handler: httpx.Action(fiber.StatusOK, httpx.BodyOptional,
			func(ctx context.Context, _ struct{}) (map[string][]Template, error) {
				ts, err := s.ListTemplates(ctx)
				return map[string][]Template{"items": ts}, err
			})},
		{Method: "GET", Path: "/api/v1/notices/templates/:kind", Perm: read, Summary: "One kind's notice text", Handler: httpx.KeyAction("kind", fiber.StatusOK, httpx.BodyOptional,
			func(ctx context.Context, kind string, _ struct{}) (*Template, error) { return s.GetTemplate(ctx, kind) })},
		{Method: "PUT", Path: "/api/v1/notices/templates/:kind", Perm: rules, Summary: "Set the library's own text for a kind (checked by rendering it)", Handler: httpx.KeyAction("kind", fiber.StatusOK, httpx.BodyRequired, s.SaveTemplate)},
		{Method: "DELETE", Path: "/api/v1/notices/templates/:kind", Perm: rules, Summary: "Go back to the built-in text for a kind", Handler: httpx.KeyAction("kind", fiber.StatusOK, httpx.BodyOptional,
			func(ctx context.Context, kind string, _ struct{}) (*Template, error) {
				return s.ResetTemplate(ctx, kind)
			})},
		{Method: "POST", Path: "/api/v1/notices/templates/:kind/preview", Perm: read, Summary: "Render a kind for a real patron without sending it", Handler: httpx.KeyAction("kind", fiber.StatusOK, httpx.BodyRequired, s.PreviewTemplate)},
		{Method: "GET", Path: "/api/v1/patrons/:id/notice-preferences", Perm: read, Summary: "A patron's notice opt-outs", Handler: httpx.IDGet("patron", s.GetPreferences)},
		{Method: "PUT", Path: "/api/v1/patrons/:id/notice-preferences", Perm: string(tenants.PermPatronsWrite), Summary: "Set the notice kinds a patron does not want", Handler: httpx.IDAction("patron", fiber.StatusOK, httpx.BodyRequired, s.SetPreferences)},
		{Method: "GET", Path: "/api/v1/notices", Perm: read, Summary: "Notices sent, pending, failed or undeliverable (by patron, kind, status)", Handler: s.handleList},
		{Method: "GET", Path: "/api/v1/notices/:id", Perm: read, Summary: "Get a notice with its text", Handler: httpx.IDGet("notice", s.Get)},
		{Method: "POST", Path: "/api/v1/notices/:id/resend", Perm: write, Summary: "Send a sent or failed notice again", Handler: httpx.IDAction("notice", fiber.StatusAccepted, httpx.BodyOptional, s.resend)},
	}
}

func (s *Service) resend(ctx context.Context, id uuid.UUID, _ struct{}) (*Notice, error) {
	return s.Resend(ctx, id)
}

var statuses = []string{StatusPending, StatusSent, StatusFailed, StatusUndeliverable}

func (s *Service) handleList(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := Filter{Kind: c.Query("kind"), Status: c.Query("status"), After: page.After, Limit: page.Limit}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		return httpx.BadQuery("status", "status is one of "+strings.Join(statuses, ", "))
	}
	if f.PatronID, err = httpx.QueryUUID(c, "patron_id"); err != nil {
		return err
	}
	rows, err := s.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(n Notice) uuid.UUID { return n.ID }))
}
