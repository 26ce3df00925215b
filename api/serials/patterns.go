package serials

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/serials/pattern"
	"github.com/stacks-ils/stacks/tenants"
)

// PatternView is a pattern as GET /serial-patterns lists it.
type PatternView struct {
	pattern.Pattern
	Shipped bool `json:"shipped"`
}

type patternRow struct {
	TenantID uuid.UUID
	ID       uuid.UUID
	Name     string
	Pattern  PatternJSON `gorm:"type:jsonb"`
}

func (patternRow) TableName() string { return "serial_patterns" }

// ListPatterns returns the shipped patterns, then the library's by name.
func (s *Service) ListPatterns(ctx context.Context) ([]PatternView, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PatternView, 0, len(pattern.Library))
	for _, p := range pattern.Library {
		p, _ := pattern.Shipped(p.ID)
		out = append(out, PatternView{Pattern: p, Shipped: true})
	}
	var rows []patternRow
	if err := db.Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list serial patterns: %w", err)
	}
	for _, r := range rows {
		p := pattern.Pattern(r.Pattern)
		p.ID, p.Name = r.ID.String(), r.Name
		out = append(out, PatternView{Pattern: p})
	}
	return out, nil
}

// CreatePattern saves a library pattern after checking it.
func (s *Service) CreatePattern(ctx context.Context, in pattern.Pattern) (*PatternView, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	in.ID = ""
	in.Name = strings.TrimSpace(in.Name)
	if err := patternErr(in.Validate(), ""); err != nil {
		return nil, err
	}
	row := patternRow{TenantID: tenant, ID: tenants.NewID(), Name: in.Name, Pattern: PatternJSON(in)}
	if err := db.Create(&row).Error; err != nil {
		if code, _ := tenants.PgCode(err); code == tenants.PgUniqueViolation {
			return nil, errs.Field("name", "pattern_name_taken", "the library already has a pattern named "+in.Name)
		}
		return nil, fmt.Errorf("insert serial pattern: %w", err)
	}
	in.ID = row.ID.String()
	return &PatternView{Pattern: in}, nil
}

// resolvePattern finds the pattern a request names: a shipped id, a
// library pattern's id, or an inline pattern (exactly one of id and inline).
func (s *Service) resolvePattern(ctx context.Context, id *string, inline *pattern.Pattern) (pattern.Pattern, string, error) {
	switch {
	case id != nil && inline != nil:
		return pattern.Pattern{}, "", errs.Field("pattern", "pattern_twice", "send pattern_id or pattern, not both")
	case inline != nil:
		p := *inline
		p.ID = ""
		return p, "", patternErr(p.Validate(), "pattern.")
	case id == nil || *id == "":
		return pattern.Pattern{}, "", errs.Field("pattern_id", "required", "choose a publication pattern: pattern_id (GET /api/v1/serial-patterns) or pattern")
	}
	if p, ok := pattern.Shipped(*id); ok {
		return p, *id, nil
	}
	pid, err := uuid.Parse(*id)
	if err == nil {
		row, ferr := tenants.Find[patternRow](ctx, "", "id = ?", pid)
		if ferr == nil {
			p := pattern.Pattern(row.Pattern)
			p.ID, p.Name = "", row.Name
			return p, *id, nil
		}
		if errs.KindOf(ferr) != errs.NotFound {
			return pattern.Pattern{}, "", ferr
		}
	}
	return pattern.Pattern{}, "", errs.Field("pattern_id", "invalid_pattern", "pattern_id names no pattern of this library (GET /api/v1/serial-patterns lists them)")
}

// patternErr turns a pattern engine error into a 422 naming the field.
func patternErr(err error, prefix string) error {
	if err == nil {
		return nil
	}
	var pe *pattern.Error
	if errors.As(err, &pe) {
		field := pe.Field
		if !strings.HasPrefix(field, "first_issue") {
			field = prefix + field
		}
		return errs.Field(field, "invalid_pattern", pe.Msg)
	}
	return err
}
