package patrons

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// PatronInput is the body of POST /patrons and PATCH /patrons/{id}. On
// PATCH absent fields stay; "birth_date": "" and "guarantor_id": null
// clear, "pin": "" removes the PIN.
type PatronInput struct {
	CardNumber     *string          `json:"card_number"`
	FirstName      *string          `json:"first_name"`
	LastName       *string          `json:"last_name"`
	Email          *string          `json:"email"`
	Phone          *string          `json:"phone"`
	Address        *tenants.Address `json:"address"`
	Category       *string          `json:"category"`
	HomeBranchID   *uuid.UUID       `json:"home_branch_id"`
	BirthDate      *string          `json:"birth_date"`
	ExpiresOn      *string          `json:"expires_on"`
	Status         *string          `json:"status"`
	Notes          *string          `json:"notes"`
	NoticeChannel  *string          `json:"notice_channel"`
	HistoryPrivacy *string          `json:"history_privacy"`
	HistoryDays    Opt[int]         `json:"history_days"`
	GuarantorID    Opt[uuid.UUID]   `json:"guarantor_id"`
	Pin            *string          `json:"pin"`
}

// PatronView is a patron with what decides whether they may borrow now.
type PatronView struct {
	*Patron
	Blocks   []Block      `json:"blocks"`
	Standing StandingView `json:"standing"`
}

// StandingView is AccountStanding as the API shows it.
type StandingView struct {
	Loans          int   `json:"loans"`
	Overdue        int   `json:"overdue"`
	Lost           int   `json:"lost"`
	ClaimsReturned int   `json:"claims_returned"`
	Holds          int   `json:"holds"`
	Balance        Money `json:"balance"`
}

// apply validates the input's present fields that need no database and
// copies them onto p.
func (in *PatronInput) apply(s *Service, p *Patron) error {
	if in.CardNumber != nil {
		card := strings.TrimSpace(*in.CardNumber)
		if !cardRe.MatchString(card) {
			return errs.Field("card_number", "invalid_card_number", "card_number must be 1-64 letters, digits, '.', '_' or '-'")
		}
		p.CardNumber = card
	}
	var err error
	if in.FirstName != nil {
		if p.FirstName, err = text("first_name", *in.FirstName, false, 200); err != nil {
			return err
		}
	}
	if in.LastName != nil {
		if p.LastName, err = text("last_name", *in.LastName, true, 200); err != nil {
			return err
		}
	}
	p.NameKey = NameKey(p.FirstName, p.LastName)
	if in.Email != nil {
		email, err := normalizeEmail("email", *in.Email)
		if err != nil {
			return err
		}
		if email != p.Email {
			p.EmailVerifiedAt = nil // a new address is not verified
		}
		p.Email = email
	}
	if in.Phone != nil {
		if p.Phone, err = text("phone", *in.Phone, false, 40); err != nil {
			return err
		}
	}
	if in.Address != nil {
		p.Address = *in.Address
	}
	if in.Category != nil {
		p.Category = strings.ToLower(strings.TrimSpace(*in.Category))
	}
	if in.HomeBranchID != nil {
		p.HomeBranchID = *in.HomeBranchID
	}
	if in.BirthDate != nil {
		if *in.BirthDate == "" {
			p.BirthDate = nil
		} else {
			d, err := parseDate("birth_date", *in.BirthDate)
			if err != nil {
				return err
			}
			if d.Year() < 1880 || d.After(s.now()) {
				return errs.Field("birth_date", "invalid_date", "birth_date must be a past date")
			}
			v := d.Format(time.DateOnly)
			p.BirthDate = &v
		}
	}
	if in.ExpiresOn != nil {
		d, err := parseDate("expires_on", *in.ExpiresOn)
		if err != nil {
			return err
		}
		p.ExpiresOn = d.Format(time.DateOnly)
	}
	if in.Status != nil {
		if !slices.Contains(SettableStatuses, *in.Status) {
			return errs.Field("status", "invalid_status", "status must be one of "+strings.Join(SettableStatuses, ", ")+
				" (records are never deleted: set inactive instead; merged is set by merging)")
		}
		p.Status = *in.Status
	}
	if in.Notes != nil {
		if p.Notes, err = text("notes", *in.Notes, false, 5000); err != nil {
			return err
		}
	}
	if in.NoticeChannel != nil {
		if !slices.Contains(NoticeChannels, *in.NoticeChannel) {
			return errs.Field("notice_channel", "invalid_notice_channel", "notice_channel must be one of "+strings.Join(NoticeChannels, ", "))
		}
		p.NoticeChannel = *in.NoticeChannel
	}
	if in.HistoryPrivacy != nil {
		if !slices.Contains(HistoryPrivacies, *in.HistoryPrivacy) {
			return errs.Field("history_privacy", "invalid_history_privacy", "history_privacy must be one of "+strings.Join(HistoryPrivacies, ", "))
		}
		p.HistoryPrivacy = *in.HistoryPrivacy
	}
	if in.HistoryDays.Set {
		p.HistoryDays = in.HistoryDays.Ptr()
		if p.HistoryDays != nil && (*p.HistoryDays < 1 || *p.HistoryDays > 36500) {
			return errs.Field("history_days", "invalid_history_days", "history_days must be a number of days from 1 to 36500")
		}
	}
	switch {
	case p.HistoryPrivacy == "keep_n_days" && p.HistoryDays == nil:
		return errs.Field("history_days", "required", `history_privacy "keep_n_days" needs history_days`)
	case p.HistoryPrivacy != "keep_n_days" && p.HistoryDays != nil:
		if in.HistoryDays.Set {
			return errs.Field("history_days", "invalid_history_days", `history_days goes with history_privacy "keep_n_days" only`)
		}
		p.HistoryDays = nil // the privacy changed away from keep_n_days
	}
	if in.GuarantorID.Set {
		p.GuarantorID = in.GuarantorID.Ptr()
	}
	if in.Pin != nil {
		if *in.Pin == "" {
			p.PinHash = nil
		} else {
			if err := checkPin("pin", *in.Pin); err != nil {
				return err
			}
			h, err := s.tenants.HashSecret(*in.Pin)
			if err != nil {
				return err
			}
			p.PinHash = &h
		}
	}
	return nil
}

