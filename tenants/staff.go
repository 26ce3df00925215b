package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
)

// StaffInput is the body of POST /staff and PATCH /staff/{id}. On PATCH,
// absent fields are unchanged and roles, when present, replace all grants.
type StaffInput struct {
	Email    *string  `json:"email"`
	Name     *string  `json:"name"`
	Password *string  `json:"password"`
	Status   *string  `json:"status"`
	Roles    *[]Grant `json:"roles"`
}

func insertStaff(tx *gorm.DB, u *StaffUser) error {
	if err := tx.Omit("Roles").Create(u).Error; err != nil {
		if code, _ := PgCode(err); code == PgUniqueViolation {
			return errs.Field("email", "email_taken", "a staff user with this email already exists")
		}
		return fmt.Errorf("insert staff user: %w", err)
	}
	return insertGrants(tx, u)
}

func insertGrants(tx *gorm.DB, u *StaffUser) error {
	for _, g := range u.Roles {
		row := staffGrant{TenantID: u.TenantID, ID: NewID(), UserID: u.ID, Role: g.Role, BranchID: g.BranchID}
		if err := tx.Create(&row).Error; err != nil {
			if code, _ := PgCode(err); code == PgUniqueViolation {
				return errs.Field("roles", "duplicate_role", fmt.Sprintf("role %s is listed twice for the same unit", g.Role))
			}
			return fmt.Errorf("insert grant: %w", err)
		}
	}
	return nil
}

// staffSelect reads users with their grants aggregated.
const staffSelect = `SELECT u.*, COALESCE(json_agg(json_build_object('role', g.role, 'branch_id', g.branch_id)
    ORDER BY g.created_at, g.id) FILTER (WHERE g.id IS NOT NULL), '[]') AS roles_json
FROM staff_users u LEFT JOIN staff_grants g ON g.tenant_id = u.tenant_id AND g.user_id = u.id`

type staffRow struct {
	StaffUser
	RolesJSON []byte
}

func loadStaff(db *gorm.DB, where string, args ...any) ([]StaffUser, error) {
	var rows []staffRow
	if err := db.Raw(staffSelect+" WHERE "+where, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load staff: %w", err)
	}
	out := make([]StaffUser, len(rows))
	for i, r := range rows {
		out[i] = r.StaffUser
		if err := json.Unmarshal(r.RolesJSON, &out[i].Roles); err != nil {
			return nil, fmt.Errorf("load staff roles: %w", err)
		}
	}
	return out, nil
}

// GetStaff returns one staff user with roles.
func (s *Service) GetStaff(ctx context.Context, id uuid.UUID) (*StaffUser, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	us, err := loadStaff(db, "u.id = ? GROUP BY u.tenant_id, u.id", id)
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, errs.NotFoundf("no such staff user")
	}
	return &us[0], nil
}

// ListStaff lists staff users in id order (Limit+1 rows at most); status
// filters by "active" or "disabled" when not empty.
func (s *Service) ListStaff(ctx context.Context, status string, after uuid.UUID, limit int) ([]StaffUser, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	where, args := "u.id > ?", []any{after}
	if status != "" {
		if status != "active" && status != "disabled" {
			return nil, errs.E(errs.BadRequest, "bad_status", `status must be "active" or "disabled"`)
		}
		where, args = where+" AND u.status = ?", append(args, status)
	}
	return loadStaff(db, where+" GROUP BY u.tenant_id, u.id ORDER BY u.id LIMIT ?", append(args, limit+1)...)
}

// branchPaths returns the paths of the given units, or a 422 naming the
// first id that is not a unit of this tenant.
func branchPaths(db *gorm.DB, field string, ids []uuid.UUID) (map[uuid.UUID]UUIDs, error) {
	var rows []struct {
		ID   uuid.UUID
		Path UUIDs
	}
	if err := db.Raw(`SELECT id, path FROM branches WHERE id IN ?`, ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("branch paths: %w", err)
	}
	m := make(map[uuid.UUID]UUIDs, len(rows))
	for _, r := range rows {
		m[r.ID] = r.Path
	}
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			return nil, errs.Field(field, "invalid_branch", "a branch_id names no org unit of this library")
		}
	}
	return m, nil
}

