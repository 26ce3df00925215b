package serials

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/api/serials/pattern"
	"github.com/stacks-ils/stacks/tenants"
)

// FirstIssueInput anchors the prediction: when the first issue of the
// subscription is expected and its enumeration (one number per level).
type FirstIssueInput struct {
	ExpectedOn  string `json:"expected_on"`
	Enumeration []int  `json:"enumeration"`
}

// SubscriptionInput is the body of POST /subscriptions and PATCH
// /subscriptions/{id} (absent fields stay; pattern and first issue change
// through POST /subscriptions/{id}/regenerate).
type SubscriptionInput struct {
	BibID         *uuid.UUID             `json:"bib_id"`
	VendorID      patrons.Opt[uuid.UUID] `json:"vendor_id"`
	FundID        patrons.Opt[uuid.UUID] `json:"fund_id"`
	POLineID      patrons.Opt[uuid.UUID] `json:"po_line_id"`
	BranchID      *uuid.UUID             `json:"branch_id"`
	Location      *string                `json:"location"`
	StartsOn      *string                `json:"starts_on"`
	EndsOn        *string                `json:"ends_on"`
	RenewalOn     patrons.Opt[string]    `json:"renewal_on"`
	Copies        *int                   `json:"copies"`
	PatternID     *string                `json:"pattern_id"`
	Pattern       *pattern.Pattern       `json:"pattern"`
	FirstIssue    *FirstIssueInput       `json:"first_issue"`
	GraceDays     *int                   `json:"grace_days"`
	RoutingListID patrons.Opt[uuid.UUID] `json:"routing_list_id"`
	CreateItems   *bool                  `json:"create_items"`
	ItemType      *string                `json:"item_type"`
	AnnualCost    patrons.Opt[Money]     `json:"annual_cost"`
	AccountNumber *string                `json:"account_number"`
	Notes         *string                `json:"notes"`
	Status        *string                `json:"status"`
}

// DefaultGraceDays is how long an issue may be overdue before it is late,
// by frequency, when a subscription does not say.
var DefaultGraceDays = map[pattern.Frequency]int{
	pattern.Daily: 7, pattern.Weekly: 14, pattern.Biweekly: 21, pattern.Monthly: 30, pattern.Bimonthly: 45,
	pattern.Quarterly: 60, pattern.Semiannual: 90, pattern.Annual: 120, pattern.Irregular: 30,
}