// homeBranch loads a patron's home branch and checks the caller may manage
// patrons there (a role granted at the branch or above it).
func (s *Service) homeBranch(ctx context.Context, id uuid.UUID, check bool) (*tenants.Branch, error) {
	if id == uuid.Nil {
		return nil, errs.Field("home_branch_id", "required", "home_branch_id is required")
	}
	b, err := s.tenants.GetBranch(ctx, id)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("home_branch_id", "invalid_branch", "home_branch_id names no branch of this library")
		}
		return nil, err
	}
	if check {
		if err := canManage(ctx, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// canManage checks the caller holds patrons.write at b or above it.
func canManage(ctx context.Context, b *tenants.Branch) error {
	if p := tenants.PrincipalFrom(ctx); p == nil || !p.CanAt(tenants.PermPatronsWrite, b.Path) {
		return errs.E(errs.Forbidden, "forbidden_branch", "you may not manage patrons of "+b.Name).
			WithDetails(map[string]any{"branch_id": b.ID})
	}
	return nil
}

// today is the current date in the branch's effective time zone.
func (s *Service) today(b *tenants.Branch) time.Time {
	loc := branchLocation(b)
	y, m, d := s.now().In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func branchLocation(b *tenants.Branch) *time.Location {
	if b != nil {
		return tz.OrUTC(b.EffectiveTimezone)
	}
	return time.UTC
}

// checkCategory loads the patron's category and checks the age against it.
func (s *Service) checkCategory(ctx context.Context, p *Patron, today time.Time) (*Category, error) {
	if p.Category == "" {
		return nil, errs.Field("category", "required", "category is required (a patron category code such as adult)")
	}
	cat, err := s.GetCategory(ctx, p.Category)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("category", "unknown_category", fmt.Sprintf("there is no patron category %q; see GET /api/v1/patron-categories", p.Category))
		}
		return nil, err
	}
	if p.BirthDate != nil && (cat.MinAge != nil || cat.MaxAge != nil) {
		birth, err := time.Parse(time.DateOnly, *p.BirthDate)
		if err != nil {
			return nil, errs.Field("birth_date", "invalid_date", "birth_date must be a date YYYY-MM-DD")
		}
		age := ageOn(birth, today)
		if (cat.MinAge != nil && age < *cat.MinAge) || (cat.MaxAge != nil && age > *cat.MaxAge) {
			return nil, errs.Field("birth_date", "age_outside_category", fmt.Sprintf(
				"a patron aged %d cannot be in category %s (ages %s); choose another category", age, cat.Code, ageRange(cat))).
				WithDetails(map[string]any{"field": "birth_date", "age": age, "category": cat.Code, "min_age": cat.MinAge, "max_age": cat.MaxAge})
		}
	}
	return cat, nil
}

func ageRange(c *Category) string {
	switch {
	case c.MinAge != nil && c.MaxAge != nil:
		return fmt.Sprintf("%d to %d", *c.MinAge, *c.MaxAge)
	case c.MinAge != nil:
		return fmt.Sprintf("%d and over", *c.MinAge)
	case c.MaxAge != nil:
		return fmt.Sprintf("up to %d", *c.MaxAge)
	}
	return "any"
}

// defaultExpiry is today plus the category's enrolment period (12 months
// when it has none).
func defaultExpiry(today time.Time, cat *Category) string {
	months := 12
	if cat != nil && cat.EnrolmentMonths != nil {
		months = *cat.EnrolmentMonths
	}
	return addMonths(today, months).Format(time.DateOnly)
}

// checkGuarantor checks the guarantor is another, unmerged patron.
func (s *Service) checkGuarantor(ctx context.Context, p *Patron) error {
	if p.GuarantorID == nil {
		return nil
	}
	if *p.GuarantorID == p.ID {
		return errs.Field("guarantor_id", "invalid_guarantor", "a patron cannot be their own guarantor")
	}
	g, err := s.Get(ctx, *p.GuarantorID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return errs.Field("guarantor_id", "invalid_guarantor", "guarantor_id names no patron of this library")
		}
		return err
	}
	if g.Status == StatusMerged {
		return errs.Field("guarantor_id", "invalid_guarantor", "the guarantor's record was merged into another; use that one")
	}
	return nil
}