// checkGrantable refuses grants the caller could not hold themselves: a
// role is granted only by someone with staff.manage at that unit and a role
// at least as strong.
func checkGrantable(db *gorm.DB, p *Principal, field string, grants []Grant, allowOwner bool) error {
	ids := make([]uuid.UUID, 0, len(grants))
	for _, g := range grants {
		if !g.Role.Valid() || (!allowOwner && g.Role == RoleOwner) {
			return errs.Field(field, "invalid_role", fmt.Sprintf("unknown role %q", g.Role))
		}
		ids = append(ids, g.BranchID)
	}
	if len(ids) == 0 {
		return nil
	}
	paths, err := branchPaths(db, field, ids)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if !p.canGrant(g.Role, paths[g.BranchID]) {
			return errs.E(errs.Forbidden, "forbidden", fmt.Sprintf("you may not grant the %s role at that unit", g.Role))
		}
	}
	return nil
}

// CreateStaff adds a staff user with their roles.
func (s *Service) CreateStaff(ctx context.Context, in StaffInput) (*StaffUser, error) {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	if in.Email == nil || in.Password == nil || in.Roles == nil {
		return nil, errs.E(errs.Invalid, "required", "email, password and roles are required")
	}
	email, err := normalizeEmail("email", *in.Email)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword("password", *in.Password, email[:strings.IndexByte(email, '@')]); err != nil {
		return nil, err
	}
	if len(*in.Roles) == 0 {
		return nil, errs.Field("roles", "required", "give the user at least one role at an org unit")
	}
	if err := checkGrantable(db, p, "roles", *in.Roles, true); err != nil {
		return nil, err
	}
	hash, err := hashPassword(*in.Password, s.opt.Hash)
	if err != nil {
		return nil, err
	}
	u := &StaffUser{TenantID: p.TenantID, ID: NewID(), Email: email, PasswordHash: hash, Status: "active", Roles: *in.Roles}
	if in.Name != nil {
		u.Name = strings.TrimSpace(*in.Name)
	}
	if in.Status != nil && *in.Status != "active" {
		return nil, errs.Field("status", "invalid_status", `new staff users are "active"`)
	}
	if err := s.CheckLimit(ctx, ResourceStaff, 1); err != nil {
		return nil, err
	}
	if err := insertStaff(db, u); err != nil {
		return nil, err
	}
	return s.GetStaff(ctx, u.ID)
}

// checkOutranks refuses changes to a user who holds a role the caller could
// not grant: a branch admin cannot edit the consortium's owner.
func checkOutranks(db *gorm.DB, p *Principal, target *StaffUser) error {
	if err := checkGrantable(db, p, "roles", target.Roles, true); err != nil {
		if errs.KindOf(err) == errs.Forbidden {
			return errs.E(errs.Forbidden, "forbidden", "this user holds roles you may not manage")
		}
		return err
	}
	return nil
}

