package tenants

import (
	"context"
	"database/sql/driver"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
)

// Org unit kinds: consortium -> member library -> branch.
const (
	KindConsortium = "consortium"
	KindLibrary    = "library"
	KindBranch     = "branch"
)

// Branch is an org unit: the consortium or library at the root, member
// libraries, and branches (service points that hold items and patrons).
type Branch struct {
	TenantID          uuid.UUID    `json:"-" gorm:"primaryKey"`
	ID                uuid.UUID    `json:"id" gorm:"primaryKey"`
	ParentID          *uuid.UUID   `json:"parent_id"`
	Kind              string       `json:"kind"`
	Name              string       `json:"name"`
	Code              string       `json:"code"`
	Path              UUIDs        `json:"path"`
	Timezone          *string      `json:"timezone"`
	EffectiveTimezone string       `json:"effective_timezone" gorm:"->"`
	Email             string       `json:"email"`
	Phone             string       `json:"phone"`
	Address           Address      `json:"address"`
	OpeningHours      OpeningHours `json:"opening_hours"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}

// Address is a postal address.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

func (a *Address) Scan(src any) error          { return jsonbScan(src, a) }
func (a Address) Value() (driver.Value, error) { return jsonbValue(a) }

// OpeningHours maps a weekday (mon..sun) to its opening intervals.
type OpeningHours map[string][]Interval

// Interval is one opening period in local time, "HH:MM".
type Interval struct {
	Opens  string `json:"opens"`
	Closes string `json:"closes"`
}

func (o *OpeningHours) Scan(src any) error { return jsonbScan(src, o) }
func (o OpeningHours) Value() (driver.Value, error) {
	if o == nil {
		return "{}", nil
	}
	return jsonbValue(o)
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func (o OpeningHours) validate() error {
	for day, ivs := range o {
		if !slices.Contains(weekdays, day) {
			return errs.Field("opening_hours", "invalid_opening_hours",
				fmt.Sprintf("unknown day %q; use mon, tue, wed, thu, fri, sat, sun", day))
		}
		prevClose := ""
		for _, iv := range ivs {
			o, err1 := time.Parse("15:04", iv.Opens)
			c, err2 := time.Parse("15:04", iv.Closes)
			if err1 != nil || err2 != nil {
				return errs.Field("opening_hours", "invalid_opening_hours",
					fmt.Sprintf("%s: times must be HH:MM (24-hour), got %q-%q", day, iv.Opens, iv.Closes))
			}
			if !c.After(o) {
				return errs.Field("opening_hours", "invalid_opening_hours",
					fmt.Sprintf("%s: closing time %s must be after opening time %s", day, iv.Closes, iv.Opens))
			}
			if prevClose != "" && iv.Opens < prevClose {
				return errs.Field("opening_hours", "invalid_opening_hours",
					fmt.Sprintf("%s: intervals must be in order and must not overlap", day))
			}
			prevClose = iv.Closes
		}
	}
	return nil
}

// branchSelect reads branches with their effective time zone: the nearest
// override on the path from the unit up to the root, else the tenant's.
const branchSelect = `SELECT b.*, COALESCE(
  (SELECT a.timezone FROM branches a WHERE a.id = ANY(b.path) AND a.timezone IS NOT NULL
    ORDER BY array_position(b.path, a.id) DESC LIMIT 1), t.timezone) AS effective_timezone
FROM branches b JOIN tenants t ON t.id = b.tenant_id`

var codeRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{0,19}$`)

// BranchInput is the body of POST and PATCH /branches. Absent fields are
// left unchanged on PATCH; "timezone": "" clears the override.
type BranchInput struct {
	Name         *string       `json:"name"`
	Code         *string       `json:"code"`
	ParentID     *uuid.UUID    `json:"parent_id"`
	Kind         *string       `json:"kind"`
	Timezone     *string       `json:"timezone"`
	Email        *string       `json:"email"`
	Phone        *string       `json:"phone"`
	Address      *Address      `json:"address"`
	OpeningHours *OpeningHours `json:"opening_hours"`
}

