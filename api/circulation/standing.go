package circulation

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// Standing counts what decides a patron's automatic blocks, in one query:
// open loans, overdue, lost and claimed-returned loans, open holds and the
// fines balance.
func (s *Service) Standing(ctx context.Context, patronID uuid.UUID) (patrons.AccountStanding, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return patrons.AccountStanding{}, err
	}
	var st struct {
		Loans, Overdue, Lost, ClaimsReturned, Holds int
		Balance                                     int64
		Currency                                    string
	}
	err = db.Raw(`SELECT
  (SELECT count(*) FROM loans WHERE patron_id = @p AND status <> 'returned') AS loans,
  (SELECT count(*) FROM loans WHERE patron_id = @p AND status = 'active' AND due_at < now()) AS overdue,
  (SELECT count(*) FROM loans WHERE patron_id = @p AND status = 'lost') AS lost,
  (SELECT count(*) FROM loans WHERE patron_id = @p AND status = 'claims_returned') AS claims_returned,
  (SELECT count(*) FROM holds WHERE patron_id = @p AND status IN ('pending', 'in_transit', 'waiting')) AS holds,
  (SELECT COALESCE(sum(CASE WHEN kind IN ('charge', 'refund') THEN amount ELSE -amount END), 0)
     FROM fee_entries WHERE patron_id = @p) AS balance,
  (SELECT currency FROM tenants WHERE id = app.current_tenant_id()) AS currency`,
		map[string]any{"p": patronID}).Scan(&st).Error
	if err != nil {
		return patrons.AccountStanding{}, fmt.Errorf("patron standing: %w", err)
	}
	return patrons.AccountStanding{Balance: st.Balance, Currency: st.Currency, Loans: st.Loans, Overdue: st.Overdue,
		Lost: st.Lost, ClaimsReturned: st.ClaimsReturned, Holds: st.Holds}, nil
}

// MovePatron moves every loan, hold, ledger entry and audit entry of one
// patron to another (merging duplicate records keeps all history).
func (s *Service) MovePatron(ctx context.Context, from, to uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	for _, table := range []string{"loans", "holds", "fee_entries", "circ_audit"} {
		if err := db.Exec("UPDATE "+table+" SET patron_id = ? WHERE patron_id = ?", to, from).Error; err != nil {
			return fmt.Errorf("move %s to the merged patron: %w", table, err)
		}
	}
	return nil
}
