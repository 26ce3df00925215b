package serials

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/serials/pattern"
	"github.com/stacks-ils/stacks/tenants"
)

// PredictMonths is how far ahead a subscription's issues are predicted
// (capped at its end date); POST /subscriptions/{id}/predict goes further.
const PredictMonths = 12

// predictHorizon is the date issues are predicted through: months ahead of
// today (or of the start, for a subscription starting later), never past
// the subscription's end.
func predictHorizon(sub *Subscription, today time.Time, months int) string {
	from := today
	if st, err := pattern.ParseDate(sub.StartsOn); err == nil && st.After(today) {
		from = st
	}
	h := from.AddDate(0, months, 0).Format(time.DateOnly)
	if h > sub.EndsOn {
		h = sub.EndsOn
	}
	return h
}

func issueRow(tenant, subID uuid.UUID, iss pattern.Issue) Issue {
	seq := iss.Seq
	row := Issue{TenantID: tenant, ID: tenants.NewID(), SubscriptionID: subID, Seq: &seq, Kind: "regular", Label: iss.Label,
		Enumeration: Ints(slices.Clone(iss.Enumeration)), Chronology: ChronJSON(iss.Chronology),
		ExpectedOn: iss.ExpectedOn.Format(time.DateOnly), Status: IssueExpected}
	if row.Enumeration == nil {
		row.Enumeration = Ints{}
	}
	if iss.EnumerationEnd != nil {
		row.EnumerationEnd = Ints(slices.Clone(iss.EnumerationEnd))
	}
	if iss.ChronologyEnd != nil {
		c := ChronJSON(*iss.ChronologyEnd)
		row.ChronologyEnd = &c
	}
	return row
}

// extend stores the predicted issues after the subscription's
// predicted_until through until, and moves predicted_until. Prediction is
// deterministic, so extending twice adds nothing twice.
func (s *Service) extend(ctx context.Context, sub *Subscription, until string) (int, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	if sub.PredictedUntil != nil && *sub.PredictedUntil >= until {
		return 0, nil
	}
	end, err := pattern.ParseDate(until)
	if err != nil {
		return 0, err
	}
	p := pattern.Pattern(sub.Pattern)
	issues, err := pattern.Predict(&p, sub.first(), end)
	if err != nil {
		return 0, patternErr(err, "pattern.")
	}
	var rows []Issue
	for _, iss := range issues {
		d := iss.ExpectedOn.Format(time.DateOnly)
		if sub.PredictedUntil == nil || d > *sub.PredictedUntil {
			rows = append(rows, issueRow(sub.TenantID, sub.ID, iss))
		}
	}
	if len(rows) > 0 {
		if err := db.Omit("Details").CreateInBatches(rows, 500).Error; err != nil {
			return 0, fmt.Errorf("insert predicted issues: %w", err)
		}
	}
	if err := db.Exec(`UPDATE subscriptions SET predicted_until = CAST(@until AS date), updated_at = now() WHERE id = @id`,
		map[string]any{"until": until, "id": sub.ID}).Error; err != nil {
		return 0, fmt.Errorf("move predicted_until: %w", err)
	}
	sub.PredictedUntil = &until
	return len(rows), nil
}

// PredictInput is the body of POST /subscriptions/{id}/predict.
type PredictInput struct {
	Months int `json:"months"`
}

// PredictResult says what a prediction added.
type PredictResult struct {
	Added          int    `json:"added"`
	PredictedUntil string `json:"predicted_until"`
}