// getBranch loads one branch visible in the current tenant.
func getBranch(ctx context.Context, id uuid.UUID) (*Branch, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	var b Branch
	res := db.Raw(branchSelect+` WHERE b.id = ?`, id).Scan(&b)
	if res.Error != nil {
		return nil, fmt.Errorf("get branch %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, errs.NotFoundf("no such branch")
	}
	return &b, nil
}

// GetBranch returns one branch.
func (s *Service) GetBranch(ctx context.Context, id uuid.UUID) (*Branch, error) {
	return getBranch(ctx, id)
}

// DeskBranch is GetBranch from the configuration cache (see Cached), for
// the circulation desk's hot path. A transaction that changes branches
// must read them back with GetBranch: its own change is not in the cache.
func (s *Service) DeskBranch(ctx context.Context, id uuid.UUID) (*Branch, error) {
	all, err := Cached(ctx, "branches", loadBranches)
	if err != nil {
		return nil, err
	}
	b, ok := all[id]
	if !ok {
		return getBranch(ctx, id) // not there: the database says so with the right error
	}
	// A copy: the cached branch is shared between requests.
	b.Path = slices.Clone(b.Path)
	b.OpeningHours = maps.Clone(b.OpeningHours)
	return &b, nil
}

// loadBranches reads every org unit of the library with the configuration
// epoch, for DeskBranch.
func loadBranches(ctx context.Context) (map[uuid.UUID]Branch, int64, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, 0, err
	}
	var rows []struct {
		Branch `gorm:"embedded"`
		Epoch  int64
	}
	if err := db.Raw(`SELECT x.*, ` + EpochSQL + ` AS epoch FROM (` + branchSelect + `) x`).Scan(&rows).Error; err != nil {
		return nil, 0, fmt.Errorf("load branches: %w", err)
	}
	out := make(map[uuid.UUID]Branch, len(rows))
	epoch := int64(-1) // no rows: nothing worth caching
	for _, r := range rows {
		out[r.ID], epoch = r.Branch, r.Epoch
	}
	return out, epoch, nil
}

// BranchByCode returns the branch with code (case-insensitive).
func (s *Service) BranchByCode(ctx context.Context, code string) (*Branch, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	var b Branch
	r := db.Raw(branchSelect+` WHERE b.code = ?`, strings.ToUpper(strings.TrimSpace(code))).Scan(&b)
	if r.Error != nil {
		return nil, fmt.Errorf("branch by code %q: %w", code, r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.NotFoundf("no branch with code %q", code)
	}
	return &b, nil
}

// BranchFilter narrows ListBranches.
type BranchFilter struct {
	ParentID *uuid.UUID
	Kind     string
	After    uuid.UUID
	Limit    int
}

// ListBranches lists branches in id order, Limit+1 rows at most.
func (s *Service) ListBranches(ctx context.Context, f BranchFilter) ([]Branch, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	q, args := branchSelect+` WHERE b.id > ?`, []any{f.After}
	if f.ParentID != nil {
		q, args = q+` AND b.parent_id = ?`, append(args, *f.ParentID)
	}
	if f.Kind != "" {
		q, args = q+` AND b.kind = ?`, append(args, f.Kind)
	}
	var out []Branch
	if err := db.Raw(q+` ORDER BY b.id LIMIT ?`, append(args, f.Limit+1)...).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list branches: %w", err)
	}
	return out, nil
}

// allowedChildKinds says what may sit under each kind of unit.
var allowedChildKinds = map[string][]string{
	KindConsortium: {KindLibrary, KindBranch},
	KindLibrary:    {KindBranch},
	KindBranch:     nil,
}

func childKind(parent *Branch, requested *string) (string, error) {
	allowed := allowedChildKinds[parent.Kind]
	if len(allowed) == 0 {
		return "", errs.Field("parent_id", "invalid_parent",
			fmt.Sprintf("%q is a branch; branches cannot contain other units", parent.Name))
	}
	if requested == nil || *requested == "" {
		return allowed[0], nil
	}
	if !slices.Contains(allowed, *requested) {
		return "", errs.Field("kind", "invalid_kind",
			fmt.Sprintf("a %s can contain %s units, not %q", parent.Kind, strings.Join(allowed, " or "), *requested))
	}
	return *requested, nil
}

