package circulation

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// Money is an amount in minor units with its ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Loan statuses.
const (
	LoanActive         = "active"
	LoanLost           = "lost"
	LoanClaimsReturned = "claims_returned"
	LoanReturned       = "returned"
)

// Loan is one checkout.
type Loan struct {
	TenantID        uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID              uuid.UUID  `json:"id" gorm:"primaryKey"`
	ItemID          uuid.UUID  `json:"item_id"`
	PatronID        *uuid.UUID `json:"patron_id"`
	PatronCategory  string     `json:"patron_category"`
	ItemType        string     `json:"item_type"`
	BibID           uuid.UUID  `json:"bib_id"`
	BranchID        uuid.UUID  `json:"branch_id"`
	RuleID          *uuid.UUID `json:"rule_id"`
	Status          string     `json:"status"`
	CheckedOutAt    time.Time  `json:"checked_out_at"`
	DueAt           time.Time  `json:"due_at"`
	RenewalsUsed    int        `json:"renewals_used"`
	RenewalsAllowed int        `json:"-"`
	RenewalsLeft    int        `json:"renewals_left" gorm:"-"`
	LastRenewedAt   *time.Time `json:"last_renewed_at"`
	ReturnedAt      *time.Time `json:"returned_at"`
	ReturnBranchID  *uuid.UUID `json:"return_branch_id"`
	LostAt          *time.Time `json:"lost_at"`
	ClaimedAt       *time.Time `json:"claimed_at"`
	CreatedBy       *uuid.UUID `json:"-"`
	AnonymisedAt    *time.Time `json:"-"`
	// Filled for account views.
	Barcode string `json:"barcode,omitempty" gorm:"->;-:migration"`
	Title   string `json:"title,omitempty" gorm:"->;-:migration"`
	Overdue bool   `json:"overdue" gorm:"-"`
}

func (l *Loan) fill(now time.Time) *Loan {
	l.RenewalsLeft = max(l.RenewalsAllowed-l.RenewalsUsed, 0)
	l.Overdue = l.Status == LoanActive && l.DueAt.Before(now)
	return l
}

// Hold statuses: pending (in the queue), in_transit (a copy travels to the
// pickup branch), waiting (on the hold shelf), and the closed ones.
const (
	HoldPending   = "pending"
	HoldInTransit = "in_transit"
	HoldWaiting   = "waiting"
	HoldFulfilled = "fulfilled"
	HoldCanceled  = "canceled"
	HoldExpired   = "expired"
)

var openHoldStatuses = []string{HoldPending, HoldInTransit, HoldWaiting}

// Hold is a patron's request for a title (bib) or one item.
type Hold struct {
	TenantID       uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID             uuid.UUID  `json:"id" gorm:"primaryKey"`
	PatronID       uuid.UUID  `json:"patron_id"`
	BibID          uuid.UUID  `json:"bib_id"`
	ItemID         *uuid.UUID `json:"item_id"`
	PickupBranchID uuid.UUID  `json:"pickup_branch_id"`
	Status         string     `json:"status"`
	RequestedAt    time.Time  `json:"requested_at"`
	NotNeededAfter *string    `json:"not_needed_after" gorm:"type:date"`
	SuspendedUntil *string    `json:"suspended_until" gorm:"type:date"`
	TrappedItemID  *uuid.UUID `json:"trapped_item_id"`
	TrappedAt      *time.Time `json:"trapped_at"`
	ShelfExpiresAt *time.Time `json:"shelf_expires_at"`
	ClosedAt       *time.Time `json:"closed_at"`
	CancelReason   string     `json:"cancel_reason"`
	CreatedBy      *uuid.UUID `json:"-"`
	Position       int        `json:"position" gorm:"->;-:migration"`
	Title          string     `json:"title,omitempty" gorm:"->;-:migration"`
}

// open reports whether the hold is still in the queue, travelling or
// waiting.
func (h *Hold) open() bool { return slices.Contains(openHoldStatuses, h.Status) }

