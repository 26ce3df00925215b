package serials

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// tenantTZ is the library's time zone in SQL (evaluated once per statement).
const tenantTZ = `(SELECT timezone FROM tenants WHERE id = app.current_tenant_id())`

// Mail kinds serials queues in the outbox.
const (
	MailClaim   = "serial_claim"
	MailRenewal = "serial_renewal"
)

// ClaimRunResult counts what a claim run did.
type ClaimRunResult struct {
	Date            string `json:"date"`
	Late            int    `json:"late"`             // issues that became late
	Claimed         int    `json:"claimed"`          // issues claimed (first or repeated claims, damaged replacements)
	ClaimMails      int    `json:"claim_mails"`      // one per vendor
	Missing         int    `json:"missing"`          // issues given up after max_claims
	Unclaimable     int    `json:"unclaimable"`      // late issues whose vendor has no email (or no vendor)
	Expiring        int    `json:"expiring"`         // subscriptions that entered their renewal window
	Expired         int    `json:"expired"`          // subscriptions past their end
	IssuesPredicted int    `json:"issues_predicted"` // issues added by rolling predictions forward
}

type claimable struct {
	IssueID        uuid.UUID
	SubscriptionID uuid.UUID
	VendorID       uuid.UUID
	Status         string
	Claims         int
	Label          string
	ExpectedOn     string
	Note           string
	Title          string
	ISSNs          string
	AccountNumber  string
}

// RunClaims is a library's nightly serials run for its local date day:
// subscriptions enter their renewal window or expire; issues past their
// grace period become late; late issues, issues whose last claim is
// claim_interval_days old, and damaged issues not yet claimed are claimed,
// in one mail per vendor; issues still missing max_claims claims and one
// interval later are given up as missing. Running it twice for the same
// day changes nothing and mails nothing the second time: a claimed issue is
// not claimable again until an interval later, and the outbox refuses a
// second mail with the same (kind, dedupe key, address).
func (s *Service) RunClaims(ctx context.Context, day string) (*ClaimRunResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	today, err := parseDay("date", day)
	if err != nil {
		return nil, err
	}
	st, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	res := &ClaimRunResult{Date: day}
	// One run at a time per library (two days' runs started together would
	// otherwise claim the same issues twice).
	if err := db.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('serials:claims:' || app.current_tenant_id()::text, 0))`).Error; err != nil {
		return nil, fmt.Errorf("serials claim lock: %w", err)
	}
	args := map[string]any{"today": day, "notice": st.RenewalNoticeDays, "interval": st.ClaimIntervalDays, "max": st.MaxClaims}

	// Subscriptions: expired, then expiring (the renewal digest lists these).
	r := db.Exec(`UPDATE subscriptions SET status = 'expired', updated_at = now()
		WHERE status IN ('active', 'expiring') AND ends_on < CAST(@today AS date)`, args)
	if r.Error != nil {
		return nil, fmt.Errorf("expire subscriptions: %w", r.Error)
	}
	res.Expired = int(r.RowsAffected)
	var expiring []uuid.UUID
	if err := db.Raw(`UPDATE subscriptions SET status = 'expiring', updated_at = now()
		WHERE status = 'active' AND COALESCE(renewal_on, ends_on) <= CAST(@today AS date) + CAST(@notice AS integer)
		RETURNING id`, args).Scan(&expiring).Error; err != nil {
		return nil, fmt.Errorf("mark expiring subscriptions: %w", err)
	}
	res.Expiring = len(expiring)

	// Roll predictions forward for running subscriptions.
	var running []uuid.UUID
	if err := db.Raw(`SELECT id FROM subscriptions WHERE status IN ('active', 'expiring')
		AND (predicted_until IS NULL OR predicted_until < LEAST(ends_on, CAST(@today AS date) + 365))`, args).Scan(&running).Error; err != nil {
		return nil, fmt.Errorf("subscriptions to predict: %w", err)
	}
	for _, id := range running {
		sub, err := s.load(ctx, id, true)
		if err != nil {
			return nil, err
		}
		n, err := s.extend(ctx, sub, predictHorizon(sub, today, PredictMonths))
		if err != nil {
			s.log.Warn("serials: cannot extend prediction", "subscription_id", id, "error", err)
			continue
		}
		res.IssuesPredicted += n
	}

	// Late: past the expected date plus the subscription's grace days. An
	// issue whose grace period had ended before the subscription was
	// entered (a backfile predicted from an old first issue) is not late:
	// the library receives or marks those by hand instead of claiming years
	// of issues from the vendor at once.
	r = db.Exec(`UPDATE serial_issues i SET status = 'late', updated_at = now() FROM subscriptions s
		WHERE s.tenant_id = i.tenant_id AND s.id = i.subscription_id AND i.status = 'expected' AND s.status <> 'canceled'
		AND i.expected_on + s.grace_days < CAST(@today AS date)
		AND i.expected_on + s.grace_days >= (s.created_at AT TIME ZONE `+tenantTZ+`)::date`, args)
	if r.Error != nil {
		return nil, fmt.Errorf("mark late issues: %w", r.Error)
	}
	res.Late = int(r.RowsAffected)

	// Missing: claimed max_claims times and an interval has passed since.
	lastClaim := `(i.last_claimed_at AT TIME ZONE ` + tenantTZ + `)::date`
	r = db.Exec(`UPDATE serial_issues i SET status = 'missing', updated_at = now()
		WHERE i.status = 'claimed' AND i.claims >= CAST(@max AS integer)
		AND `+lastClaim+` + CAST(@interval AS integer) <= CAST(@today AS date)`, args)
	if r.Error != nil {
		return nil, fmt.Errorf("mark missing issues: %w", r.Error)
	}
	res.Missing = int(r.RowsAffected)

	// Claimable issues, by vendor.
	var rows []claimable
	err = db.Raw(`SELECT i.id AS issue_id, i.subscription_id, s.vendor_id, i.status, i.claims, i.label, i.expected_on::text AS expected_on,
  i.note, b.title, array_to_string(b.issns, ', ') AS issns, s.account_number