// apply copies the input's present fields onto b, validating each.
func (in *BranchInput) apply(b *Branch) error {
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > 200 {
			return errs.Field("name", "invalid_name", "name is required and must be at most 200 characters")
		}
		b.Name = n
	}
	if in.Code != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.Code))
		if !codeRe.MatchString(c) {
			return errs.Field("code", "invalid_code", "code must be 1-20 letters, digits, '-' or '_', starting with a letter or digit")
		}
		b.Code = c
	}
	if in.Timezone != nil {
		if *in.Timezone == "" {
			b.Timezone = nil
		} else {
			if _, err := tz.Load(*in.Timezone); err != nil || *in.Timezone == "Local" {
				return errs.Field("timezone", "invalid_timezone", fmt.Sprintf("%q is not an IANA time zone such as Europe/Paris", *in.Timezone))
			}
			zone := *in.Timezone
			b.Timezone = &zone
		}
	}
	if in.Email != nil {
		e := strings.TrimSpace(*in.Email)
		if e != "" {
			var err error
			if e, err = normalizeEmail("email", e); err != nil {
				return err
			}
		}
		b.Email = e
	}
	if in.Phone != nil {
		if len(*in.Phone) > 50 {
			return errs.Field("phone", "invalid_phone", "phone must be at most 50 characters")
		}
		b.Phone = strings.TrimSpace(*in.Phone)
	}
	if in.Address != nil {
		b.Address = *in.Address
	}
	if in.OpeningHours != nil {
		if err := in.OpeningHours.validate(); err != nil {
			return err
		}
		b.OpeningHours = *in.OpeningHours
	}
	return nil
}

func branchConflict(err error) error {
	code, constraint := PgCode(err)
	switch {
	case code == PgUniqueViolation && strings.Contains(constraint, "code"):
		return errs.Field("code", "code_taken", "another org unit already uses this code")
	case code == PgForeignKeyViolation:
		return errs.E(errs.Conflict, "branch_in_use",
			"this org unit still has child units, staff, API keys, items or patrons; move or remove them first")
	}
	return err
}

// CreateBranch adds an org unit under in.ParentID (the root when absent).
func (s *Service) CreateBranch(ctx context.Context, in BranchInput) (*Branch, error) {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	if in.Name == nil || in.Code == nil {
		return nil, errs.Field(map[bool]string{true: "name", false: "code"}[in.Name == nil], "required", "name and code are required")
	}
	var parent *Branch
	if in.ParentID == nil {
		var root Branch
		if err := db.Raw(branchSelect + ` WHERE b.parent_id IS NULL`).Scan(&root).Error; err != nil {
			return nil, fmt.Errorf("find root: %w", err)
		}
		parent = &root
	} else if parent, err = getBranch(ctx, *in.ParentID); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("parent_id", "invalid_parent", "parent_id names no org unit of this library")
		}
		return nil, err
	}
	if p == nil || !p.CanAt(PermBranchesManage, parent.Path) {
		return nil, errs.E(errs.Forbidden, "forbidden", "you may not add units under "+parent.Name)
	}
	b := &Branch{TenantID: p.TenantID, ID: NewID(), ParentID: &parent.ID, OpeningHours: OpeningHours{}}
	if b.Kind, err = childKind(parent, in.Kind); err != nil {
		return nil, err
	}
	if err := in.apply(b); err != nil {
		return nil, err
	}
	b.Path = append(slices.Clone(parent.Path), b.ID)
	if err := s.CheckLimit(ctx, ResourceBranches, 1); err != nil {
		return nil, err
	}
	if err := insertBranch(db, b); err != nil {
		return nil, err
	}
	if err := s.branchesChanged(ctx); err != nil {
		return nil, err
	}
	return getBranch(ctx, b.ID)
}

