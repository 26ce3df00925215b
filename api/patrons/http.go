package patrons

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes declares the patrons module's endpoints.
func (s *Service) Routes() []httpx.Route {
	read, write := string(tenants.PermPatronsRead), string(tenants.PermPatronsWrite)
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/patron-categories", Perm: read, Summary: "List patron categories", Handler: s.handleListCategories},
		{Method: "POST", Path: "/api/v1/patron-categories", Perm: write, Summary: "Create a patron category", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.CreateCategory)},
		{Method: "GET", Path: "/api/v1/patron-categories/:code", Perm: read, Summary: "Get a patron category", Handler: httpx.KeyAction("code", fiber.StatusOK, httpx.BodyOptional, func(ctx context.Context, code string, _ struct{}) (*Category, error) {
			return s.CategoryView(ctx, code)
		})},
		{Method: "PATCH", Path: "/api/v1/patron-categories/:code", Perm: write, Summary: "Change a patron category (a new code cascades)", Handler: httpx.KeyAction("code", fiber.StatusOK, httpx.BodyRequired, s.UpdateCategory)},
		{Method: "DELETE", Path: "/api/v1/patron-categories/:code", Perm: write, Summary: "Delete a patron category nothing uses", Handler: s.handleDeleteCategory},

		{Method: "GET", Path: "/api/v1/patrons", Perm: read, Summary: "Find patrons (card number, email or name prefix; category, branch, status)", Handler: s.handleList},
		{Method: "POST", Path: "/api/v1/patrons", Perm: write, Summary: "Register a patron", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.createView)},
		{Method: "GET", Path: "/api/v1/patrons/:id", Perm: read, Summary: "Get a patron with current blocks and standing", Handler: httpx.IDGet("patron", s.View)},
		{Method: "PATCH", Path: "/api/v1/patrons/:id", Perm: write, Summary: "Change a patron (status inactive retires the record)", Handler: httpx.IDAction("patron", fiber.StatusOK, httpx.BodyRequired, s.updateView)},
		{Method: "POST", Path: "/api/v1/patrons/:id/blocks", Perm: write, Summary: "Block a patron", Handler: httpx.IDAction("patron", fiber.StatusCreated, httpx.BodyRequired, s.AddBlock)},
		{Method: "DELETE", Path: "/api/v1/patrons/:id/blocks/:block_id", Perm: write, Summary: "Lift a manual block (kept as history)", Handler: s.handleLiftBlock},
		{Method: "POST", Path: "/api/v1/patrons/:id/merge", Perm: write, Summary: "Merge a duplicate patron record into this one", Handler: httpx.IDAction("patron", fiber.StatusOK, httpx.BodyRequired, s.mergeView)},
		{Method: "POST", Path: "/api/v1/patrons/:id/approve", Perm: write, Summary: "Approve a pending self-registration", Handler: httpx.IDAction("patron", fiber.StatusOK, httpx.BodyOptional, s.approveView)},

		{Method: "POST", Path: "/api/v1/opac/register", Public: true, Summary: "Self-register as a patron (OPAC)", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.Register)},
		{Method: "POST", Path: "/api/v1/opac/verify-email", Public: true, Summary: "Verify a self-registered patron's email address (OPAC)", Handler: httpx.Action(fiber.StatusOK, httpx.BodyRequired, s.VerifyEmail)},
	}
}

func (s *Service) handleListCategories(c *fiber.Ctx) error {
	rows, err := s.ListCategories(c.UserContext())
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []Category{}
	}
	return c.JSON(httpx.List[Category]{Items: rows})
}

func (s *Service) handleDeleteCategory(c *fiber.Ctx) error {
	if err := s.DeleteCategory(c.UserContext(), strings.Clone(c.Params("code"))); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleList(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := Filter{Q: c.Query("q"), Category: c.Query("category"), Status: c.Query("status"), After: page.After, Limit: page.Limit}
	if v := c.Query("home_branch_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return httpx.BadQuery("home_branch_id", "home_branch_id must be a branch id")
		}
		f.HomeBranchID = &id
	}
	rows, err := s.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(p Patron) uuid.UUID { return p.ID }))
}

func (s *Service) handleLiftBlock(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	blockID, err := httpx.ParamUUID(c, "block_id", "block")
	if err != nil {
		return err
	}
	if err := s.LiftBlock(c.UserContext(), id, blockID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// The write routes answer with the patron's view (blocks and standing).
func (s *Service) createView(ctx context.Context, in PatronInput) (*PatronView, error) {
	return s.viewOr(ctx)(s.Create(ctx, in))
}

func (s *Service) updateView(ctx context.Context, id uuid.UUID, in PatronInput) (*PatronView, error) {
	return s.viewOr(ctx)(s.Update(ctx, id, in))
}

func (s *Service) mergeView(ctx context.Context, id uuid.UUID, in MergeInput) (*PatronView, error) {
	return s.viewOr(ctx)(s.Merge(ctx, id, in.FromPatronID))
}

func (s *Service) approveView(ctx context.Context, id uuid.UUID, _ struct{}) (*PatronView, error) {
	return s.viewOr(ctx)(s.Approve(ctx, id))
}

// viewOr passes an error on, or views the patron.
func (s *Service) viewOr(ctx context.Context) func(*Patron, error) (*PatronView, error) {
	return func(p *Patron, err error) (*PatronView, error) {
		if err != nil {
			return nil, err
		}
		return s.view(ctx, p)
	}
}
