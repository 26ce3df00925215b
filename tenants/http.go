package tenants

import (
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/httpx"
)

// Routes declares the tenants module's endpoints.
func (s *Service) Routes() []httpx.Route {
	p := func(perm Permission) string { return string(perm) }
	return []httpx.Route{
		{Method: "POST", Path: "/api/v1/signup", Public: true, Summary: "Sign up a library", Handler: s.handleSignup},
		{Method: "POST", Path: "/api/v1/auth/login", Public: true, Summary: "Log in", Handler: s.handleLogin},
		{Method: "POST", Path: "/api/v1/auth/logout", Perm: p(PermAuthenticated), Summary: "Log out", Handler: s.handleLogout, AllowReadOnly: true},
		{Method: "GET", Path: "/api/v1/me", Perm: p(PermAuthenticated), Summary: "Who am I", Handler: s.handleMe},
		{Method: "GET", Path: "/api/v1/tenant", Perm: p(PermAuthenticated), Summary: "Get the library's settings", Handler: s.handleGetTenant},
		{Method: "PATCH", Path: "/api/v1/tenant", Perm: p(PermTenantManage), Summary: "Change the library's name, time zone or country", Handler: s.handleUpdateTenant},

		{Method: "GET", Path: "/api/v1/branches", Perm: p(PermBranchesRead), Summary: "List org units", Handler: s.handleListBranches},
		{Method: "POST", Path: "/api/v1/branches", Perm: p(PermBranchesManage), Summary: "Create an org unit", Handler: s.handleCreateBranch},
		{Method: "GET", Path: "/api/v1/branches/:id", Perm: p(PermBranchesRead), Summary: "Get an org unit", Handler: s.handleGetBranch},
		{Method: "PATCH", Path: "/api/v1/branches/:id", Perm: p(PermBranchesManage), Summary: "Change or move an org unit", Handler: s.handleUpdateBranch},
		{Method: "DELETE", Path: "/api/v1/branches/:id", Perm: p(PermBranchesManage), Summary: "Delete an empty org unit", Handler: s.handleDeleteBranch},

		{Method: "GET", Path: "/api/v1/staff", Perm: p(PermStaffRead), Summary: "List staff users", Handler: s.handleListStaff},
		{Method: "POST", Path: "/api/v1/staff", Perm: p(PermStaffManage), Summary: "Add a staff user", Handler: s.handleCreateStaff},
		{Method: "GET", Path: "/api/v1/staff/:id", Perm: p(PermStaffRead), Summary: "Get a staff user", Handler: s.handleGetStaff},
		{Method: "PATCH", Path: "/api/v1/staff/:id", Perm: p(PermStaffManage), Summary: "Change a staff user", Handler: s.handleUpdateStaff},
		{Method: "DELETE", Path: "/api/v1/staff/:id", Perm: p(PermStaffManage), Summary: "Remove a staff user's access", Handler: s.handleDeleteStaff},

		{Method: "GET", Path: "/api/v1/api-keys", Perm: p(PermAPIKeysManage), Summary: "List API keys", Handler: s.handleListAPIKeys},
		{Method: "POST", Path: "/api/v1/api-keys", Perm: p(PermAPIKeysManage), Summary: "Create an API key", Handler: s.handleCreateAPIKey},
		{Method: "DELETE", Path: "/api/v1/api-keys/:id", Perm: p(PermAPIKeysManage), Summary: "Revoke an API key", Handler: s.handleRevokeAPIKey},
	}
}

func (s *Service) handleSignup(c *fiber.Ctx) error {
	var in SignupInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.Signup(c.UserContext(), in, c.IP(), string(c.Context().UserAgent()))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Service) handleLogin(c *fiber.Ctx) error {
	var in LoginInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.Login(c.UserContext(), in, c.IP(), string(c.Context().UserAgent()))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Service) handleLogout(c *fiber.Ctx) error {
	if err := s.Logout(c.UserContext()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleMe(c *fiber.Ctx) error {
	m, err := s.GetMe(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Service) handleListBranches(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := BranchFilter{After: page.After, Limit: page.Limit, Kind: c.Query("kind")}
	if v := c.Query("parent_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return httpx.BadQuery("parent_id", "parent_id must be a branch id")
		}
		f.ParentID = &id
	}
	rows, err := s.ListBranches(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(b Branch) uuid.UUID { return b.ID }))
}

func (s *Service) handleGetBranch(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "branch")
	if err != nil {
		return err
	}
	b, err := s.GetBranch(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(b)
}

func (s *Service) handleCreateBranch(c *fiber.Ctx) error {
	var in BranchInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	b, err := s.CreateBranch(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(b)
}

func (s *Service) handleUpdateBranch(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "branch")
	if err != nil {
		return err
	}
	var in BranchInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	b, err := s.UpdateBranch(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(b)
}

func (s *Service) handleDeleteBranch(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "branch")
	if err != nil {
		return err
	}
	if err := s.DeleteBranch(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleListStaff(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	rows, err := s.ListStaff(c.UserContext(), c.Query("status"), page.After, page.Limit)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(u StaffUser) uuid.UUID { return u.ID }))
}

func (s *Service) handleGetStaff(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "staff user")
	if err != nil {
		return err
	}
	u, err := s.GetStaff(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Service) handleCreateStaff(c *fiber.Ctx) error {
	var in StaffInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	u, err := s.CreateStaff(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(u)
}

func (s *Service) handleUpdateStaff(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "staff user")
	if err != nil {
		return err
	}
	var in StaffInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	u, err := s.UpdateStaff(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Service) handleDeleteStaff(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "staff user")
	if err != nil {
		return err
	}
	if err := s.DeleteStaff(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleListAPIKeys(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	rows, err := s.ListAPIKeys(c.UserContext(), page.After, page.Limit)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(k APIKey) uuid.UUID { return k.ID }))
}

func (s *Service) handleCreateAPIKey(c *fiber.Ctx) error {
	var in APIKeyInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	k, err := s.CreateAPIKey(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(k)
}

func (s *Service) handleRevokeAPIKey(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "API key")
	if err != nil {
		return err
	}
	if err := s.RevokeAPIKey(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleGetTenant(c *fiber.Ctx) error {
	t, err := s.GetTenant(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Service) handleUpdateTenant(c *fiber.Ctx) error {
	var in TenantInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	t, err := s.UpdateTenant(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(t)
}