var (
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	itemTypeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

func parseDay(field, v string) (time.Time, error) {
	d, err := pattern.ParseDate(strings.TrimSpace(v))
	if err != nil {
		return d, errs.Field(field, "invalid_date", field+" must be a date YYYY-MM-DD")
	}
	return d, nil
}

// Create adds a subscription and predicts its issues through ends_on.
func (s *Service) Create(ctx context.Context, in SubscriptionInput) (*Subscription, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	now := s.now()
	// created_at follows the service clock: the claim run compares it with
	// issue dates (no claims for issues overdue before the subscription existed).
	sub := &Subscription{TenantID: tenant, ID: tenants.NewID(), Copies: 1, Status: SubActive, ItemType: "magazine", CreatedAt: now, UpdatedAt: now}
	if in.BibID == nil {
		return nil, errs.Field("bib_id", "required", "bib_id is required: the serial's bibliographic record")
	}
	if err := s.checkBib(ctx, *in.BibID); err != nil {
		return nil, err
	}
	sub.BibID = *in.BibID
	for _, req := range []struct {
		field string
		ok    bool
	}{{"branch_id", in.BranchID != nil}, {"starts_on", in.StartsOn != nil}, {"ends_on", in.EndsOn != nil}} {
		if !req.ok {
			return nil, errs.Field(req.field, "required", req.field+" is required")
		}
	}
	if in.FirstIssue == nil {
		return nil, errs.Field("first_issue", "required", "first_issue is required: when the first issue is expected and its enumeration")
	}
	if in.Status != nil {
		return nil, errs.Field("status", "read_only", "a new subscription is active; cancel it with PATCH status canceled")
	}
	p, source, err := s.resolvePattern(ctx, in.PatternID, in.Pattern)
	if err != nil {
		return nil, err
	}
	sub.Pattern, sub.PatternSource = PatternJSON(p), source
	first, err := parseDay("first_issue.expected_on", in.FirstIssue.ExpectedOn)
	if err != nil {
		return nil, err
	}
	if err := patternErr(p.ValidateFirst(pattern.First{ExpectedOn: first, Enumeration: in.FirstIssue.Enumeration}), "pattern."); err != nil {
		return nil, err
	}
	sub.FirstExpectedOn, sub.FirstEnumeration = first.Format(time.DateOnly), Ints(in.FirstIssue.Enumeration)
	if sub.FirstEnumeration == nil {
		sub.FirstEnumeration = Ints{}
	}
	sub.GraceDays = DefaultGraceDays[p.Frequency]
	if err := s.apply(ctx, &in, sub); err != nil {
		return nil, err
	}
	if err := s.order(ctx, sub, sub.StartsOn+"/"+sub.EndsOn); err != nil {
		return nil, err
	}
	if err := db.Omit("Title", "Holdings", "AnnualCost", "FirstIssue").Create(sub).Error; err != nil {
		return nil, s.writeErr(err)
	}
	if err := s.recordOrder(ctx, sub); err != nil {
		return nil, err
	}
	today, err := s.today(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.extend(ctx, sub, predictHorizon(sub, today, PredictMonths)); err != nil {
		return nil, err
	}
	return s.Get(ctx, sub.ID)
}

// apply validates and copies the input's shared fields (create and update).
func (s *Service) apply(ctx context.Context, in *SubscriptionInput, sub *Subscription) error {
	if in.BranchID != nil {
		if err := s.checkBranch(ctx, *in.BranchID); err != nil {
			return err
		}
		sub.BranchID = *in.BranchID
	}
	if in.VendorID.Set {
		sub.VendorID = in.VendorID.Ptr()
	}
	if in.FundID.Set {
		sub.FundID = in.FundID.Ptr()
	}
	if in.POLineID.Set {
		sub.POLineID = in.POLineID.Ptr()
	}
	if err := s.checkAcquisitions(ctx, sub); err != nil {
		return err
	}
	if in.Location != nil {
		sub.Location = strings.TrimSpace(*in.Location)
	}
	for _, d := range []struct {
		field string
		v     *string
		dst   *string
	}{{"starts_on", in.StartsOn, &sub.StartsOn}, {"ends_on", in.EndsOn, &sub.EndsOn}} {
		if d.v != nil {
			t, err := parseDay(d.field, *d.v)
			if err != nil {
				return err
			}
			*d.dst = t.Format(time.DateOnly)
		}
	}
	if sub.EndsOn < sub.StartsOn {
		return errs.Field("ends_on", "invalid_period", "ends_on must not be before starts_on")
	}
	if in.RenewalOn.Set {
		sub.RenewalOn = nil
		if v := in.RenewalOn.Ptr(); v != nil {
			t, err := parseDay("renewal_on", *v)
			if err != nil {
				return err
			}
			d := t.Format(time.DateOnly)
			sub.RenewalOn = &d
		}
	}
	if in.Copies != nil {
		if *in.Copies < 1 || *in.Copies > 100 {
			return errs.Field("copies", "invalid_copies", "copies must be 1 to 100")
		}
		sub.Copies = *in.Copies
	}
	if in.GraceDays != nil {
		if *in.GraceDays < 0 || *in.GraceDays > 365 {
			return errs.Field("grace_days", "invalid_grace_days", "grace_days must be 0 to 365")
		}
		sub.GraceDays = *in.GraceDays
	}
	if in.RoutingListID.Set {
		sub.RoutingListID = in.RoutingListID.Ptr()
		if sub.RoutingListID != nil {
			if _, err := tenants.Find[routingListRow](ctx, "", "id = ?", *sub.RoutingListID); err != nil {
				if errs.KindOf(err) == errs.NotFound {
					return errs.Field("routing_list_id", "invalid_routing_list", "routing_list_id names no routing list of this library")
				}
				return err
			}
		}
	}
	if in.CreateItems != nil {
		sub.CreateItems = *in.CreateItems
	}
	if in.ItemType != nil {
		if !itemTypeRe.MatchString(*in.ItemType) {
			return errs.Field("item_type", "invalid_item_type", "item_type must be an item type code such as magazine")
		}
		sub.ItemType = *in.ItemType
	}
	if in.AnnualCost.Set {
		sub.AnnualCostAmount, sub.Currency = nil, nil
		if m := in.AnnualCost.Ptr(); m != nil {
			if m.Amount < 0 || !currencyRe.MatchString(m.Currency) {
				return errs.Field("annual_cost", "invalid_money", "annual_cost is {\"amount\": minor units >= 0, \"currency\": \"USD\"}")
			}
			a, c := m.Amount, m.Currency
			sub.AnnualCostAmount, sub.Currency = &a, &c
		}
	}
	if in.AccountNumber != nil {
		sub.AccountNumber = strings.TrimSpace(*in.AccountNumber)
	}
	if in.Notes != nil {
		sub.Notes = *in.Notes
	}
	return nil
}

func (s *Service) checkBib(ctx context.Context, id uuid.UUID) error {
	bib, err := s.catalog.GetBib(ctx, id, false)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return errs.Field("bib_id", "invalid_bib", "bib_id names no bibliographic record of this library")
		}
		return err
	}
	if bib.Format != catalog.FormatSerial {
		return errs.Field("bib_id", "not_a_serial", "the record is a "+bib.Format+", not a serial (leader/07 s): subscribe to the serial's record")
	}
	return nil
}