func patronConflict(err error) error {
	code, constraint := tenants.PgCode(err)
	switch {
	case code == tenants.PgUniqueViolation && strings.Contains(constraint, "card_number"):
		return errs.E(errs.Conflict, "card_number_taken", "another patron already has this card number").
			WithDetails(map[string]any{"field": "card_number"})
	}
	return err
}

// Create adds a patron. The caller needs patrons.write at the home branch.
func (s *Service) Create(ctx context.Context, in PatronInput) (*Patron, error) {
	tenant, err := tenants.CurrentTenant(ctx)
	if err != nil {
		return nil, err
	}
	if in.CardNumber == nil {
		return nil, errs.Field("card_number", "required", "card_number is required")
	}
	if in.LastName == nil {
		return nil, errs.Field("last_name", "required", "last_name is required")
	}
	p := Patron{TenantID: tenant, ID: tenants.NewID(), Status: StatusActive, NoticeChannel: "email", HistoryPrivacy: "keep"}
	if err := in.apply(s, &p); err != nil {
		return nil, err
	}
	if err := s.tenants.CheckLimit(ctx, tenants.ResourcePatrons, 1); err != nil {
		return nil, err
	}
	if err := s.insert(ctx, &p, true); err != nil {
		return nil, err
	}
	if s.notifier != nil && p.Email != "" {
		if err := s.notifier.QueueWelcome(ctx, &p); err != nil {
			return nil, err
		}
	}
	return s.Get(ctx, p.ID)
}

// insert checks what needs the database (branch, category, age, guarantor,
// card number), fills the default expiry and inserts p.
func (s *Service) insert(ctx context.Context, p *Patron, checkPerm bool) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	b, err := s.homeBranch(ctx, p.HomeBranchID, checkPerm)
	if err != nil {
		return err
	}
	today := s.today(b)
	cat, err := s.checkCategory(ctx, p, today)
	if err != nil {
		return err
	}
	if p.ExpiresOn == "" {
		p.ExpiresOn = defaultExpiry(today, cat)
	}
	if err := s.checkGuarantor(ctx, p); err != nil {
		return err
	}
	if err := db.Create(p).Error; err != nil {
		if e := patronConflict(err); e != err {
			return e
		}
		return fmt.Errorf("insert patron: %w", err)
	}
	return nil
}

// View is a patron with its blocks and standing: the home branch's time
// zone decides what "today" is.
func (s *Service) View(ctx context.Context, id uuid.UUID) (*PatronView, error) {
	p, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, p)
}