func (h *Hold) fill() *Hold {
	for _, d := range []**string{&h.NotNeededAfter, &h.SuspendedUntil} {
		if *d != nil && len(**d) > 10 && !strings.HasPrefix(**d, "infinity") {
			v := (**d)[:10]
			*d = &v
		}
	}
	return h
}

// Transit is an item travelling between branches.
type Transit struct {
	TenantID     uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID           uuid.UUID  `json:"id" gorm:"primaryKey"`
	ItemID       uuid.UUID  `json:"item_id"`
	FromBranchID uuid.UUID  `json:"from_branch_id"`
	ToBranchID   uuid.UUID  `json:"to_branch_id"`
	Reason       string     `json:"reason"`
	HoldID       *uuid.UUID `json:"hold_id"`
	SentAt       time.Time  `json:"sent_at"`
	ReceivedAt   *time.Time `json:"received_at"`
	CanceledAt   *time.Time `json:"canceled_at"`
	Barcode      string     `json:"barcode,omitempty" gorm:"->;-:migration"`
	Title        string     `json:"title,omitempty" gorm:"->;-:migration"`
}

// Settings are the tenant's circulation settings (table circ_settings).
type Settings struct {
	TenantID                 uuid.UUID `json:"-" gorm:"primaryKey"`
	ReturnPolicy             string    `json:"return_policy"`
	FinesOnClosedDays        bool      `json:"fines_on_closed_days"`
	SelfRegistration         string    `json:"self_registration"`
	SelfRegistrationCategory string    `json:"self_registration_category"`
	HistoryRetentionDays     *int      `json:"history_retention_days"`
	MaxClaimsReturned        int       `json:"max_claims_returned"`
	RefundLostWhenFound      bool      `json:"refund_lost_when_found"`
	LostAfterDays            *int      `json:"lost_after_days"`
	UpdatedAt                time.Time `json:"updated_at"`
}

// TableName maps Settings to its table.
func (Settings) TableName() string { return "circ_settings" }

// GetSettings loads the tenant's circulation settings.
func (s *Service) GetSettings(ctx context.Context) (*Settings, error) {
	return tenants.Find[Settings](ctx, "no circulation settings", "true")
}

// SettingsInput is the body of PATCH /circulation/settings.
type SettingsInput struct {
	ReturnPolicy             *string `json:"return_policy"`
	FinesOnClosedDays        *bool   `json:"fines_on_closed_days"`
	SelfRegistration         *string `json:"self_registration"`
	SelfRegistrationCategory *string `json:"self_registration_category"`
	HistoryRetentionDays     *int    `json:"history_retention_days"` // 0 clears
	MaxClaimsReturned        *int    `json:"max_claims_returned"`
	RefundLostWhenFound      *bool   `json:"refund_lost_when_found"`
	LostAfterDays            *int    `json:"lost_after_days"` // 0 turns it off
}

