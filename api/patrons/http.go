package patrons

import (
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
		{Method: "GET", Path: "/api/v1/patron-categories/:code", Perm: read, Summary: "Get a patron category", Handler: s.handleGetCategory},
		{Method: "PATCH", Path: "/api/v1/patron-categories/:code", Perm: write, Summary: "Change a patron category (a new code cascades)", Handler: s.handleUpdateCategory},
		{Method: "DELETE", Path: "/api/v1/patron-categories/:code", Perm: write, Summary: "Delete a patron category nothing uses", Handler: s.handleDeleteCategory},

		{Method: "GET", Path: "/api/v1/patrons", Perm: read, Summary: "Find patrons (card number, email or name prefix; category, branch, status)", Handler: s.handleList},
		{Method: "POST", Path: "/api/v1/patrons", Perm: write, Summary: "Register a patron", Handler: s.handleCreate},
		{Method: "GET", Path: "/api/v1/patrons/:id", Perm: read, Summary: "Get a patron with current blocks and standing", Handler: s.handleGet},
		{Method: "PATCH", Path: "/api/v1/patrons/:id", Perm: write, Summary: "Change a patron (status inactive retires the record)", Handler: s.handleUpdate},
		{Method: "POST", Path: "/api/v1/patrons/:id/blocks", Perm: write, Summary: "Block a patron", Handler: httpx.IDAction("patron", fiber.StatusCreated, httpx.BodyRequired, s.AddBlock)},
		{Method: "DELETE", Path: "/api/v1/patrons/:id/blocks/:block_id", Perm: write, Summary: "Lift a manual block (kept as history)", Handler: s.handleLiftBlock},
		{Method: "POST", Path: "/api/v1/patrons/:id/merge", Perm: write, Summary: "Merge a duplicate patron record into this one", Handler: s.handleMerge},
		{Method: "POST", Path: "/api/v1/patrons/:id/approve", Perm: write, Summary: "Approve a pending self-registration", Handler: s.handleApprove},

		{Method: "POST", Path: "/api/v1/opac/register", Public: true, Summary: "Self-register as a patron (OPAC)", Handler: s.handleRegister},
		{Method: "POST", Path: "/api/v1/opac/verify-email", Public: true, Summary: "Verify a self-registered patron's email address (OPAC)", Handler: s.handleVerifyEmail},
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

func (s *Service) handleGetCategory(c *fiber.Ctx) error {
	cat, err := s.CategoryView(c.UserContext(), strings.Clone(c.Params("code")))
	if err != nil {
		return err
	}
	return c.JSON(cat)
}

func (s *Service) handleUpdateCategory(c *fiber.Ctx) error {
	var in CategoryInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	cat, err := s.UpdateCategory(c.UserContext(), strings.Clone(c.Params("code")), in)
	if err != nil {
		return err
	}
	return c.JSON(cat)
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

func (s *Service) handleCreate(c *fiber.Ctx) error {
	var in PatronInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	p, err := s.Create(c.UserContext(), in)
	if err != nil {
		return err
	}
	v, err := s.view(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (s *Service) handleGet(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	v, err := s.View(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Service) handleUpdate(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	var in PatronInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	p, err := s.Update(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	v, err := s.view(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(v)
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

func (s *Service) handleMerge(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	var in MergeInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	p, err := s.Merge(c.UserContext(), id, in.FromPatronID)
	if err != nil {
		return err
	}
	v, err := s.view(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Service) handleApprove(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "patron")
	if err != nil {
		return err
	}
	p, err := s.Approve(c.UserContext(), id)
	if err != nil {
		return err
	}
	v, err := s.view(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Service) handleRegister(c *fiber.Ctx) error {
	var in RegisterInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	reg, err := s.Register(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(reg)
}

func (s *Service) handleVerifyEmail(c *fiber.Ctx) error {
	var in VerifyInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	v, err := s.VerifyEmail(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(v)
}