FROM serial_issues i
JOIN subscriptions s ON s.tenant_id = i.tenant_id AND s.id = i.subscription_id
JOIN bibs b ON b.tenant_id = s.tenant_id AND b.id = s.bib_id
WHERE s.status <> 'canceled' AND s.vendor_id IS NOT NULL AND (
  i.status = 'late'
  OR (i.status = 'claimed' AND i.claims < CAST(@max AS integer) AND `+lastClaim+` + CAST(@interval AS integer) <= CAST(@today AS date))
  OR (i.status = 'damaged' AND i.claims = 0))
ORDER BY s.vendor_id, b.title, i.expected_on, i.id`, args).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("claimable issues: %w", err)
	}
	var noVendor int64
	if err := db.Raw(`SELECT count(*) FROM serial_issues i JOIN subscriptions s ON s.tenant_id = i.tenant_id AND s.id = i.subscription_id
		WHERE i.status = 'late' AND s.vendor_id IS NULL AND s.status <> 'canceled'`).Scan(&noVendor).Error; err != nil {
		return nil, fmt.Errorf("count unclaimable issues: %w", err)
	}
	res.Unclaimable = int(noVendor)
	byVendor := map[uuid.UUID][]claimable{}
	var ids []uuid.UUID
	for _, c := range rows {
		if _, ok := byVendor[c.VendorID]; !ok {
			ids = append(ids, c.VendorID)
		}
		byVendor[c.VendorID] = append(byVendor[c.VendorID], c)
	}
	vendors, err := s.vendors(ctx, ids)
	if err != nil {
		return nil, err
	}
	library, err := s.libraryName(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, vid := range ids {
		issues := byVendor[vid]
		v, ok := vendors[vid]
		if !ok || v.Email == "" || s.mail == nil {
			res.Unclaimable += len(issues)
			continue
		}
		// One statement per vendor: every issue's claim count and status, and
		// a claim row each (history for vendor performance). An issue whose
		// status or count changed since it was read (received at the desk
		// meanwhile) is left out, and the mail names only what was claimed.
		issueIDs, claimIDs, counts := make([]string, len(issues)), make([]string, len(issues)), make([]string, len(issues))
		for i, c := range issues {
			issueIDs[i], claimIDs[i], counts[i] = c.IssueID.String(), tenants.NewID().String(), strconv.Itoa(c.Claims)
		}
		var claimed []struct{ IssueID uuid.UUID }
		err := db.Raw(`WITH pairs AS (
  SELECT * FROM unnest(CAST(@issues AS uuid[]), CAST(@claims AS uuid[]), CAST(@counts AS integer[])) AS p(issue_id, claim_id, seen_claims)),
