package notices

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// Daily kinds: one digest per patron per kind (and level) per local day.
const (
	KindDueSoon      = "due_soon"
	KindOverdue      = "overdue"
	KindCardExpiring = "card_expiring"
	KindFines        = "fines"
	KindHoldExpiring = "hold_expiring"
)

// Kinds are the notice kinds a library can switch on or off.
var Kinds = []string{KindHoldAvailable, KindHoldExpiring, KindHoldExpired, KindDueSoon, KindOverdue, KindAutoRenewal,
	KindCardExpiring, KindFines, KindVerification, KindWelcome}

// DailyKinds are the kinds the daily run produces.
var DailyKinds = []string{KindDueSoon, KindOverdue, KindCardExpiring, KindFines, KindHoldExpiring}

// Settings are a library's notice settings.
type Settings struct {
	TenantID       uuid.UUID       `json:"-" gorm:"primaryKey"`
	EnabledKinds   tenants.Strings `json:"enabled_kinds"`
	DueSoonDays    int             `json:"due_soon_days"`
	Overdue1Days   int             `json:"overdue1_days"`
	Overdue2Days   int             `json:"overdue2_days"`
	Overdue3Days   int             `json:"overdue3_days"`
	CardExpiryDays int             `json:"card_expiry_days"`
	SendHour       int             `json:"send_hour"`
	SenderName     string          `json:"sender_name"`
	ReplyTo        string          `json:"reply_to"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// TableName maps Settings to its table.
func (Settings) TableName() string { return "notice_settings" }

func defaultSettings() Settings {
	return Settings{EnabledKinds: tenants.Strings(Kinds), DueSoonDays: 3, Overdue1Days: 1, Overdue2Days: 7,
		Overdue3Days: 14, CardExpiryDays: 30, SendHour: 8}
}

// GetSettings returns the library's settings (the defaults until changed).
func (s *Service) GetSettings(ctx context.Context) (*Settings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []Settings
	if err := db.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("notice settings: %w", err)
	}
	if len(rows) == 0 {
		d := defaultSettings()
		return &d, nil
	}
	return &rows[0], nil
}

// SettingsInput is the body of PATCH /notices/settings.
type SettingsInput struct {
	EnabledKinds   *[]string `json:"enabled_kinds"`
	DueSoonDays    *int      `json:"due_soon_days"`
	Overdue1Days   *int      `json:"overdue1_days"`
	Overdue2Days   *int      `json:"overdue2_days"`
	Overdue3Days   *int      `json:"overdue3_days"`
	CardExpiryDays *int      `json:"card_expiry_days"`
	SendHour       *int      `json:"send_hour"`
	SenderName     *string   `json:"sender_name"`
	ReplyTo        *string   `json:"reply_to"`
}

// UpdateSettings changes the settings present in in.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsInput) (*Settings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	if in.EnabledKinds != nil {
		for _, k := range *in.EnabledKinds {
			if !slices.Contains(Kinds, k) {
				return nil, errs.Field("enabled_kinds", "unknown_kind", fmt.Sprintf("%q is not a notice kind; kinds are %s", k, strings.Join(Kinds, ", ")))
			}
		}
		st.EnabledKinds = tenants.Strings(*in.EnabledKinds)
	}
	days := []struct {
		field  string
		in     *int
		dst    *int
		lo, hi int
	}{
		{"due_soon_days", in.DueSoonDays, &st.DueSoonDays, 1, 30},
		{"overdue1_days", in.Overdue1Days, &st.Overdue1Days, 0, 365},
		{"overdue2_days", in.Overdue2Days, &st.Overdue2Days, 0, 365},
		{"overdue3_days", in.Overdue3Days, &st.Overdue3Days, 0, 365},
		{"card_expiry_days", in.CardExpiryDays, &st.CardExpiryDays, 1, 365},
		{"send_hour", in.SendHour, &st.SendHour, 0, 23},
	}
	for _, d := range days {
		if d.in == nil {
			continue
		}
		if *d.in < d.lo || *d.in > d.hi {
			return nil, errs.Field(d.field, "out_of_range", fmt.Sprintf("%s must be from %d to %d", d.field, d.lo, d.hi))
		}
		*d.dst = *d.in
	}
	if in.SenderName != nil {
		st.SenderName = strings.TrimSpace(*in.SenderName)
	}
	if in.ReplyTo != nil {
		r := strings.TrimSpace(*in.ReplyTo)
		if r != "" {
			if _, err := mail.ParseAddress(r); err != nil {
				return nil, errs.Field("reply_to", "invalid_email", "reply_to must be an email address")
			}
		}
		st.ReplyTo = r
	}
	st.TenantID, _ = tenants.CurrentTenant(ctx)
	st.UpdatedAt = s.now()
	if err := db.Save(st).Error; err != nil {
		return nil, fmt.Errorf("save notice settings: %w", err)
	}
	return st, nil
}

// dueLoan is one loan listed in a daily digest.
type dueLoan struct {
	PatronID     uuid.UUID
	FirstName    string
	LastName     string
	Email        string
	Channel      string `gorm:"column:notice_channel"`
	Title        string
	Barcode      string
	DueAt        time.Time
	RenewalsLeft int
	HoldsWaiting int
}

// RunDaily queues the day's digests of one kind for the library: due-soon
// reminders for loans due in due_soon_days, and overdue notices of each
// level for loans that many days past due, one notice per patron per kind
// and level, keyed by the local date so a second run adds nothing. It
// returns how many notices it queued.
func (s *Service) RunDaily(ctx context.Context, kind string, date string) (int, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	st, err := s.GetSettings(ctx)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(DailyKinds, kind) {
		return 0, errs.Field("kind", "unknown_kind", "kind is one of "+strings.Join(DailyKinds, ", "))
	}
	if !slices.Contains(st.EnabledKinds, kind) {
		return 0, nil
	}
	var lib struct{ Name, Timezone string }
	if err := db.Raw("SELECT name, timezone FROM tenants WHERE id = app.current_tenant_id()").Scan(&lib).Error; err != nil {
		return 0, fmt.Errorf("library: %w", err)
	}
	loc := tz.OrUTC(lib.Timezone)
	day, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return 0, errs.Field("date", "invalid_date", "date must be a date YYYY-MM-DD")
	}
	switch kind {
	case KindCardExpiring:
		return s.runCardExpiring(ctx, st, date, day, lib.Name)
	case KindFines:
		return s.runFines(ctx, day, lib.Name)
	case KindHoldExpiring:
		return s.runHoldExpiring(ctx, day, loc, lib.Name)
	}
	type run struct {
		level  int
		offset int // due date = date + offset days
	}
	var runs []run
	if kind == KindDueSoon {
		runs = []run{{0, st.DueSoonDays}}
	} else {
		for i, d := range []int{st.Overdue1Days, st.Overdue2Days, st.Overdue3Days} {
			if d > 0 {
				runs = append(runs, run{i + 1, -d})
			}
		}
	}
	b, err := s.batch(ctx, kind)
	if err != nil {
		return 0, err
	}
	n := 0
	y, m, dd := day.Date()
	for _, r := range runs {
		// Loans due on the target date in the library's time zone: between
		// its local midnights, a range the due-date index serves.
		// (Read-only joins across circulation, catalogue and patrons.)
		lo := time.Date(y, m, dd+r.offset, 0, 0, 0, 0, loc)
		hi := time.Date(y, m, dd+r.offset+1, 0, 0, 0, 0, loc)
		var loans []dueLoan
		err := db.Raw(`SELECT p.id AS patron_id, p.first_name, p.last_name, p.email, p.notice_channel, b.title, i.barcode, l.due_at,
  greatest(l.renewals_allowed - l.renewals_used, 0) AS renewals_left,
  (SELECT count(*) FROM holds h WHERE h.bib_id = l.bib_id AND h.status = 'pending') AS holds_waiting
FROM loans l JOIN patrons p ON p.id = l.patron_id JOIN items i ON i.id = l.item_id JOIN bibs b ON b.id = l.bib_id
WHERE l.status = 'active' AND l.due_at >= @lo AND l.due_at < @hi
ORDER BY p.id, l.due_at, b.title_sort`, map[string]any{"lo": lo, "hi": hi}).Scan(&loans).Error
		if err != nil {
			return n, fmt.Errorf("loans for %s: %w", kind, err)
		}
		for len(loans) > 0 {
			j := 1
			for j < len(loans) && loans[j].PatronID == loans[0].PatronID {
				j++
			}
			queued, err := b.queueDigest(ctx, kind, r.level, date, lib.Name, loc, loans[:j])
			if err != nil {
				return n, err
			}
			if queued {
				n++
			}
			loans = loans[j:]
		}
	}
	return n, nil
}

// queueDigest queues one patron's digest.
func (b *kindBatch) queueDigest(ctx context.Context, kind string, level int, date, library string, loc *time.Location, loans []dueLoan) (bool, error) {
	p := loans[0]
	d := Data{Library: library, Level: level, Date: date,
		Patron: PatronData{FirstName: p.FirstName, LastName: p.LastName, Name: strings.TrimSpace(p.FirstName + " " + p.LastName)}}
	barcodes := make([]string, len(loans))
	renewable := false
	for i, l := range loans {
		it := ItemData{Title: l.Title, Barcode: l.Barcode, Due: l.DueAt.In(loc).Format("Mon 2 Jan 2006"),
			CanRenew: l.RenewalsLeft > 0 && l.HoldsWaiting == 0}
		d.Items = append(d.Items, it)
		barcodes[i] = l.Barcode
		renewable = renewable || it.CanRenew
	}
	if kind == KindDueSoon && renewable && b.s.links != nil && b.enabled && p.Email != "" {
		var err error
		if d.RenewURL, err = b.s.links.RenewURL(ctx, p.PatronID); err != nil {
			return false, err
		}
	}
	nt, err := b.queue(ctx, Draft{PatronID: p.PatronID, Kind: kind, Level: level, DedupeKey: date, Channel: p.Channel,
		To: p.Email, Data: d, Details: map[string]any{"date": date, "barcodes": barcodes}})
	return nt != nil, err
}

// RunInput is the body of POST /notices/run.
type RunInput struct {
	Kind string `json:"kind"`
	Date string `json:"date"` // the library's local date; default today
}

// RunResult says what POST /notices/run did.
type RunResult struct {
	Kind   string `json:"kind"`
	Date   string `json:"date"`
	Queued bool   `json:"queued"`          // handed to the workers
	Count  *int   `json:"count,omitempty"` // notices written, when run at once (no workers connected)
}

// Run starts a daily run now, for the library's local date: through the
// workers, under the same task id the scheduler uses (so it never doubles
// a scheduled run), or in this transaction when no workers are connected.
func (s *Service) Run(ctx context.Context, in RunInput) (*RunResult, error) {
	tenant, err := tenants.CurrentTenant(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(DailyKinds, in.Kind) {
		return nil, errs.Field("kind", "unknown_kind", "kind is one of "+strings.Join(DailyKinds, ", "))
	}
	if in.Date == "" {
		loc, err := tenants.Location(ctx)
		if err != nil {
			return nil, err
		}
		in.Date = s.now().In(loc).Format(time.DateOnly)
	} else if _, err := time.Parse(time.DateOnly, in.Date); err != nil {
		return nil, errs.Field("date", "invalid_date", "date must be a date YYYY-MM-DD")
	}
	res := &RunResult{Kind: in.Kind, Date: in.Date}
	if s.enqueue == nil {
		n, err := s.RunDaily(ctx, in.Kind, in.Date)
		if err != nil {
			return nil, err
		}
		res.Count = &n
		return res, nil
	}
	tenants.AfterCommit(ctx, func(ctx context.Context) {
		if err := s.enqueue.EnqueueDaily(ctx, tenant, in.Kind, in.Date); err != nil {
			s.log.Error("enqueue notices run", "tenant_id", tenant, "kind", in.Kind, "error", err)
		}
	})
	res.Queued = true
	return res, nil
}

// runCardExpiring reminds active patrons whose card expires card_expiry_days
// after date.
func (s *Service) runCardExpiring(ctx context.Context, st *Settings, date string, day time.Time, library string) (int, error) {
	db, _ := tenants.DB(ctx)
	expires := day.AddDate(0, 0, st.CardExpiryDays).Format(time.DateOnly)
	var ps []struct {
		ID                                                    uuid.UUID
		FirstName, LastName, CardNumber, Email, NoticeChannel string
	}
	if err := db.Raw(`SELECT id, first_name, last_name, card_number, email, notice_channel FROM patrons
WHERE status = 'active' AND expires_on = CAST(? AS date) ORDER BY id`, expires).Scan(&ps).Error; err != nil {
		return 0, fmt.Errorf("cards expiring: %w", err)
	}
	b, err := s.batch(ctx, KindCardExpiring)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		nt, err := b.queue(ctx, Draft{PatronID: p.ID, Kind: KindCardExpiring, DedupeKey: date, Channel: p.NoticeChannel, To: p.Email,
			Data: Data{Library: library, Date: date, Patron: PatronData{FirstName: p.FirstName, LastName: p.LastName,
				CardNumber: p.CardNumber, Name: strings.TrimSpace(p.FirstName + " " + p.LastName), ExpiresOn: expires}}})
		if err != nil {
			return n, err
		}
		if nt != nil {
			n++
		}
	}
	return n, nil
}

// runFines tells patrons who owe at least their category's fine threshold
// (and so are blocked), at most once a week while they do: the dedupe key
// is the ISO week.
func (s *Service) runFines(ctx context.Context, day time.Time, library string) (int, error) {
	db, _ := tenants.DB(ctx)
	y, w := day.ISOWeek()
	week := fmt.Sprintf("%d-W%02d", y, w)
	var ps []struct {
		ID                                                    uuid.UUID
		FirstName, LastName, CardNumber, Email, NoticeChannel string
		Balance, Threshold                                    int64
		Currency                                              string
	}
	if err := db.Raw(`SELECT p.id, p.first_name, p.last_name, p.card_number, p.email, p.notice_channel, b.balance,
  c.fine_threshold AS threshold, (SELECT currency FROM tenants WHERE id = app.current_tenant_id()) AS currency
FROM patrons p JOIN patron_categories c ON c.code = p.category
JOIN LATERAL (SELECT COALESCE(sum(CASE WHEN kind IN ('charge', 'refund') THEN amount ELSE -amount END), 0) AS balance
  FROM fee_entries f WHERE f.patron_id = p.id) b ON true
WHERE p.status = 'active' AND c.fine_threshold IS NOT NULL AND b.balance > 0 AND b.balance >= c.fine_threshold
ORDER BY p.id`).Scan(&ps).Error; err != nil {
		return 0, fmt.Errorf("patrons over the fine threshold: %w", err)
	}
	b, err := s.batch(ctx, KindFines)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		nt, err := b.queue(ctx, Draft{PatronID: p.ID, Kind: KindFines, DedupeKey: week, Channel: p.NoticeChannel, To: p.Email,
			Data: Data{Library: library, Date: day.Format(time.DateOnly), Balance: patrons.FormatMoney(p.Balance, p.Currency),
				Threshold: patrons.FormatMoney(p.Threshold, p.Currency), Patron: PatronData{FirstName: p.FirstName, LastName: p.LastName,
					CardNumber: p.CardNumber, Name: strings.TrimSpace(p.FirstName + " " + p.LastName)}},
			Details: map[string]any{"balance": p.Balance, "week": week}})
		if err != nil {
			return n, err
		}
		if nt != nil {
			n++
		}
	}
	return n, nil
}

// runHoldExpiring reminds patrons whose hold waits on the shelf for the
// last day: its pickup deadline falls on the day after date.
func (s *Service) runHoldExpiring(ctx context.Context, day time.Time, loc *time.Location, library string) (int, error) {
	db, _ := tenants.DB(ctx)
	y, m, d := day.Date()
	lo, hi := time.Date(y, m, d+1, 0, 0, 0, 0, loc), time.Date(y, m, d+2, 0, 0, 0, 0, loc)
	var hs []struct {
		HoldID, PatronID                                      uuid.UUID
		FirstName, LastName, CardNumber, Email, NoticeChannel string
		Title, Branch                                         string
		ShelfExpiresAt                                        time.Time
	}
	if err := db.Raw(`SELECT h.id AS hold_id, p.id AS patron_id, p.first_name, p.last_name, p.card_number, p.email, p.notice_channel,
  b.title, br.name AS branch, h.shelf_expires_at
FROM holds h JOIN patrons p ON p.id = h.patron_id JOIN bibs b ON b.id = h.bib_id JOIN branches br ON br.id = h.pickup_branch_id
WHERE h.status = 'waiting' AND h.shelf_expires_at >= ? AND h.shelf_expires_at < ? ORDER BY h.id`, lo, hi).Scan(&hs).Error; err != nil {
		return 0, fmt.Errorf("holds expiring: %w", err)
	}
	b, err := s.batch(ctx, KindHoldExpiring)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range hs {
		nt, err := b.queue(ctx, Draft{PatronID: h.PatronID, Kind: KindHoldExpiring, DedupeKey: h.HoldID.String(),
			Channel: h.NoticeChannel, To: h.Email, Details: map[string]any{"hold_id": h.HoldID},
			Data: Data{Library: library, Date: day.Format(time.DateOnly), Patron: PatronData{FirstName: h.FirstName,
				LastName: h.LastName, CardNumber: h.CardNumber, Name: strings.TrimSpace(h.FirstName + " " + h.LastName)},
				Hold: &HoldData{Title: h.Title, Branch: h.Branch, PickupBy: h.ShelfExpiresAt.In(loc).Format("Monday 2 January 2006")}}})
		if err != nil {
			return n, err
		}
		if nt != nil {
			n++
		}
	}
	return n, nil
}
