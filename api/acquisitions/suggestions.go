package acquisitions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog/ident"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Suggestion is a title someone asked the library to buy: a patron (through
// staff), a member of staff, or the holds-ratio scan. Status: pending ->
// accepted or rejected; accepted -> ordered when an order line names it.
type Suggestion struct {
	TenantID  uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID        uuid.UUID  `json:"id" gorm:"primaryKey"`
	Source    string     `json:"source"`
	PatronID  *uuid.UUID `json:"patron_id"`
	BibID     *uuid.UUID `json:"bib_id"`
	Title     string     `json:"title"`
	Author    string     `json:"author"`
	ISBN      string     `json:"isbn" gorm:"column:isbn"`
	Notes     string     `json:"notes"`
	Status    string     `json:"status"`
	Reason    string     `json:"reason"`
	POLineID  *uuid.UUID `json:"po_line_id" gorm:"column:po_line_id"`
	DecidedBy *uuid.UUID `json:"decided_by"`
	DecidedAt *time.Time `json:"decided_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// TableName maps Suggestion to its table.
func (Suggestion) TableName() string { return "purchase_suggestions" }

// SuggestionInput is the body of POST /api/v1/purchase-suggestions: a
// record of the catalogue (bib_id) or a title, author and/or ISBN.
type SuggestionInput struct {
	PatronID *uuid.UUID `json:"patron_id"`
	BibID    *uuid.UUID `json:"bib_id"`
	Title    string     `json:"title"`
	Author   string     `json:"author"`
	ISBN     string     `json:"isbn"`
	Notes    string     `json:"notes"`
}

// DecisionInput is the body of accept and reject.
type DecisionInput struct {
	Reason string `json:"reason"`
}

// CreateSuggestion records a suggestion (pending).
func (s *Service) CreateSuggestion(ctx context.Context, in SuggestionInput) (*Suggestion, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	sg := &Suggestion{TenantID: tenant, ID: tenants.NewID(), Source: "staff", Title: strings.TrimSpace(in.Title),
		Author: strings.TrimSpace(in.Author), Notes: strings.TrimSpace(in.Notes), Status: "pending", CreatedAt: s.now(), UpdatedAt: s.now()}
	if in.PatronID != nil {
		var ok bool
		if err := db.Raw(`SELECT EXISTS (SELECT 1 FROM patrons WHERE id = ?)`, *in.PatronID).Scan(&ok).Error; err != nil {
			return nil, fmt.Errorf("check patron: %w", err)
		}
		if !ok {
			return nil, errs.Field("patron_id", "invalid_patron", "patron_id names no patron of this library")
		}
		sg.PatronID, sg.Source = in.PatronID, "patron"
	}
	if in.BibID != nil {
		b, err := s.catalog.GetBib(ctx, *in.BibID, false)
		if err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return nil, errs.Field("bib_id", "invalid_bib", "bib_id names no bibliographic record of this library")
			}
			return nil, err
		}
		sg.BibID = in.BibID
		if sg.Title == "" {
			sg.Title = b.Title
		}
	}
	if isbn := strings.TrimSpace(in.ISBN); isbn != "" {
		norm, ok := ident.NormalizeISBN(isbn)
		if !ok {
			return nil, errs.Field("isbn", "invalid_isbn", fmt.Sprintf("%q is not a valid ISBN", isbn))
		}
		sg.ISBN = norm
	}
	if sg.Title == "" && sg.ISBN == "" {
		return nil, errs.Field("title", "required", "a suggestion needs a title, an ISBN or a bib_id")
	}
	if err := db.Create(sg).Error; err != nil {
		return nil, fmt.Errorf("insert suggestion: %w", err)
	}
	return sg, nil
}

// GetSuggestion loads a suggestion.
func (s *Service) GetSuggestion(ctx context.Context, id uuid.UUID) (*Suggestion, error) {
	return tenants.Find[Suggestion](ctx, "no purchase suggestion with this id", "id = ?", id)
}

// ListSuggestions lists suggestions, oldest first, optionally by status.
func (s *Service) ListSuggestions(ctx context.Context, status string, after uuid.UUID, limit int) ([]Suggestion, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Where("id > ?", after)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var rows []Suggestion
	if err := q.Order("id").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list suggestions: %w", err)
	}
	return rows, nil
}

// AcceptSuggestion accepts a pending suggestion.
func (s *Service) AcceptSuggestion(ctx context.Context, id uuid.UUID, in DecisionInput) (*Suggestion, error) {
	return s.decide(ctx, id, "accepted", in.Reason)
}

// RejectSuggestion rejects a pending suggestion; the reason is required
// (patrons are told why).
func (s *Service) RejectSuggestion(ctx context.Context, id uuid.UUID, in DecisionInput) (*Suggestion, error) {
	if strings.TrimSpace(in.Reason) == "" {
		return nil, errs.Field("reason", "required", "say why the suggestion is rejected")
	}
	return s.decide(ctx, id, "rejected", in.Reason)
}

func (s *Service) decide(ctx context.Context, id uuid.UUID, to, reason string) (*Suggestion, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sg, err := s.GetSuggestion(ctx, id)
	if err != nil {
		return nil, err
	}
	res := db.Exec(`UPDATE purchase_suggestions SET status = ?, reason = ?, decided_by = ?, decided_at = now(), updated_at = now()
WHERE id = ? AND status = 'pending'`, to, strings.TrimSpace(reason), actor(ctx), id)
	if res.Error != nil {
		return nil, fmt.Errorf("decide suggestion: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, errs.E(errs.Conflict, "invalid_status", "only a pending suggestion can be accepted or rejected; this one is "+sg.Status)
	}
	return s.GetSuggestion(ctx, id)
}

// markSuggestionOrdered links an accepted suggestion to the line ordering it.
func (s *Service) markSuggestionOrdered(ctx context.Context, id, lineID uuid.UUID, field string) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	sg, err := s.GetSuggestion(ctx, id)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return errs.Field(field, "invalid_suggestion", "suggestion_id names no purchase suggestion of this library")
		}
		return err
	}
	if sg.Status != "accepted" {
		return errs.Field(field, "suggestion_not_accepted", "only an accepted suggestion can be ordered; this one is "+sg.Status)
	}
	if err := db.Exec(`UPDATE purchase_suggestions SET status = 'ordered', po_line_id = ?, updated_at = now() WHERE id = ?`, lineID, id).Error; err != nil {
		return fmt.Errorf("mark suggestion ordered: %w", err)
	}
	return nil
}

// HoldsRatioInput is the body of POST /api/v1/purchase-suggestions/from-holds.
type HoldsRatioInput struct {
	// Ratio: suggest titles with at least this many active holds per
	// usable copy (default 3); titles with holds and no usable copy always.
	Ratio *int `json:"ratio"`
}

// SuggestFromHolds scans the catalogue for titles whose active holds
// outnumber their usable copies by the ratio, and records a pending
// holds_ratio suggestion for each that has no open suggestion yet. Reads
// circulation's holds and catalogue items, changes neither.
func (s *Service) SuggestFromHolds(ctx context.Context, in HoldsRatioInput) (*SuggestionBatch, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	ratio := 3
	if in.Ratio != nil {
		if *in.Ratio < 1 || *in.Ratio > 1000 {
			return nil, errs.Field("ratio", "invalid_ratio", "ratio must be 1 to 1000 holds per copy")
		}
		ratio = *in.Ratio
	}
	var rows []struct {
		BibID  uuid.UUID
		Title  string
		Holds  int
		Copies int
	}
	if err := db.Raw(`SELECT h.bib_id, b.title, h.holds, coalesce(c.copies, 0) AS copies
FROM (SELECT bib_id, count(*) AS holds FROM holds WHERE status IN ('pending', 'in_transit', 'waiting') GROUP BY bib_id) h
JOIN bibs b ON b.id = h.bib_id
LEFT JOIN (SELECT bib_id, count(*) AS copies FROM items WHERE status NOT IN ('withdrawn', 'lost', 'missing', 'damaged') GROUP BY bib_id) c ON c.bib_id = h.bib_id
WHERE h.holds >= ? * greatest(coalesce(c.copies, 0), 1) OR coalesce(c.copies, 0) = 0
ORDER BY h.holds DESC, h.bib_id`, ratio).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("holds ratio: %w", err)
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	out := &SuggestionBatch{Items: []Suggestion{}}
	for _, r := range rows {
		var open bool
		if err := db.Raw(`SELECT EXISTS (SELECT 1 FROM purchase_suggestions WHERE bib_id = ? AND status IN ('pending', 'accepted'))`, r.BibID).
			Scan(&open).Error; err != nil {
			return nil, fmt.Errorf("open suggestions: %w", err)
		}
		if open {
			continue
		}
		bib := r.BibID
		sg := Suggestion{TenantID: tenant, ID: tenants.NewID(), Source: "holds_ratio", BibID: &bib, Title: r.Title,
			Notes: fmt.Sprintf("%d active holds on %d usable copies", r.Holds, r.Copies), Status: "pending", CreatedAt: s.now(), UpdatedAt: s.now()}
		if err := db.Create(&sg).Error; err != nil {
			return nil, fmt.Errorf("insert suggestion: %w", err)
		}
		out.Items = append(out.Items, sg)
	}
	return out, nil
}

// SuggestionBatch is the suggestions a scan created.
type SuggestionBatch struct {
	Items []Suggestion `json:"items"`
}
