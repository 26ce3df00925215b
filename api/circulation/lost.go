package circulation

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// lockLoan locks a loan's item and then the loan (the lock order of every
// desk operation).
func (s *Service) lockLoan(ctx context.Context, loanID uuid.UUID, atLoanBranch bool) (*Loan, *catalog.Item, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	peek, err := tenants.Find[Loan](ctx, "no loan with this id", "id = ?", loanID)
	if err != nil {
		return nil, nil, err
	}
	if atLoanBranch {
		// Billing a loss or recording a claim is the lending branch's call.
		b, err := s.tenants.GetBranch(ctx, peek.BranchID)
		if err != nil {
			return nil, nil, err
		}
		if p := tenants.PrincipalFrom(ctx); p == nil || !p.CanAt(tenants.PermCirculate, b.Path) {
			return nil, nil, errs.E(errs.Forbidden, "forbidden_branch", "this loan was made at "+b.Name+", where you may not circulate items")
		}
	}
	item, err := s.catalog.LockItem(ctx, "", peek.ItemID)
	if err != nil {
		return nil, nil, err
	}
	var ls []Loan
	if err := db.Raw("SELECT * FROM loans WHERE id = ? FOR UPDATE", loanID).Scan(&ls).Error; err != nil {
		return nil, nil, fmt.Errorf("lock loan: %w", err)
	}
	return &ls[0], item, nil
}

// LostResult is the response of marking a loan lost.
type LostResult struct {
	Loan    *Loan   `json:"loan"`
	Charges []Money `json:"charges"`
}

// MarkLost declares a borrowed item lost: the loan stays open as lost, the
// item is lost, and the patron is charged the replacement cost (the item's
// price, else its type's replacement cost) plus the rule's processing fee.
func (s *Service) MarkLost(ctx context.Context, loanID uuid.UUID, note string) (*LostResult, error) {
	db, _ := tenants.DB(ctx)
	loan, item, err := s.lockLoan(ctx, loanID, true)
	if err != nil {
		return nil, err
	}
	if loan.Status != LoanActive && loan.Status != LoanClaimsReturned {
		return nil, errs.E(errs.Conflict, "loan_not_active", "This loan is "+loan.Status+"; only a loan still out can be marked lost.")
	}
	if loan.PatronID == nil {
		return nil, errs.E(errs.Conflict, "loan_not_active", "This loan has been anonymised.")
	}
	now := s.now()
	res := &LostResult{Charges: []Money{}}
	cur, err := s.currency(ctx)
	if err != nil {
		return nil, err
	}
	cost := int64(0)
	// The item's own price when it is in the library's currency, else the
	// replacement cost of its type.
	if item.Price != nil && item.Price.Currency == cur {
		cost = item.Price.Amount
	} else {
		var rc []*int64
		if err := db.Raw("SELECT replacement_cost FROM item_types WHERE code = ?", item.ItemType).Scan(&rc).Error; err != nil {
			return nil, fmt.Errorf("replacement cost: %w", err)
		}
		if len(rc) == 1 && rc[0] != nil {
			cost = *rc[0]
		}
	}
	if cost > 0 {
		m, err := s.charge(ctx, *loan.PatronID, "lost", cost, &loan.ID, &item.ID, nil, "replacement cost of "+item.Barcode+" "+note)
		if err != nil {
			return nil, err
		}
		res.Charges = append(res.Charges, *m)
	}
	rule, _, err := s.loanPolicy(ctx, loan, nil, now, now)
	if err != nil {
		return nil, err
	}
	if rule.ProcessingFeeAmount > 0 {
		m, err := s.charge(ctx, *loan.PatronID, "processing", rule.ProcessingFeeAmount, &loan.ID, &item.ID, nil, "processing fee for lost "+item.Barcode)
		if err != nil {
			return nil, err
		}
		res.Charges = append(res.Charges, *m)
	}
	if err := db.Exec("UPDATE loans SET status = 'lost', lost_at = ? WHERE id = ?", now, loan.ID).Error; err != nil {
		return nil, fmt.Errorf("mark lost: %w", err)
	}
	if err := s.catalog.SetItemState(ctx, item.ID, "lost", nil); err != nil {
		return nil, err
	}
	loan.Status, loan.LostAt = LoanLost, &now
	if err := s.audit(ctx, auditEntry{Action: "lost", PatronID: loan.PatronID, ItemID: &item.ID, LoanID: &loan.ID,
		Details: map[string]any{"charges": res.Charges, "note": note}}); err != nil {
		return nil, err
	}
	res.Loan = loan.fill(now)
	return res, nil
}