// UpdateStaff changes a staff user; roles, when given, replace all grants.
func (s *Service) UpdateStaff(ctx context.Context, id uuid.UUID, in StaffInput) (*StaffUser, error) {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.GetStaff(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := checkOutranks(db, p, u); err != nil {
		return nil, err
	}
	set := map[string]any{"updated_at": gorm.Expr("now()")}
	if in.Email != nil {
		email, err := normalizeEmail("email", *in.Email)
		if err != nil {
			return nil, err
		}
		set["email"] = email
	}
	if in.Name != nil {
		set["name"] = strings.TrimSpace(*in.Name)
	}
	if in.Password != nil {
		if err := CheckPassword("password", *in.Password, u.Email[:strings.IndexByte(u.Email, '@')]); err != nil {
			return nil, err
		}
		hash, err := hashPassword(*in.Password, s.opt.Hash)
		if err != nil {
			return nil, err
		}
		set["password_hash"] = hash
	}
	if in.Status != nil {
		if *in.Status != "active" && *in.Status != "disabled" {
			return nil, errs.Field("status", "invalid_status", `status must be "active" or "disabled"`)
		}
		set["status"] = *in.Status
	}
	if in.Roles != nil {
		if len(*in.Roles) == 0 {
			return nil, errs.Field("roles", "required", "give the user at least one role; to remove access, set status to disabled")
		}
		if err := checkGrantable(db, p, "roles", *in.Roles, true); err != nil {
			return nil, err
		}
	}
	if err := lockOwners(db); err != nil {
		return nil, err
	}
	if err := db.Model(&StaffUser{}).Where("id = ?", id).Updates(set).Error; err != nil {
		if code, _ := PgCode(err); code == PgUniqueViolation {
			return nil, errs.Field("email", "email_taken", "a staff user with this email already exists")
		}
		return nil, fmt.Errorf("update staff %s: %w", id, err)
	}
	if in.Roles != nil {
		if err := db.Exec(`DELETE FROM staff_grants WHERE user_id = ?`, id).Error; err != nil {
			return nil, fmt.Errorf("replace grants: %w", err)
		}
		u.Roles = *in.Roles
		if err := insertGrants(db, u); err != nil {
			return nil, err
		}
	}
	if (in.Status != nil && *in.Status == "disabled") || in.Password != nil {
		// A disabled account or a changed password ends existing logins.
		if err := revokeSessions(db, id, p.SessionID); err != nil {
			return nil, err
		}
	}
	if err := checkOwnerRemains(db); err != nil {
		return nil, err
	}
	return s.GetStaff(ctx, id)
}

// DeleteStaff removes a user's access: the account is disabled and its roles
// and sessions end. The row stays, because loans and audit trails name it.
func (s *Service) DeleteStaff(ctx context.Context, id uuid.UUID) error {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return err
	}
	u, err := s.GetStaff(ctx, id)
	if err != nil {
		return err
	}
	if err := checkOutranks(db, p, u); err != nil {
		return err
	}
	if err := lockOwners(db); err != nil {
		return err
	}
	if err := db.Exec(`UPDATE staff_users SET status = 'disabled', updated_at = now() WHERE id = ?`, id).Error; err != nil {
		return fmt.Errorf("disable staff %s: %w", id, err)
	}
	if err := db.Exec(`DELETE FROM staff_grants WHERE user_id = ?`, id).Error; err != nil {
		return fmt.Errorf("remove grants of %s: %w", id, err)
	}
	if err := revokeSessions(db, id, uuid.Nil); err != nil {
		return err
	}
	return checkOwnerRemains(db)
}

func revokeSessions(db *gorm.DB, userID, keep uuid.UUID) error {
	if err := db.Exec(`UPDATE sessions SET revoked_at = now() WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`,
		userID, keep).Error; err != nil {
		return fmt.Errorf("revoke sessions of %s: %w", userID, err)
	}
	return nil
}

// lockOwners serialises changes that could remove the last owner, so two
// owners demoting each other at once cannot both succeed.
func lockOwners(db *gorm.DB) error {
	if err := db.Exec(`SELECT pg_advisory_xact_lock(hashtext('owners:' || app.current_tenant_id()::text))`).Error; err != nil {
		return fmt.Errorf("lock owners: %w", err)
	}
	return nil
}

func checkOwnerRemains(db *gorm.DB) error {
	var n int64
	err := db.Raw(`SELECT count(*) FROM staff_users u WHERE u.status = 'active' AND EXISTS (
		SELECT 1 FROM staff_grants g WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id AND g.role = 'owner')`).Scan(&n).Error
	if err != nil {
		return fmt.Errorf("count owners: %w", err)
	}
	if n == 0 {
		return errs.E(errs.Conflict, "last_owner", "the library must keep at least one active owner; make someone else owner first")
	}
	return nil
}
