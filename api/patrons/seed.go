package patrons

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/tenants"
)

// demoPatrons are the demo library's borrowers: adults and two children
// (the second with a guardian), spread over the demo branches.
var demoPatrons = []struct{ first, last, category, birth string }{
	{"Ada", "Byron", "adult", ""}, {"Alan", "Turing", "adult", ""}, {"Grace", "Hopper", "adult", ""},
	{"Edsger", "Dijkstra", "adult", ""}, {"Barbara", "Liskov", "adult", ""}, {"Donald", "Knuth", "adult", ""},
	{"Frances", "Allen", "adult", ""}, {"Tony", "Hoare", "adult", ""}, {"Margaret", "Hamilton", "adult", ""},
	{"Ken", "Thompson", "adult", ""}, {"Radia", "Perlman", "adult", ""}, {"Niklaus", "Wirth", "adult", ""},
	{"Emma", "Noether", "child", "2016-03-23"}, {"Kurt", "Gödel", "child", "2014-04-28"},
}

// SeedDemo registers the demo patrons (cards 21000001, 21000002, ...) in a
// tenant that has none, at the branches with these codes. It returns how
// many it added.
func (s *Service) SeedDemo(ctx context.Context, tenantID uuid.UUID, branchCodes []string) (int, error) {
	n := 0
	err := s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		var have int64
		if err := tx.Raw("SELECT count(*) FROM patrons").Scan(&have).Error; err != nil || have > 0 {
			return err
		}
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		ctx = tenants.WithPrincipal(ctx, sys)
		var branches []uuid.UUID
		for _, code := range branchCodes {
			b, err := s.tenants.BranchByCode(ctx, code)
			if err != nil {
				return fmt.Errorf("demo branch %s: %w", code, err)
			}
			branches = append(branches, b.ID)
		}
		var guardian *uuid.UUID
		for i, d := range demoPatrons {
			card := fmt.Sprintf("2100%04d", i+1)
			email := fmt.Sprintf("%s.%s@demo.test", Fold(d.first), Fold(d.last))
			in := PatronInput{CardNumber: &card, FirstName: &d.first, LastName: &d.last, Email: &email,
				Category: &d.category, HomeBranchID: &branches[i%len(branches)]}
			if d.birth != "" {
				in.BirthDate = &d.birth
				if guardian != nil {
					in.GuarantorID = Opt[uuid.UUID]{Set: true, V: *guardian}
				}
			}
			p, err := s.Create(ctx, in)
			if err != nil {
				return fmt.Errorf("demo patron %s: %w", card, err)
			}
			if i == 0 {
				guardian = &p.ID
			}
			n++
		}
		return nil
	})
	return n, err
}
