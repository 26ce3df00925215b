package catalog

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestSeedDemo_LoadsTheRealCatalogueOnce(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	res := env.Signup(t, "seed")
	s := NewService(env.Tenants)
	n, err := s.SeedDemo(ctx, res.Tenant.ID, []string{"MAIN"})
	if err != nil || n != 88 {
		t.Fatalf("seeded %d records (%v), want the 88 demo records", n, err)
	}
	var bibs, items, noItems int64
	env.Pool.Tx(ctx, res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		tx.Raw(`SELECT count(*) FROM bibs`).Scan(&bibs)
		tx.Raw(`SELECT count(*) FROM bibs b WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.bib_id = b.id)`).Scan(&noItems)
		return tx.Raw(`SELECT count(*) FROM items`).Scan(&items).Error
	})
	if bibs != 88 || noItems != 0 || items < 88 {
		t.Fatalf("%d bibs, %d items, %d bibs without items", bibs, items, noItems)
	}
	// A second seed leaves a catalogue that has records alone.
	if n, err := s.SeedDemo(ctx, res.Tenant.ID, []string{"MAIN"}); err != nil || n != 0 {
		t.Fatalf("second seed added %d (%v)", n, err)
	}
}