u AS (
  UPDATE serial_issues i SET status = CASE WHEN i.status = 'damaged' THEN 'damaged' ELSE 'claimed' END,
    claims = i.claims + 1, last_claimed_at = @now, updated_at = now()
  FROM pairs WHERE i.id = pairs.issue_id AND i.claims = pairs.seen_claims AND i.status IN ('late', 'claimed', 'damaged')
  RETURNING i.id, i.subscription_id, i.claims, i.status, pairs.claim_id)
INSERT INTO serial_claims (tenant_id, id, issue_id, subscription_id, vendor_id, claim_no, reason, run_date)
SELECT app.current_tenant_id(), u.claim_id, u.id, u.subscription_id, @vendor, u.claims,
  CASE WHEN u.status = 'damaged' THEN 'damaged' ELSE 'late' END, CAST(@today AS date) FROM u
RETURNING issue_id`,
			map[string]any{"issues": "{" + strings.Join(issueIDs, ",") + "}", "claims": "{" + strings.Join(claimIDs, ",") + "}",
				"counts": "{" + strings.Join(counts, ",") + "}", "now": now, "vendor": vid, "today": day}).Scan(&claimed).Error
		if err != nil {
			return nil, fmt.Errorf("record claims to vendor %s: %w", vid, err)
		}
		done := map[uuid.UUID]bool{}
		for _, c := range claimed {
			done[c.IssueID] = true
		}
		kept := issues[:0]
		for _, c := range issues {
			if done[c.IssueID] {
				kept = append(kept, c)
			}
		}
		issues = kept
		if len(issues) == 0 {
			continue
		}
		if _, err := s.mail.QueueMail(ctx, claimMail(library, v, issues, day)); err != nil {
			return nil, fmt.Errorf("queue claim to vendor %s: %w", vid, err)
		}
		res.Claimed += len(issues)
		res.ClaimMails++
	}

	if len(expiring) > 0 && st.StaffEmail != "" && s.mail != nil {
		if err := s.queueRenewalDigest(ctx, library, st.StaffEmail, expiring, day); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (s *Service) libraryName(ctx context.Context) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	var name string
	if err := db.Raw("SELECT name FROM tenants WHERE id = app.current_tenant_id()").Scan(&name).Error; err != nil {
		return "", fmt.Errorf("library name: %w", err)
	}
	return name, nil
}

// claimMail is one vendor's claim: every issue with its title, ISSN, the
// library's account number and the claim's number.
func claimMail(library string, v Vendor, issues []claimable, day string) notices.Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "To %s,\n\n%s claims the serial issues below", v.Name, library)
	if v.AccountNumber != "" {
		fmt.Fprintf(&b, " (our account number with you: %s)", v.AccountNumber)
	}
	b.WriteString(". Please send the missing issues and replacements for damaged ones, or tell us when they will be published.\n\n")
	var idList []string
	for _, c := range issues {
		title := c.Title
		if c.ISSNs != "" {
			title += " (ISSN " + c.ISSNs + ")"
		}
		if c.AccountNumber != "" && c.AccountNumber != v.AccountNumber {
			title += ", account " + c.AccountNumber
		}
		line := fmt.Sprintf("- %s: %s, expected %s, claim %d", title, c.Label, c.ExpectedOn, c.Claims+1)
		if c.Status == IssueDamaged {
			line = fmt.Sprintf("- %s: %s, received damaged (%s): replacement requested, claim %d", title, c.Label, c.Note, c.Claims+1)
		}
		b.WriteString(line + "\n")
		idList = append(idList, c.IssueID.String())
	}
	fmt.Fprintf(&b, "\nThank you,\n%s\n", library)
	subject := fmt.Sprintf("Claim for %d serial issue", len(issues))
	if len(issues) != 1 {
		subject += "s"
	}
	return notices.Mail{Kind: MailClaim, DedupeKey: "serial_claim:" + v.ID.String() + ":" + day, To: v.Email,
		Subject: subject + " from " + library, Text: b.String(),
		Details: map[string]any{"vendor_id": v.ID.String(), "issue_ids": idList, "date": day}}
}

// RenewalView is a subscription due for renewal.
type RenewalView struct {
	SubscriptionID uuid.UUID  `json:"subscription_id"`
	BibID          uuid.UUID  `json:"bib_id"`
	Title          string     `json:"title"`
	VendorID       *uuid.UUID `json:"vendor_id"`
	Status         string     `json:"status"`
	RenewalOn      string     `json:"renewal_on"`
	EndsOn         string     `json:"ends_on"`
	AnnualCost     *Money     `json:"annual_cost" gorm:"-"`
	DaysLeft       int        `json:"days_left" gorm:"-"`
}

// Renewals lists active and expiring subscriptions whose renewal date (or
// end, without one) is within days of today (the library's
// renewal_notice_days when days is 0), soonest first.
func (s *Service) Renewals(ctx context.Context, days int) ([]RenewalView, error) {
	if days == 0 {
		st, err := s.GetSettings(ctx)
		if err != nil {
			return nil, err
		}
		days = st.RenewalNoticeDays
	}
	if days < 1 || days > 36500 {
		return nil, errs.E(errs.BadRequest, "bad_query", "within_days must be 1 to 36500").WithDetails(map[string]any{"field": "within_days"})
	}
	today, err := s.today(ctx)
	if err != nil {
		return nil, err
	}
	return s.renewals(ctx, `s.status IN ('active', 'expiring') AND COALESCE(s.renewal_on, s.ends_on) <= CAST(@today AS date) + CAST(@days AS integer)`,
		map[string]any{"today": today.Format(time.DateOnly), "days": days}, today)
}

func (s *Service) renewals(ctx context.Context, where string, args map[string]any, today time.Time) ([]RenewalView, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		RenewalView
		Amount   *int64
		Currency *string
	}
	err = db.Raw(`SELECT s.id AS subscription_id, s.bib_id, b.title, s.vendor_id, s.status,
  COALESCE(s.renewal_on, s.ends_on)::text AS renewal_on, s.ends_on::text AS ends_on, s.annual_cost AS amount, s.currency
