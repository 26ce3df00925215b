package reports

import (
	"encoding/json"
	"testing"
	"time"

	"gorm.io/gorm"
)

// app.top_titles answers exactly what counting the loans answers, in each
// of its paths: a skewed year where the heads of the months settle it, a
// title that never makes any month's head but wins the half-year (the bound
// must send it to a wider round), partial months read from the loans, and
// events after the watermark.
func TestTopTitlesExact(t *testing.T) {
	w := newWorld(t)
	w.tx(t, func(tx *gorm.DB) {
		for _, q := range []string{
			// Skewed: title i of 400 lent about 2400/i times over Jan-Jun 2025.
			`INSERT INTO loans (tenant_id, id, item_id, patron_category, item_type, bib_id, branch_id, status, checked_out_at, due_at, renewals_allowed, returned_at)
SELECT ?, gen_random_uuid(), ?, 'adult', 'book', md5('zipf' || i)::uuid, ?, 'returned', x.at, x.at + interval '21 days', 3, x.at + interval '1 day'
FROM generate_series(1, 400) i, generate_series(1, 2400 / i) j,
  LATERAL (SELECT TIMESTAMPTZ '2025-01-01 15:00Z' + ((i * 7919 + j * 104729) % 181) * interval '1 day' AS at) x`,
			// Spikes: 120 titles a month each lent 30 times in that month
			// only (Jul-Dec), and one steady title lent 20 times every month.
			`INSERT INTO loans (tenant_id, id, item_id, patron_category, item_type, bib_id, branch_id, status, checked_out_at, due_at, renewals_allowed, returned_at)
SELECT ?, gen_random_uuid(), ?, 'adult', 'book', md5('spike' || m || '-' || s)::uuid, ?, 'returned', x.at, x.at + interval '21 days', 3, x.at + interval '1 day'
FROM generate_series(7, 12) m, generate_series(1, 120) s, generate_series(1, 30) j,
  LATERAL (SELECT make_timestamptz(2025, m, 1 + j % 27, 15, 0, 0, 'UTC') AS at) x`,
			`INSERT INTO loans (tenant_id, id, item_id, patron_category, item_type, bib_id, branch_id, status, checked_out_at, due_at, renewals_allowed, returned_at)
SELECT ?, gen_random_uuid(), ?, 'adult', 'book', md5('steady')::uuid, ?, 'returned', x.at, x.at + interval '21 days', 3, x.at + interval '1 day'
FROM generate_series(7, 12) m, generate_series(1, 20) j, LATERAL (SELECT make_timestamptz(2025, m, 1 + j, 16, 0, 0, 'UTC') AS at) x`,
		} {
			if err := tx.Exec(q, w.tenant, w.i4, w.l1a).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Exec("SELECT app.circ_rollup()").Error; err != nil {
			t.Fatal(err)
		}
		// After the watermark: 50 more loans of the 30th title, "today".
		if err := tx.Exec(`INSERT INTO loans (tenant_id, id, item_id, patron_category, item_type, bib_id, branch_id, status, checked_out_at, due_at, renewals_allowed, returned_at)
SELECT ?, gen_random_uuid(), ?, 'adult', 'book', md5('zipf30')::uuid, ?, 'returned', now(), now() + interval '21 days', 3, now()
FROM generate_series(1, 50)`, w.tenant, w.i4, w.l1a).Error; err != nil {
			t.Fatal(err)
		}
	})
	cases := []struct {
		name, from, to string // library-local dates, inclusive
		lim            int
	}{
		{"skewed half-year", "2025-01-01", "2025-06-30", 20},
		{"skewed, partial months", "2025-01-17", "2025-05-11", 10},
		{"one month, long list", "2025-03-01", "2025-03-31", 150},
		{"steady title beats every month's head", "2025-07-01", "2025-12-31", 5},
		{"the whole year", "2025-01-01", "2025-12-31", 25},
		{"up to today, after the watermark", "2025-01-01", "2099-12-31", 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got, want []struct {
				ID string
				N  int64
			}
			w.tx(t, func(tx *gorm.DB) {
				// The same instants and whole months the report passes.
				p := &Params{}
				p.From, p.To = mustLocal(t, c.from), mustLocal(t, c.to)
				args := map[string]any{"start": p.start(), "end": p.end(), "lim": c.lim}
				if !titleMonths(p, args) {
					t.Fatal("no whole month")
				}
				if err := tx.Raw(`SELECT title::text AS id, total AS n FROM app.top_titles(`+titleArgs+`, @lim)`, args).Scan(&got).Error; err != nil {
					t.Fatal(err)
				}
				if err := tx.Raw(`SELECT bib_id::text AS id, count(*) AS n FROM loans WHERE checked_out_at >= @start AND checked_out_at < @end
GROUP BY bib_id ORDER BY 2 DESC, 1 LIMIT @lim`, args).Scan(&want).Error; err != nil {
					t.Fatal(err)
				}
			})
			g, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(g) != string(wj) || len(want) == 0 {
				t.Errorf("top_titles %s\nloans     %s", g, wj)
			}
		})
	}
}

// mustLocal is a date at midnight in the test library's time zone.
func mustLocal(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