// UpdateSettings changes the settings present in in.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsInput) (*Settings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]any{"updated_at": s.now()}
	if in.ReturnPolicy != nil {
		if !slices.Contains([]string{"home", "float"}, *in.ReturnPolicy) {
			return nil, errs.Field("return_policy", "invalid_return_policy", `return_policy is "home" (items go back to their branch) or "float" (they stay where returned)`)
		}
		set["return_policy"] = *in.ReturnPolicy
	}
	if in.FinesOnClosedDays != nil {
		set["fines_on_closed_days"] = *in.FinesOnClosedDays
	}
	if in.SelfRegistration != nil {
		if !slices.Contains([]string{"off", "staff_approval", "email_verification"}, *in.SelfRegistration) {
			return nil, errs.Field("self_registration", "invalid_self_registration", "self_registration is off, staff_approval or email_verification")
		}
		set["self_registration"] = *in.SelfRegistration
	}
	if in.SelfRegistrationCategory != nil {
		if _, err := s.patrons.GetCategory(ctx, *in.SelfRegistrationCategory); err != nil {
			return nil, errs.Field("self_registration_category", "unknown_category", "no patron category with this code")
		}
		set["self_registration_category"] = *in.SelfRegistrationCategory
	}
	if in.HistoryRetentionDays != nil {
		switch d := *in.HistoryRetentionDays; {
		case d < 0:
			return nil, errs.Field("history_retention_days", "invalid_retention", "history_retention_days is a number of days, or 0 to keep history as long as patrons want")
		case d == 0:
			set["history_retention_days"] = nil
		default:
			set["history_retention_days"] = d
		}
	}
	if in.MaxClaimsReturned != nil {
		if *in.MaxClaimsReturned < 0 {
			return nil, errs.Field("max_claims_returned", "invalid_limit", "max_claims_returned must be 0 or more")
		}
		set["max_claims_returned"] = *in.MaxClaimsReturned
	}
	if in.RefundLostWhenFound != nil {
		set["refund_lost_when_found"] = *in.RefundLostWhenFound
	}
	if in.LostAfterDays != nil {
		switch d := *in.LostAfterDays; {
		case d < 0 || d > 3650:
			return nil, errs.Field("lost_after_days", "invalid_days", "lost_after_days is a number of days after the due date, or 0 for never")
		case d == 0:
			set["lost_after_days"] = nil
		default:
			set["lost_after_days"] = d
		}
	}
	if err := db.Model(&Settings{}).Where("true").Updates(set).Error; err != nil {
		return nil, fmt.Errorf("update circulation settings: %w", err)
	}
	return s.GetSettings(ctx)
}

// refusal is one reason the desk says no. Overridable ones can be forced by
// staff with the override permission and a reason.
type refusal struct {
	kind        errs.Kind
	code, msg   string
	overridable bool
	details     map[string]any
}

// Override is the optional "force it" part of a desk request.
type Override struct {
	Reason string `json:"reason"`
}

// decide turns the refusals of one operation into an error, or into the
// list of codes an override forced (for the audit log).
func decide(ctx context.Context, refusals []refusal, ov *Override) ([]string, error) {
	if len(refusals) == 0 {
		return nil, nil
	}
	all := make([]map[string]any, 0, len(refusals))
	overridable := true
	for _, r := range refusals {
		all = append(all, map[string]any{"code": r.code, "message": r.msg, "overridable": r.overridable})
		overridable = overridable && r.overridable
	}
	first := refusals[0]
	details := map[string]any{"refusals": all, "overridable": overridable}
	for k, v := range first.details {
		details[k] = v
	}
	if ov == nil {
		return nil, errs.E(first.kind, first.code, first.msg).WithDetails(details)
	}
	p := tenants.PrincipalFrom(ctx)
	switch {
	case !overridable:
		return nil, errs.E(first.kind, first.code, first.msg+" (this cannot be overridden)").WithDetails(details)
	case p == nil || !p.Has(tenants.PermCircOverride):
		return nil, errs.E(errs.Forbidden, "override_not_allowed", "your role may not override circulation refusals; ask a librarian").WithDetails(details)
	case strings.TrimSpace(ov.Reason) == "":
		return nil, errs.Field("override.reason", "override_reason_required", "say why you override: the reason goes to the audit log")
	}
	codes := make([]string, len(refusals))
	for i, r := range refusals {
		codes[i] = r.code
	}
	return codes, nil
}

// refusalsOf turns a patron's blocks into refusals: an expired card is
// patron_expired, anything else patron_blocked.
func refusalsOf(blocks []patrons.Block) []refusal {
	var out []refusal
	var reasons []string
	for _, b := range blocks {
		if b.Code == "expired" {
			out = append(out, refusal{kind: errs.Conflict, code: "patron_expired", msg: "The patron's card has expired: " + b.Message + ". Renew the card first.", overridable: true})
			continue
		}
		reasons = append(reasons, b.Message)
	}
	if len(reasons) > 0 {
		out = append(out, refusal{kind: errs.Conflict, code: "patron_blocked", overridable: true,
			msg: "The patron is blocked: " + strings.Join(reasons, "; ") + ".", details: map[string]any{"blocks": blocks}})
	}
	return out
}

