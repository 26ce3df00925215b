package tenants

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Role is a staff role. A role is granted at an org unit and applies to the
// unit's subtree.
type Role string

const (
	RoleOwner        Role = "owner"
	RoleAdmin        Role = "admin"
	RoleLibrarian    Role = "librarian"
	RoleCirculation  Role = "circulation"
	RoleCataloger    Role = "cataloger"
	RoleAcquisitions Role = "acquisitions"
	RoleReadonly     Role = "readonly"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleLibrarian, RoleCirculation, RoleCataloger, RoleAcquisitions, RoleReadonly}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Permission names one thing a route or service call needs. Every route
// declares exactly one (or is public).
type Permission string

const (
	PermBranchesRead     Permission = "branches.read"
	PermBranchesManage   Permission = "branches.manage"
	PermStaffRead        Permission = "staff.read"
	PermStaffManage      Permission = "staff.manage"
	PermAPIKeysManage    Permission = "apikeys.manage"
	PermTenantManage     Permission = "tenant.manage"
	PermBillingManage    Permission = "billing.manage"
	PermCatalogRead      Permission = "catalog.read"
	PermCatalogWrite     Permission = "catalog.write"
	PermPatronsRead      Permission = "patrons.read"
	PermPatronsWrite     Permission = "patrons.write"
	PermCirculate        Permission = "circulation.circulate"
	PermCirculationRules Permission = "circulation.rules"
	// PermCircOverride forces a checkout, renewal or hold past a refusal
	// that allows it, with a reason that goes to the audit log.
	PermCircOverride Permission = "circulation.override"
	// PermCircBackdate records circulation at a past time (offline
	// uploads, book drops).
	PermCircBackdate      Permission = "circulation.backdate"
	PermAcquisitionsRead  Permission = "acquisitions.read"
	PermAcquisitionsWrite Permission = "acquisitions.write"
	PermSerialsWrite      Permission = "serials.write"
	PermReportsRead       Permission = "reports.read"
	PermPatronData        Permission = "reports.patron_data"
	PermILLManage         Permission = "ill.manage"
	// PermAuthenticated is held by every principal: "any signed-in staff".
	PermAuthenticated Permission = "authenticated"
)

var readAll = []Permission{PermAuthenticated, PermBranchesRead, PermCatalogRead, PermAcquisitionsRead, PermReportsRead}

// rolePerms is the one table of what each role may do.
var rolePerms = map[Role][]Permission{
	RoleOwner: {PermTenantManage, PermBillingManage, PermStaffRead, PermStaffManage, PermAPIKeysManage,
		PermBranchesManage, PermCatalogWrite, PermPatronsRead, PermPatronsWrite, PermCirculate, PermCirculationRules,
		PermCircOverride, PermCircBackdate, PermAcquisitionsWrite, PermSerialsWrite, PermPatronData, PermILLManage},
	RoleAdmin: {PermStaffRead, PermStaffManage, PermAPIKeysManage, PermBranchesManage, PermCatalogWrite,
		PermPatronsRead, PermPatronsWrite, PermCirculate, PermCirculationRules, PermCircOverride, PermCircBackdate, PermAcquisitionsWrite,
		PermSerialsWrite, PermPatronData, PermILLManage},
	RoleLibrarian:    {PermCatalogWrite, PermPatronsRead, PermPatronsWrite, PermCirculate, PermCircOverride, PermSerialsWrite, PermPatronData, PermILLManage},
	RoleCirculation:  {PermPatronsRead, PermPatronsWrite, PermCirculate},
	RoleCataloger:    {PermCatalogWrite, PermSerialsWrite},
	RoleAcquisitions: {PermAcquisitionsWrite, PermSerialsWrite},
	RoleReadonly:     {PermPatronsRead},
}

// Permissions returns what r grants.
func (r Role) Permissions() []Permission {
	return append(slices.Clone(readAll), rolePerms[r]...)
}

// Allows reports whether r grants p.
func (r Role) Allows(p Permission) bool {
	return slices.Contains(readAll, p) || slices.Contains(rolePerms[r], p)
}

// rank orders roles for "may this actor grant that role": lower is stronger.
func (r Role) rank() int { return slices.Index(Roles, r) }

// Grant is a role at an org unit.
type Grant struct {
	Role     Role      `json:"role"`
	BranchID uuid.UUID `json:"branch_id"`
}

// Principal is who is calling: a staff user (session) or an API key.
type Principal struct {
	TenantID  uuid.UUID
	UserID    uuid.UUID // zero for API keys
	SessionID uuid.UUID // zero for API keys
	APIKeyID  uuid.UUID // zero for sessions
	Email     string
	Name      string
	Grants    []Grant
	// Access is the library's subscription state when the request began.
	Access Access
}

// Has reports whether any grant allows p somewhere. Routes check this; the
// service then checks the org unit the action touches with CanAt.
func (p *Principal) Has(perm Permission) bool {
	for _, g := range p.Grants {
		if g.Role.Allows(perm) {
			return true
		}
	}
	return false
}

// CanAt reports whether a grant at one of path's units (root..target) allows
// perm: a role granted at an org unit applies to its whole subtree.
func (p *Principal) CanAt(perm Permission, path []uuid.UUID) bool {
	for _, g := range p.Grants {
		if g.Role.Allows(perm) && slices.Contains(path, g.BranchID) {
			return true
		}
	}
	return false
}

// canGrant reports whether p may grant role r at the unit with path: it needs
// staff.manage there and a role at least as strong as r there.
func (p *Principal) canGrant(r Role, path []uuid.UUID) bool {
	for _, g := range p.Grants {
		if g.Role.Allows(PermStaffManage) && slices.Contains(path, g.BranchID) && g.Role.rank() <= r.rank() {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// PrincipalForUser rebuilds a staff user's principal inside the tenant
// transaction in ctx, for work done later on their behalf (an import job
// creates items only where its starter may catalogue).
func PrincipalForUser(ctx context.Context, userID uuid.UUID) (*Principal, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := CurrentTenant(ctx)
	p := &Principal{TenantID: tenant, UserID: userID}
	if err := db.Raw(`SELECT g.role, g.branch_id FROM staff_grants g JOIN staff_users u ON u.tenant_id = g.tenant_id
		AND u.id = g.user_id AND u.status = 'active' WHERE g.user_id = ?`, userID).Scan(&p.Grants).Error; err != nil {
		return nil, fmt.Errorf("principal for %s: %w", userID, err)
	}
	return p, nil
}

// SystemPrincipal is the tenant's operator acting from the command line
// (stacks import): the owner role at the root unit.
func SystemPrincipal(ctx context.Context) (*Principal, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := CurrentTenant(ctx)
	var root uuid.UUID
	if err := db.Raw(`SELECT id FROM branches WHERE parent_id IS NULL`).Row().Scan(&root); err != nil {
		return nil, fmt.Errorf("system principal: %w", err)
	}
	return &Principal{TenantID: tenant, Name: "system", Grants: []Grant{{Role: RoleOwner, BranchID: root}}}, nil
}

// PrincipalForAPIKey rebuilds an API key's principal inside the tenant
// transaction in ctx; a key revoked or expired since grants nothing.
func PrincipalForAPIKey(ctx context.Context, keyID uuid.UUID) (*Principal, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := CurrentTenant(ctx)
	p := &Principal{TenantID: tenant, APIKeyID: keyID}
	if err := db.Raw(`SELECT role, branch_id FROM api_keys WHERE id = ? AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > now())`, keyID).Scan(&p.Grants).Error; err != nil {
		return nil, fmt.Errorf("principal for key %s: %w", keyID, err)
	}
	return p, nil
}
