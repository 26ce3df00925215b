package tenants

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Demo library credentials, printed by `stacks dev` and `stacks seed`.
const (
	DemoSlug     = "demo"
	DemoEmail    = "admin@demo.test"
	DemoPassword = "Shelf-Reader-2026"
)

// DemoStaff are the demo's staff users, one per role below owner.
var DemoStaff = []struct {
	Email string
	Role  Role
}{
	{"manager@demo.test", RoleAdmin}, {"librarian@demo.test", RoleLibrarian},
	{"desk@demo.test", RoleCirculation}, {"cataloger@demo.test", RoleCataloger},
	{"orders@demo.test", RoleAcquisitions}, {"viewer@demo.test", RoleReadonly},
}

// SeedDemo creates the demo library (tenant "demo": the root, a main and an
// east branch, the owner and one staff user per role) unless it exists.
// It reports whether it created anything.
func (s *Service) SeedDemo(ctx context.Context) (bool, error) {
	if t, err := s.pool.TenantBySlug(ctx, DemoSlug); err != nil || t != nil {
		return false, err
	}
	res, err := s.Signup(ctx, SignupInput{LibraryName: "Demo Public Library", Slug: DemoSlug, AdminEmail: DemoEmail,
		AdminPassword: DemoPassword, AdminName: "Demo Owner", Kind: KindLibrary, Timezone: "America/New_York", Country: "US"}, "seed", "stacks seed")
	if err != nil {
		return false, fmt.Errorf("seed: signup: %w", err)
	}
	owner := &Principal{TenantID: res.Tenant.ID, UserID: res.User.ID, Grants: res.User.Roles}
	err = s.pool.Tx(WithPrincipal(ctx, owner), res.Tenant.ID, func(ctx context.Context, _ *gorm.DB) error {
		name, code, tz := "East branch", "EAST", ""
		east, err := s.CreateBranch(ctx, BranchInput{Name: &name, Code: &code, Timezone: &tz,
			OpeningHours: &OpeningHours{"mon": {{Opens: "10:00", Closes: "18:00"}}, "sat": {{Opens: "10:00", Closes: "14:00"}}}})
		if err != nil {
			return err
		}
		for i, st := range DemoStaff {
			email, pw := st.Email, DemoPassword
			at := owner.Grants[0].BranchID // the root
			if i%2 == 1 {
				at = east.ID
			}
			if _, err := s.CreateStaff(ctx, StaffInput{Email: &email, Password: &pw, Roles: &[]Grant{{Role: st.Role, BranchID: at}}}); err != nil {
				return fmt.Errorf("staff %s: %w", email, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	return true, nil
}