FROM subscriptions s JOIN bibs b ON b.tenant_id = s.tenant_id AND b.id = s.bib_id
WHERE `+where+` ORDER BY COALESCE(s.renewal_on, s.ends_on), b.title, s.id`, args).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("renewals: %w", err)
	}
	out := make([]RenewalView, 0, len(rows))
	for _, r := range rows {
		v := r.RenewalView
		if r.Amount != nil && r.Currency != nil {
			v.AnnualCost = &Money{Amount: *r.Amount, Currency: *r.Currency}
		}
		if d, err := time.Parse(time.DateOnly, v.RenewalOn); err == nil {
			v.DaysLeft = int(d.Sub(today).Hours() / 24)
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Service) queueRenewalDigest(ctx context.Context, library, to string, ids []uuid.UUID, day string) error {
	today, _ := time.Parse(time.DateOnly, day)
	list, err := s.renewals(ctx, `s.id IN @ids`, map[string]any{"ids": ids}, today)
	if err != nil {
		return err
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].RenewalOn < list[j].RenewalOn })
	var b strings.Builder
	fmt.Fprintf(&b, "%d subscription(s) of %s are due for renewal:\n\n", len(list), library)
	var idList []string
	for _, r := range list {
		cost := ""
		if r.AnnualCost != nil {
			cost = fmt.Sprintf(", %d.%02d %s a year", r.AnnualCost.Amount/100, r.AnnualCost.Amount%100, r.AnnualCost.Currency)
		}
		fmt.Fprintf(&b, "- %s: renew by %s (ends %s%s)\n", r.Title, r.RenewalOn, r.EndsOn, cost)
		idList = append(idList, r.SubscriptionID.String())
	}
	b.WriteString("\nRenew with POST /api/v1/subscriptions/{id}/renew, or see GET /api/v1/serials/renewals.\n")
	_, err = s.mail.QueueMail(ctx, notices.Mail{Kind: MailRenewal, DedupeKey: "serial_renewal:" + day, To: to,
		Subject: fmt.Sprintf("%d serial subscription(s) due for renewal", len(list)), Text: b.String(),
		Details: map[string]any{"subscription_ids": idList, "date": day}})
	if err != nil {
		return fmt.Errorf("queue renewal digest: %w", err)
	}
	return nil
}