// Predict stores the expected issues of the next months (capped at the
// subscription's end date).
func (s *Service) Predict(ctx context.Context, id uuid.UUID, in PredictInput) (*PredictResult, error) {
	if in.Months == 0 {
		in.Months = PredictMonths
	}
	if in.Months < 1 || in.Months > 120 {
		return nil, errs.Field("months", "invalid_months", "months must be 1 to 120")
	}
	sub, err := s.load(ctx, id, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkBranch(ctx, sub.BranchID); err != nil {
		return nil, err
	}
	today, err := s.today(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.extend(ctx, sub, predictHorizon(sub, today, in.Months))
	if err != nil {
		return nil, err
	}
	res := &PredictResult{Added: n}
	if sub.PredictedUntil != nil {
		res.PredictedUntil = *sub.PredictedUntil
	}
	return res, nil
}

// RegenerateInput is the body of POST /subscriptions/{id}/regenerate: a
// new pattern and/or a new first issue (each kept when absent).
type RegenerateInput struct {
	PatternID  *string          `json:"pattern_id"`
	Pattern    *pattern.Pattern `json:"pattern"`
	FirstIssue *FirstIssueInput `json:"first_issue"`
}

// RegenerateResult says what regeneration did.
type RegenerateResult struct {
	Subscription *Subscription `json:"subscription"`
	Removed      int           `json:"removed"` // expected or late issues replaced
	Kept         int           `json:"kept"`    // received, claimed, missing, damaged, not_published issues untouched
	Added        int           `json:"added"`
}

// Regenerate re-predicts a subscription after a pattern change. Issues
// still expected or late from the first issue's date on are replaced;
// every other issue (received, claimed, missing, damaged, not_published,
// and anything before the anchor) stays as it is, and a predicted issue
// whose label a kept issue already has is not added again.
func (s *Service) Regenerate(ctx context.Context, id uuid.UUID, in RegenerateInput) (*RegenerateResult, error) {
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
	p := pattern.Pattern(sub.Pattern)
	if in.PatternID != nil || in.Pattern != nil {
		if p, sub.PatternSource, err = s.resolvePattern(ctx, in.PatternID, in.Pattern); err != nil {
			return nil, err
		}
	}
	first := sub.first()
	if in.FirstIssue != nil {
		d, err := parseDay("first_issue.expected_on", in.FirstIssue.ExpectedOn)
		if err != nil {
			return nil, err
		}
		first = pattern.First{ExpectedOn: d, Enumeration: in.FirstIssue.Enumeration}
	}
	if err := patternErr(p.ValidateFirst(first), "pattern."); err != nil {
		return nil, err
	}
	anchor := first.ExpectedOn.Format(time.DateOnly)
	del := db.Exec(`DELETE FROM serial_issues WHERE subscription_id = ? AND kind = 'regular' AND status IN ('expected', 'late')
		AND expected_on >= CAST(? AS date)`, sub.ID, anchor)
	if del.Error != nil {
		return nil, fmt.Errorf("remove predicted issues: %w", del.Error)
	}
	var kept []string
	if err := db.Raw(`SELECT label FROM serial_issues WHERE subscription_id = ? AND kind = 'regular'`, sub.ID).Scan(&kept).Error; err != nil {
		return nil, fmt.Errorf("read kept issues: %w", err)
	}
	sub.Pattern, sub.FirstExpectedOn, sub.FirstEnumeration = PatternJSON(p), anchor, Ints(first.Enumeration)
	if sub.FirstEnumeration == nil {
		sub.FirstEnumeration = Ints{}
	}
	until := sub.EndsOn
	if sub.PredictedUntil != nil {
		until = *sub.PredictedUntil
	}
	end, _ := pattern.ParseDate(until)
	issues, err := pattern.Predict(&p, first, end)
	if err != nil {
		return nil, patternErr(err, "pattern.")
	}
	var rows []Issue
	for _, iss := range issues {
		if !slices.Contains(kept, iss.Label) {
			rows = append(rows, issueRow(sub.TenantID, sub.ID, iss))
		}
	}
	if len(rows) > 0 {
		if err := db.Omit("Details").CreateInBatches(rows, 500).Error; err != nil {
			return nil, fmt.Errorf("insert regenerated issues: %w", err)
		}
	}
	if err := db.Exec(`UPDATE subscriptions SET pattern = CAST(@p AS jsonb), pattern_source = @src, first_expected_on = CAST(@first AS date),
		first_enumeration = CAST(@enum AS integer[]), updated_at = now() WHERE id = @id`, map[string]any{
		"p": mustJSON(p), "src": sub.PatternSource, "first": anchor, "enum": sub.FirstEnumeration, "id": sub.ID}).Error; err != nil {
		return nil, fmt.Errorf("save regenerated pattern: %w", err)
	}
	out, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &RegenerateResult{Subscription: out, Removed: int(del.RowsAffected), Kept: len(kept), Added: len(rows)}, nil
}

func mustJSON(p pattern.Pattern) string {
	v, _ := PatternJSON(p).Value()
	return v.(string)
}

// IssueFilter narrows ListIssues.
type IssueFilter struct {
	From, To string // expected_on bounds, inclusive
	Status   string
	Limit    int
	Cursor   string
}

// ListIssues lists a subscription's issues by expected date. The cursor is
// the (expected_on, id) of the page's last issue.
func (s *Service) ListIssues(ctx context.Context, subID uuid.UUID, f IssueFilter) ([]Issue, *string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.load(ctx, subID, false); err != nil {
		return nil, nil, err
	}
	q := db.Where("subscription_id = ?", subID)
	for _, b := range []struct{ field, v, op string }{{"from", f.From, ">="}, {"to", f.To, "<="}} {
		if b.v != "" {
			if _, err := pattern.ParseDate(b.v); err != nil {
				return nil, nil, errs.E(errs.BadRequest, "bad_query", b.field+" must be a date YYYY-MM-DD").WithDetails(map[string]any{"field": b.field})
			}
			q = q.Where("expected_on "+b.op+" CAST(? AS date)", b.v)
		}
	}
	if f.Status != "" {
		if !slices.Contains(IssueStatuses, f.Status) {
			return nil, nil, errs.E(errs.BadRequest, "bad_query", "status is one of "+strings.Join(IssueStatuses, ", ")).WithDetails(map[string]any{"field": "status"})
		}
		q = q.Where("status = ?", f.Status)
	}
	if f.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		parts := strings.SplitN(string(raw), "_", 2)
		var after uuid.UUID
		if err == nil && len(parts) == 2 {
			after, err = uuid.Parse(parts[1])
		}
		if err != nil || len(parts) != 2 {
			return nil, nil, errs.E(errs.BadRequest, "bad_cursor", "cursor is not one this API returned; start again without it").WithDetails(map[string]any{"field": "cursor"})
		}
		q = q.Where("(expected_on, id) > (CAST(? AS date), ?)", parts[0], after)
	}
	var rows []Issue
	if err := q.Order("expected_on, id").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, nil, fmt.Errorf("list issues: %w", err)
	}
	for i := range rows {
		rows[i].fill()
	}
	var next *string
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		c := base64.RawURLEncoding.EncodeToString([]byte(last.ExpectedOn + "_" + last.ID.String()))
		next = &c
	}
	return rows, next, nil
}

