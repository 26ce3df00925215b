package notices

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// OptionalKinds are the kinds a patron may turn off. Notices that a hold
// is ready, that items are overdue or that fines block borrowing always go:
// the library relies on them (and in many places must send them).
var OptionalKinds = []string{KindDueSoon, KindCardExpiring, KindAutoRenewal, KindHoldExpired, KindHoldExpiring}

// Preferences are a patron's notice choices.
type Preferences struct {
	OptOut []string `json:"opt_out"` // kinds the patron does not want
}

// GetPreferences returns a patron's choices.
func (s *Service) GetPreferences(ctx context.Context, patronID uuid.UUID) (*Preferences, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var found []uuid.UUID
	if err := db.Raw("SELECT id FROM patrons WHERE id = ?", patronID).Scan(&found).Error; err != nil {
		return nil, fmt.Errorf("patron: %w", err)
	}
	if len(found) == 0 {
		return nil, errs.E(errs.NotFound, "patron_not_found", "no patron with this id")
	}
	p := &Preferences{OptOut: []string{}}
	if err := db.Raw("SELECT kind FROM notice_opt_outs WHERE patron_id = ? ORDER BY kind", patronID).Scan(&p.OptOut).Error; err != nil {
		return nil, fmt.Errorf("notice preferences: %w", err)
	}
	return p, nil
}

// SetPreferences replaces a patron's opt-outs.
func (s *Service) SetPreferences(ctx context.Context, patronID uuid.UUID, in Preferences) (*Preferences, error) {
	if _, err := s.GetPreferences(ctx, patronID); err != nil {
		return nil, err
	}
	for _, k := range in.OptOut {
		if !slices.Contains(OptionalKinds, k) {
			return nil, errs.Field("opt_out", "kind_required", fmt.Sprintf("%q cannot be turned off; a patron may turn off %s", k, strings.Join(OptionalKinds, ", ")))
		}
	}
	db, _ := tenants.DB(ctx)
	tenant, _ := tenants.CurrentTenant(ctx)
	if err := db.Exec("DELETE FROM notice_opt_outs WHERE patron_id = ?", patronID).Error; err != nil {
		return nil, fmt.Errorf("notice preferences: %w", err)
	}
	for _, k := range in.OptOut {
		if err := db.Exec("INSERT INTO notice_opt_outs (tenant_id, patron_id, kind) VALUES (?,?,?) ON CONFLICT DO NOTHING",
			tenant, patronID, k).Error; err != nil {
			return nil, fmt.Errorf("notice preferences: %w", err)
		}
	}
	return s.GetPreferences(ctx, patronID)
}

// QueueVerification queues the email-verification notice of a
// self-registered patron (it implements patrons.Notifier). The code is in
// the stored text, as in the mail; it works once.
func (s *Service) QueueVerification(ctx context.Context, v patrons.Verification) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	var lib struct{ Name, Slug string }
	if err := db.Raw("SELECT name, slug FROM tenants WHERE id = app.current_tenant_id()").Scan(&lib).Error; err != nil {
		return fmt.Errorf("library name: %w", err)
	}
	verify := ""
	if s.links != nil {
		verify = s.links.VerifyURL(lib.Slug, v.Code)
	}
	_, err = s.Queue(ctx, Draft{PatronID: v.PatronID, Kind: KindVerification, DedupeKey: v.Code[:16], To: v.Email,
		Data: Data{Library: lib.Name, Code: v.Code, VerifyURL: verify, Patron: PatronData{FirstName: v.FirstName, LastName: v.LastName,
			CardNumber: v.CardNumber, Name: strings.TrimSpace(v.FirstName + " " + v.LastName)}}})
	return err
}

// QueueWelcome greets a new patron with their card number (it implements
// patrons.Notifier; in the registration's transaction). A self-registered
// patron who must confirm their address gets the verification mail
// instead, which says the same.
func (s *Service) QueueWelcome(ctx context.Context, p *patrons.Patron) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	var lib string
	if err := db.Raw("SELECT name FROM tenants WHERE id = app.current_tenant_id()").Scan(&lib).Error; err != nil {
		return fmt.Errorf("library name: %w", err)
	}
	_, err = s.Queue(ctx, Draft{PatronID: p.ID, Kind: KindWelcome, DedupeKey: p.ID.String(), Channel: p.NoticeChannel, To: p.Email,
		Data: Data{Library: lib, Patron: PatronData{FirstName: p.FirstName, LastName: p.LastName, CardNumber: p.CardNumber,
			Name: strings.TrimSpace(p.FirstName + " " + p.LastName), ExpiresOn: p.ExpiresOn, Pending: p.Status == patrons.StatusPending}}})
	return err
}