func insertBranch(db *gorm.DB, b *Branch) error {
	err := db.Exec(`INSERT INTO branches (tenant_id, id, parent_id, kind, name, code, path, timezone, email, phone, address, opening_hours)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.TenantID, b.ID, b.ParentID, b.Kind, b.Name, b.Code, b.Path, b.Timezone, b.Email, b.Phone, b.Address, b.OpeningHours).Error
	if err != nil {
		if e := branchConflict(err); e != err {
			return e
		}
		return fmt.Errorf("insert branch: %w", err)
	}
	return nil
}

// UpdateBranch changes an org unit; a new parent_id moves it with its subtree.
func (s *Service) UpdateBranch(ctx context.Context, id uuid.UUID, in BranchInput) (*Branch, error) {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	b, err := getBranch(ctx, id)
	if err != nil {
		return nil, err
	}
	if p == nil || !p.CanAt(PermBranchesManage, b.Path) {
		return nil, errs.E(errs.Forbidden, "forbidden", "you may not change "+b.Name)
	}
	if in.Kind != nil && *in.Kind != b.Kind && in.ParentID == nil {
		return nil, errs.Field("kind", "invalid_kind", "kind can only change together with parent_id")
	}
	if err := in.apply(b); err != nil {
		return nil, err
	}
	if in.ParentID != nil && (b.ParentID == nil || *in.ParentID != *b.ParentID) {
		if err := s.moveBranch(ctx, p, b, *in.ParentID, in.Kind); err != nil {
			return nil, err
		}
	}
	err = db.Exec(`UPDATE branches SET name = ?, code = ?, kind = ?, timezone = ?, email = ?, phone = ?, address = ?,
		opening_hours = ?, updated_at = now() WHERE id = ?`,
		b.Name, b.Code, b.Kind, b.Timezone, b.Email, b.Phone, b.Address, b.OpeningHours, b.ID).Error
	if err != nil {
		if e := branchConflict(err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("update branch %s: %w", id, err)
	}
	return getBranch(ctx, id)
}

func (s *Service) moveBranch(ctx context.Context, p *Principal, b *Branch, parentID uuid.UUID, kind *string) error {
	db, err := DB(ctx)
	if err != nil {
		return err
	}
	if b.ParentID == nil {
		return errs.Field("parent_id", "invalid_parent", "the root unit cannot be moved")
	}
	parent, err := getBranch(ctx, parentID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return errs.Field("parent_id", "invalid_parent", "parent_id names no org unit of this library")
		}
		return err
	}
	if slices.Contains(parent.Path, b.ID) {
		return errs.Field("parent_id", "invalid_parent", "a unit cannot be moved under itself or its own descendants")
	}
	if !p.CanAt(PermBranchesManage, parent.Path) {
		return errs.E(errs.Forbidden, "forbidden", "you may not move units under "+parent.Name)
	}
	if kind == nil {
		kind = &b.Kind
	}
	if b.Kind, err = childKind(parent, kind); err != nil {
		return err
	}
	var children int64
	if err := db.Raw(`SELECT count(*) FROM branches WHERE parent_id = ?`, b.ID).Scan(&children).Error; err != nil {
		return fmt.Errorf("count children: %w", err)
	}
	if children > 0 && len(allowedChildKinds[b.Kind]) == 0 {
		return errs.Field("kind", "invalid_kind", "a unit with child units cannot become a branch")
	}
	// Re-root the subtree: every path that passes through b gets parent's
	// path in place of b's old ancestors.
	err = db.Exec(`UPDATE branches SET path = ?::uuid[] || path[array_position(path, ?::uuid):], updated_at = now()
		WHERE ?::uuid = ANY(path)`, parent.Path, b.ID, b.ID).Error
	if err != nil {
		return fmt.Errorf("move branch %s: %w", b.ID, err)
	}
	if err := db.Exec(`UPDATE branches SET parent_id = ? WHERE id = ?`, parent.ID, b.ID).Error; err != nil {
		return fmt.Errorf("move branch %s: %w", b.ID, err)
	}
	b.ParentID = &parent.ID
	return nil
}

// DeleteBranch removes an org unit that holds nothing. Foreign keys from
// every table that points at a branch (child units, staff grants, API keys,
// and later items and patrons) make a unit in use refuse with 409.
func (s *Service) DeleteBranch(ctx context.Context, id uuid.UUID) error {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return err
	}
	b, err := getBranch(ctx, id)
	if err != nil {
		return err
	}
	if p == nil || !p.CanAt(PermBranchesManage, b.Path) {
		return errs.E(errs.Forbidden, "forbidden", "you may not delete "+b.Name)
	}
	if b.ParentID == nil {
		return errs.E(errs.Conflict, "root_branch", "the root unit is the library itself and cannot be deleted")
	}
	// A savepoint keeps the request's transaction usable after an FK error.
	err = db.Transaction(func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM branches WHERE id = ?`, id).Error
	})
	if err != nil {
		if e := branchConflict(err); e != err {
			return e
		}
		return fmt.Errorf("delete branch %s: %w", id, err)
	}
	return s.branchesChanged(ctx)
}