// GetIssue returns one issue.
func (s *Service) GetIssue(ctx context.Context, id uuid.UUID) (*Issue, error) {
	iss, err := tenants.Find[Issue](ctx, "no such serial issue", "id = ?", id)
	if err != nil {
		return nil, err
	}
	return iss.fill(), nil
}

// IssueView is an issue with its subscription's title, vendor and branch
// (the cross-subscription list).
type IssueView struct {
	Issue
	Title    string     `json:"title" gorm:"->;-:migration"`
	VendorID *uuid.UUID `json:"vendor_id" gorm:"->;-:migration"`
	BranchID uuid.UUID  `json:"branch_id" gorm:"->;-:migration"`
}

// AllIssuesFilter narrows AllIssues.
type AllIssuesFilter struct {
	Status   string
	VendorID *uuid.UUID
	BranchID *uuid.UUID
	After    uuid.UUID
	Limit    int
}

// AllIssues lists issues across subscriptions (the late and claimed list of
// the serials desk), in id order for the keyset cursor.
func (s *Service) AllIssues(ctx context.Context, f AllIssuesFilter) ([]IssueView, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q, args := `SELECT i.*, b.title, s.vendor_id, s.branch_id FROM serial_issues i
JOIN subscriptions s ON s.tenant_id = i.tenant_id AND s.id = i.subscription_id
JOIN bibs b ON b.tenant_id = s.tenant_id AND b.id = s.bib_id
WHERE i.id > ?`, []any{f.After}
	if f.Status != "" {
		if !slices.Contains(IssueStatuses, f.Status) {
			return nil, errs.E(errs.BadRequest, "bad_query", "status is one of "+strings.Join(IssueStatuses, ", ")).WithDetails(map[string]any{"field": "status"})
		}
		q, args = q+` AND i.status = ?`, append(args, f.Status)
	}
	if f.VendorID != nil {
		q, args = q+` AND s.vendor_id = ?`, append(args, *f.VendorID)
	}
	if f.BranchID != nil {
		q, args = q+` AND s.branch_id = ?`, append(args, *f.BranchID)
	}
	var rows []IssueView
	if err := db.Raw(q+` ORDER BY i.id LIMIT ?`, append(args, f.Limit+1)...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list issues: %w", err)
	}
	for i := range rows {
		rows[i].fill()
	}
	return rows, nil
}