// checkBranch: the destination exists and the caller handles serials there.
func (s *Service) checkBranch(ctx context.Context, id uuid.UUID) error {
	b, err := s.tenants.GetBranch(ctx, id)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return errs.Field("branch_id", "invalid_branch", "branch_id names no org unit of this library")
		}
		return err
	}
	if p := tenants.PrincipalFrom(ctx); p == nil || !p.CanAt(tenants.PermSerialsWrite, b.Path) {
		return errs.E(errs.Forbidden, "forbidden", "you may not manage serials at "+b.Name)
	}
	return nil
}

func (s *Service) writeErr(err error) error {
	code, constraint := tenants.PgCode(err)
	if code == tenants.PgForeignKeyViolation {
		field := "id"
		for _, f := range []string{"vendor", "fund", "po_line", "routing_list", "branch", "bib"} {
			if strings.Contains(constraint, f) {
				field = f + "_id"
				break
			}
		}
		return errs.Field(field, "invalid_"+strings.TrimSuffix(field, "_id"), field+" names nothing of this library")
	}
	return fmt.Errorf("write subscription: %w", err)
}

const subSelect = `SELECT s.*, b.title FROM subscriptions s JOIN bibs b ON b.tenant_id = s.tenant_id AND b.id = s.bib_id`

// Get returns a subscription with its title and holdings summary.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Subscription, error) {
	sub, err := s.load(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if sub.Holdings, err = s.holdings(ctx, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// load reads one subscription, locked for update when lock.
func (s *Service) load(ctx context.Context, id uuid.UUID, lock bool) (*Subscription, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := subSelect + ` WHERE s.id = ?`
	if lock {
		q += ` FOR NO KEY UPDATE OF s`
	}
	var rows []Subscription
	if err := db.Raw(q, id).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load subscription: %w", err)
	}
	if len(rows) == 0 {
		return nil, errs.NotFoundf("no such subscription")
	}
	return rows[0].fill(), nil
}

// SubscriptionFilter narrows List.
type SubscriptionFilter struct {
	BibID    *uuid.UUID
	VendorID *uuid.UUID
	Status   string
	After    uuid.UUID
	Limit    int
}

// List returns subscriptions in creation order (keyset over the id).
func (s *Service) List(ctx context.Context, f SubscriptionFilter) ([]Subscription, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q, args := subSelect+` WHERE s.id > ?`, []any{f.After}
	if f.BibID != nil {
		q, args = q+` AND s.bib_id = ?`, append(args, *f.BibID)
	}
	if f.VendorID != nil {
		q, args = q+` AND s.vendor_id = ?`, append(args, *f.VendorID)
	}
	if f.Status != "" {
		q, args = q+` AND s.status = ?`, append(args, f.Status)
	}
	var rows []Subscription
	if err := db.Raw(q+` ORDER BY s.id LIMIT ?`, append(args, f.Limit+1)...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	for i := range rows {
		rows[i].fill()
	}
	return rows, nil
}

// Update changes a subscription's terms. Status may only become canceled
// (or active again from canceled); the nightly run sets expiring/expired.
func (s *Service) Update(ctx context.Context, id uuid.UUID, in SubscriptionInput) (*Subscription, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := s.load(ctx, id, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkBranch(ctx, sub.BranchID); err != nil {
		return nil, err
	}
	if in.BibID != nil || in.PatternID != nil || in.Pattern != nil || in.FirstIssue != nil {
		return nil, errs.Field("pattern", "not_patchable", "bib_id cannot change; change the pattern or first issue with POST /subscriptions/{id}/regenerate")
	}
	if in.Status != nil {
		switch *in.Status {
		case SubCanceled:
			sub.Status = SubCanceled
		case SubActive:
			if sub.Status == SubCanceled {
				sub.Status = SubActive
			}
		default:
			return nil, errs.Field("status", "invalid_status", "status can be set to canceled (or active to undo a cancelation)")
		}
	}
	if err := s.apply(ctx, &in, sub); err != nil {
		return nil, err
	}
	if err := db.Omit("Title", "Holdings", "AnnualCost", "FirstIssue", "CreatedAt").Save(sub).Error; err != nil {
		return nil, s.writeErr(err)
	}
	if err := s.recordOrder(ctx, sub); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// holdings summarises the received issues (regular ones; supplements are
// listed, not counted).
func (s *Service) holdings(ctx context.Context, sub *Subscription) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	var issues []Issue
	if err := db.Where("subscription_id = ? AND kind = 'regular'", sub.ID).Order("expected_on, seq").Find(&issues).Error; err != nil {
		return "", fmt.Errorf("load issues for holdings: %w", err)
	}
	hs := make([]pattern.Holding, 0, len(issues))
	levels := len(sub.Pattern.Levels)
	for i := range issues {
		if len(issues[i].Enumeration) != levels {
			continue // an issue predicted under another pattern's levels
		}
		hs = append(hs, issues[i].holding())
	}
	p := pattern.Pattern(sub.Pattern)
	return pattern.Summarize(&p, hs), nil
}