// audit records one desk action.
type auditEntry struct {
	Action         string
	BranchID       *uuid.UUID
	PatronID       *uuid.UUID
	ItemID         *uuid.UUID
	LoanID         *uuid.UUID
	HoldID         *uuid.UUID
	OverrideCodes  []string
	OverrideReason string
	Details        map[string]any
	At             time.Time
}

func (s *Service) audit(ctx context.Context, e auditEntry) error {
	return s.auditWith(ctx, e)
}

// auditSQL is the INSERT of one audit entry, with its arguments, so a
// desk operation can send it in the same statement as its own write.
func (s *Service) auditSQL(ctx context.Context, e auditEntry) (string, []any) {
	tenant, _ := tenants.CurrentTenant(ctx)
	var staff, key *uuid.UUID
	if p := tenants.PrincipalFrom(ctx); p != nil {
		if p.UserID != uuid.Nil {
			staff = &p.UserID
		}
		if p.APIKeyID != uuid.Nil {
			key = &p.APIKeyID
		}
	}
	details := []byte("{}")
	if e.Details != nil {
		details, _ = json.Marshal(e.Details)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	return `INSERT INTO circ_audit (tenant_id, id, at, action, staff_id, api_key_id, branch_id, patron_id, item_id,
  loan_id, hold_id, override_codes, override_reason, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		[]any{tenant, tenants.NewID(), e.At, e.Action, staff, key, e.BranchID, e.PatronID, e.ItemID, e.LoanID, e.HoldID,
			tenants.Strings(e.OverrideCodes), e.OverrideReason, string(details)}
}

// write is one data-modifying statement of a desk operation.
type write struct {
	sql  string
	args []any
}

// auditWith runs the writes and records e in one statement: "WITH w1 AS
// (write), w2 AS (write) INSERT INTO circ_audit ...". Every write runs
// whether or not the audit insert reads it.
func (s *Service) auditWith(ctx context.Context, e auditEntry, writes ...write) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	q, args := s.auditStatement(ctx, e, writes)
	if err := db.Exec(q, args...).Error; err != nil {
		return fmt.Errorf("%s: %w", e.Action, err)
	}
	return nil
}

// auditLast is auditWith for the last statement of a desk operation: it
// goes to the database with the COMMIT, one round trip fewer
// (tenants.WriteLast). mapErr turns its failure into the operation's error.
func (s *Service) auditLast(ctx context.Context, e auditEntry, mapErr func(error) error, writes ...write) error {
	q, args := s.auditStatement(ctx, e, writes)
	return tenants.WriteLast(ctx, q, args, func(err error) error {
		if mapErr != nil {
			if m := mapErr(err); m != nil {
				return m
			}
		}
		return fmt.Errorf("%s: %w", e.Action, err)
	})
}

// auditStatement is the statement of auditWith.
func (s *Service) auditStatement(ctx context.Context, e auditEntry, writes []write) (string, []any) {
	q, aargs := s.auditSQL(ctx, e)
	if len(writes) == 0 {
		return q, aargs
	}
	var b strings.Builder
	var args []any
	for i, w := range writes {
		if i == 0 {
			b.WriteString("WITH ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "w%d AS (%s)", i, w.sql)
		args = append(args, w.args...)
	}
	return b.String() + " " + q, append(args, aargs...)
}

// itemState is catalog's item status update as a write.
func itemState(id uuid.UUID, status string, branchID *uuid.UUID) write {
	q, args := catalog.ItemStateSQL(id, status, branchID)
	return write{q, args}
}

func ptr[T any](v T) *T { return &v }
