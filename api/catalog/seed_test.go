package catalog

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// demoRecords is how many records the embedded demo catalogue holds: every
// distinct, titled MARC 21 bibliographic record of testdata/marc (see
// demodata/gen.go).
const demoRecords = 109

// TestSeedDemo_LoadsTheRealCatalogueOnce seeds a fresh demo library as
// `stacks seed` does: the tenants' demo library, then its catalogue on every
// branch below the root.
func TestSeedDemo_LoadsTheRealCatalogueOnce(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	if created, err := env.Tenants.SeedDemo(ctx); err != nil || !created {
		t.Fatalf("seed the demo library: created %v, %v", created, err)
	}
	demo, err := env.Pool.TenantBySlug(ctx, tenants.DemoSlug)
	if err != nil || demo == nil {
		t.Fatalf("demo tenant: %v %v", demo, err)
	}
	var codes []string
	env.Pool.Tx(ctx, demo.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`SELECT code FROM branches WHERE cardinality(path) > 1 ORDER BY code`).Scan(&codes).Error
	})
	if len(codes) < 2 {
		t.Fatalf("demo branches %v, want the main and the east branch", codes)
	}
	s := NewService(env.Tenants)
	n, err := s.SeedDemo(ctx, demo.ID, codes)
	if err != nil || n != demoRecords {
		t.Fatalf("seeded %d records (%v), want the %d demo records", n, err, demoRecords)
	}

	var bibs, items, noItems, noCallNumber, noType int64
	var perBranch []struct {
		Code  string
		Items int64
	}
	env.Pool.Tx(ctx, demo.ID, func(ctx context.Context, tx *gorm.DB) error {
		tx.Raw(`SELECT count(*) FROM bibs`).Scan(&bibs)
		tx.Raw(`SELECT count(*) FROM bibs b WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.bib_id = b.id)`).Scan(&noItems)
		tx.Raw(`SELECT count(*) FILTER (WHERE call_number = ''), count(*) FILTER (WHERE item_type = '') FROM items`).
			Row().Scan(&noCallNumber, &noType)
		tx.Raw(`SELECT b.code, count(i.id) AS items FROM branches b LEFT JOIN items i ON i.branch_id = b.id
			WHERE cardinality(b.path) > 1 GROUP BY b.code ORDER BY b.code`).Scan(&perBranch)
		return tx.Raw(`SELECT count(*) FROM items`).Scan(&items).Error
	})
	// One to three items a record, by record number: 1+2+3 for every three.
	if want := int64(demoRecords/3*6 + []int{0, 1, 3}[demoRecords%3]); bibs != demoRecords || items != want || noItems != 0 {
		t.Fatalf("%d bibs, %d items (want %d), %d bibs without items", bibs, items, want, noItems)
	}
	if noCallNumber != 0 || noType != 0 {
		t.Errorf("%d items without a call number, %d without an item type", noCallNumber, noType)
	}
	if len(perBranch) != len(codes) {
		t.Fatalf("items by branch %v, want every branch of %v", perBranch, codes)
	}
	for _, b := range perBranch {
		if b.Items < items/int64(len(codes))/2 {
			t.Errorf("branch %s holds %d of %d items", b.Code, b.Items, items)
		}
	}

	// Known titles are found, accents and all.
	for _, tc := range []struct{ q, title string }{
		{"blonde on blonde", "Blonde on blonde"},
		{`title:"programming perl"`, "Programming Perl"},
		{"ole lukoie andersen", "Ole Lukøie"},
		{"Мио", "Мио, мой Мио!"},
	} {
		env.Pool.Tx(ctx, demo.ID, func(ctx context.Context, _ *gorm.DB) error {
			res, err := s.Search(ctx, SearchRequest{Q: tc.q, Limit: 5})
			if err != nil {
				t.Fatalf("search %q: %v", tc.q, err)
			}
			for _, h := range res.Results {
				if strings.HasPrefix(h.Title, tc.title) {
					return nil
				}
			}
			t.Errorf("search %q: %d hits, none titled %q...", tc.q, res.Total, tc.title)
			return nil
		})
	}

	// A second seed leaves a catalogue that has records alone.
	if n, err := s.SeedDemo(ctx, demo.ID, codes); err != nil || n != 0 {
		t.Fatalf("second seed added %d (%v)", n, err)
	}
}