// ClaimReturned records the patron's word that they returned the item: no
// more fines accrue, the item is missing, and the claim counts toward the
// tenant's limit.
func (s *Service) ClaimReturned(ctx context.Context, loanID uuid.UUID, note string) (*Loan, error) {
	db, _ := tenants.DB(ctx)
	loan, item, err := s.lockLoan(ctx, loanID, true)
	if err != nil {
		return nil, err
	}
	if loan.Status != LoanActive || loan.PatronID == nil {
		return nil, errs.E(errs.Conflict, "loan_not_active", "This loan is "+loan.Status+"; only a loan still out can be claimed returned.")
	}
	if _, err := s.patrons.Lock(ctx, *loan.PatronID); err != nil {
		return nil, err
	}
	settings, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	var claims int
	if err := db.Raw("SELECT count(*) FROM loans WHERE patron_id = ? AND claimed_at IS NOT NULL", *loan.PatronID).Scan(&claims).Error; err != nil {
		return nil, fmt.Errorf("count claims: %w", err)
	}
	if claims >= settings.MaxClaimsReturned {
		return nil, errs.E(errs.Conflict, "claims_returned_limit",
			fmt.Sprintf("The patron has already claimed %d items returned, the most allowed; mark the item lost instead.", claims))
	}
	now := s.now()
	if err := db.Exec("UPDATE loans SET status = 'claims_returned', claimed_at = ? WHERE id = ?", now, loan.ID).Error; err != nil {
		return nil, fmt.Errorf("claims returned: %w", err)
	}
	if err := s.catalog.SetItemState(ctx, item.ID, "missing", nil); err != nil {
		return nil, err
	}
	loan.Status, loan.ClaimedAt = LoanClaimsReturned, &now
	if err := s.audit(ctx, auditEntry{Action: "claims_returned", PatronID: loan.PatronID, ItemID: &item.ID, LoanID: &loan.ID,
		Details: map[string]any{"note": note}}); err != nil {
		return nil, err
	}
	return loan.fill(now), nil
}

// FoundInput is the body of POST /loans/{id}/found.
type FoundInput struct {
	BranchID uuid.UUID `json:"branch_id"`
}

// Found closes a lost or claimed-returned loan because the item turned up:
// it is checked in at the branch (no overdue fine; a lost charge is
// credited back per the tenant's setting) and routed like any checkin.
func (s *Service) Found(ctx context.Context, loanID uuid.UUID, in FoundInput) (*CheckinResult, error) {
	d, err := s.openDesk(ctx, in.BranchID, nil, "at")
	if err != nil {
		return nil, err
	}
	loan, item, err := s.lockLoan(ctx, loanID, false)
	if err != nil {
		return nil, err
	}
	if loan.Status != LoanLost && loan.Status != LoanClaimsReturned {
		return nil, errs.E(errs.Conflict, "loan_not_lost", "This loan is "+loan.Status+"; found applies to lost or claimed-returned loans. Check the item in instead.")
	}
	return s.checkin(ctx, d, item)
}

// anonymiseLoans detaches loans (and their audit entries) from the patron.
func (s *Service) anonymiseLoans(ctx context.Context, ids []uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Exec("UPDATE loans SET patron_id = NULL, anonymised_at = now() WHERE id = ANY(?)", tenants.UUIDs(ids)).Error; err != nil {
		return fmt.Errorf("anonymise loans: %w", err)
	}
	if err := db.Exec("UPDATE circ_audit SET patron_id = NULL WHERE loan_id = ANY(?)", tenants.UUIDs(ids)).Error; err != nil {
		return fmt.Errorf("anonymise audit: %w", err)
	}
	return nil
}

// AnonymiseHistory applies borrowing-history privacy to returned loans:
// patrons who keep none or keep N days, and the tenant's retention limit.
// Fines keep their own link to the patron in the ledger, so anonymising a
// loan loses no money. It returns how many loans it anonymised; the
// workers run it nightly.
func (s *Service) AnonymiseHistory(ctx context.Context) (int, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	settings, err := s.GetSettings(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var ids []uuid.UUID
	q := `SELECT l.id FROM loans l JOIN patrons p ON p.id = l.patron_id
WHERE l.status = 'returned' AND (p.history_privacy = 'never'
   OR (p.history_privacy = 'keep_n_days' AND l.returned_at < CAST(@now AS timestamptz) - make_interval(days => p.history_days))`
	args := map[string]any{"now": now}
	if settings.HistoryRetentionDays != nil {
		q += ` OR l.returned_at < CAST(@now AS timestamptz) - make_interval(days => @keep)`
		args["keep"] = *settings.HistoryRetentionDays
	}
	q += ")"
	if err := db.Raw(q, args).Scan(&ids).Error; err != nil {
		return 0, fmt.Errorf("find history to anonymise: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), s.anonymiseLoans(ctx, ids)
}