func (s *Service) view(ctx context.Context, p *Patron) (*PatronView, error) {
	b, err := s.tenants.GetBranch(ctx, p.HomeBranchID)
	if err != nil {
		return nil, err
	}
	cat, err := s.GetCategory(ctx, p.Category)
	if err != nil {
		return nil, err
	}
	var st AccountStanding
	if s.standing != nil {
		if st, err = s.standing.Standing(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	if st.Currency == "" {
		if st.Currency, err = TenantCurrency(ctx); err != nil {
			return nil, err
		}
	}
	blocks, err := s.Blocks(ctx, p, cat, st, s.now(), branchLocation(b))
	if err != nil {
		return nil, err
	}
	if blocks == nil {
		blocks = []Block{}
	}
	return &PatronView{Patron: p, Blocks: blocks, Standing: StandingView{Loans: st.Loans, Overdue: st.Overdue,
		Lost: st.Lost, ClaimsReturned: st.ClaimsReturned, Holds: st.Holds,
		Balance: Money{Amount: st.Balance, Currency: st.Currency}}}, nil
}

// Filter narrows List.
type Filter struct {
	Q            string // card number (exact), email (exact) or name prefix
	Category     string
	HomeBranchID *uuid.UUID
	Status       string
	After        uuid.UUID
	Limit        int
}

// List finds patrons in id order (Limit+1 rows at most). Q matches a card
// number exactly, an email address exactly (case-insensitive) or a name by
// prefix: every condition is a leakproof comparison, so under RLS the
// card-number, email and (tenant_id, name_key) indexes still serve it.
func (s *Service) List(ctx context.Context, f Filter) ([]Patron, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Model(&Patron{})
	if f.After != uuid.Nil {
		// Only on later pages: "id > zero" on the first would tempt the
		// planner into the primary key when statistics are thin.
		q = q.Where("id > ?", f.After)
	}
	if v := strings.TrimSpace(f.Q); v != "" {
		var conds []string
		var args []any
		if cardRe.MatchString(v) {
			conds, args = append(conds, "card_number = ?"), append(args, v)
		}
		if strings.Contains(v, "@") {
			conds, args = append(conds, "email = ?"), append(args, strings.ToLower(v))
		} else {
			for _, r := range nameRanges(v) {
				conds, args = append(conds, "(name_key >= ? AND name_key < ?)"), append(args, r.From, r.To)
			}
		}
		if len(conds) == 0 {
			return []Patron{}, nil
		}
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	if f.Category != "" {
		q = q.Where("category = ?", f.Category)
	}
	if f.HomeBranchID != nil {
		q = q.Where("home_branch_id = ?", *f.HomeBranchID)
	}
	if f.Status != "" {
		if !slices.Contains(append(SettableStatuses, StatusMerged), f.Status) {
			return nil, errs.E(errs.BadRequest, "bad_query", "status must be one of active, pending, inactive, merged").
				WithDetails(map[string]any{"field": "status"})
		}
		q = q.Where("status = ?", f.Status)
	}
	var out []Patron
	if err := q.Order("id").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list patrons: %w", err)
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// Update changes a patron. The caller needs patrons.write at the current
// home branch, and at the new one when it moves.
func (s *Service) Update(ctx context.Context, id uuid.UUID, in PatronInput) (*Patron, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.Lock(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status == StatusMerged {
		return nil, mergedError(p)
	}
	b, err := s.homeBranch(ctx, p.HomeBranchID, true)
	if err != nil {
		return nil, err
	}
	if err := in.apply(s, p); err != nil {
		return nil, err
	}
	if in.HomeBranchID != nil && *in.HomeBranchID != b.ID {
		if b, err = s.homeBranch(ctx, p.HomeBranchID, true); err != nil {
			return nil, err
		}
	}
	if in.Category != nil || in.BirthDate != nil {
		if _, err := s.checkCategory(ctx, p, s.today(b)); err != nil {
			return nil, err
		}
	}
	if in.GuarantorID.Set {
		if err := s.checkGuarantor(ctx, p); err != nil {
			return nil, err
		}
	}
	err = db.Model(&Patron{}).Where("id = ?", id).Updates(map[string]any{
		"card_number": p.CardNumber, "first_name": p.FirstName, "last_name": p.LastName, "name_key": p.NameKey,
		"email": p.Email, "email_verified_at": p.EmailVerifiedAt, "phone": p.Phone, "address": p.Address,
		"home_branch_id": p.HomeBranchID, "category": p.Category, "birth_date": p.BirthDate,
		"expires_on": p.ExpiresOn, "status": p.Status, "notes": p.Notes, "notice_channel": p.NoticeChannel,
		"history_privacy": p.HistoryPrivacy, "history_days": p.HistoryDays, "guarantor_id": p.GuarantorID,
		"pin_hash": p.PinHash, "updated_at": gorm.Expr("now()")}).Error
	if err != nil {
		if e := patronConflict(err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("update patron %s: %w", id, err)
	}
	return s.Get(ctx, id)
}

func mergedError(p *Patron) error {
	d := map[string]any{"patron_id": p.ID}
	if p.MergedInto != nil {
		d["merged_into"] = *p.MergedInto
	}
	return errs.E(errs.Conflict, "patron_merged", "this patron record was merged into another; use that one").WithDetails(d)
}

// Approve activates a pending (self-registered) patron.
func (s *Service) Approve(ctx context.Context, id uuid.UUID) (*Patron, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.Lock(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.homeBranch(ctx, p.HomeBranchID, true); err != nil {
		return nil, err
	}
	if p.Status != StatusPending {
		return nil, errs.E(errs.Conflict, "not_pending", "only a pending registration can be approved; this patron is "+p.Status)
	}
	if err := db.Exec(`UPDATE patrons SET status = 'active', updated_at = now() WHERE id = ?`, id).Error; err != nil {
		return nil, fmt.Errorf("approve patron: %w", err)
	}
	return s.Get(ctx, id)
}
