package acquisitions

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// RolloverInput is the body of POST /api/v1/fiscal-years/{id}/rollover.
type RolloverInput struct {
	ToFiscalYearID uuid.UUID `json:"to_fiscal_year_id"`
	DryRun         bool      `json:"dry_run"`
}

// RolloverFund is what the rollover does to one fund.
type RolloverFund struct {
	FromFundID uuid.UUID `json:"from_fund_id"`
	Code       string    `json:"code"`
	// ToFundID is next year's fund with the same code, created when
	// missing (null in a dry run that would create it).
	ToFundID *uuid.UUID `json:"to_fund_id"`
	Created  bool       `json:"created"`
	Policy   string     `json:"encumbrance_rollover"`
	// Lines whose open encumbrances moved (rollover) or were released.
	Lines               int   `json:"lines"`
	RolledEncumbrance   Money `json:"rolled_encumbrance"`
	ReleasedEncumbrance Money `json:"released_encumbrance"`
	CarriedUnspent      Money `json:"carried_unspent"`
	// ToBalances are the next year's fund's balances after the rollover.
	ToBalances Balances `json:"to_balances"`
}

// RolloverResult is the effect of a rollover (or what it would be).
type RolloverResult struct {
	DryRun bool           `json:"dry_run"`
	From   *FiscalYear    `json:"from"`
	To     *FiscalYear    `json:"to"`
	Funds  []RolloverFund `json:"funds"`
}

// errDryRun rolls the dry run's savepoint back.
var errDryRun = fmt.Errorf("dry run")

// Rollover closes a fiscal year and carries it into the next: every fund
// finds (or gets) next year's fund with the same code; its open
// encumbrances are released and, when the fund says "rollover", encumbered
// again on next year's fund (the order lines' shares move there either way,
// so later invoices are paid from next year); with carry_unspent, what is
// left unspent moves across as a transfer. The closed year takes no new
// orders; next year becomes current. A dry run does all of it inside a
// savepoint, reports the effect and rolls it back.
func (s *Service) Rollover(ctx context.Context, id uuid.UUID, in RolloverInput) (*RolloverResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var from FiscalYear
	r := db.Raw(`SELECT * FROM fiscal_years WHERE id = ? FOR UPDATE`, id).Scan(&from)
	if r.Error != nil {
		return nil, fmt.Errorf("lock fiscal year: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.NotFoundf("no fiscal year with this id")
	}
	from.fill()
	if from.ClosedAt != nil {
		return nil, errs.E(errs.Conflict, "fiscal_year_closed", "fiscal year "+from.Code+" is already closed")
	}
	to, err := s.GetFiscalYear(ctx, in.ToFiscalYearID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("to_fiscal_year_id", "invalid_fiscal_year", "to_fiscal_year_id names no fiscal year of this library")
		}
		return nil, err
	}
	if to.ClosedAt != nil || to.StartsOn <= from.EndsOn {
		return nil, errs.Field("to_fiscal_year_id", "invalid_fiscal_year", "roll over into an open fiscal year that starts after "+from.Code+" ends")
	}
	if ok, _, err := s.canAt(ctx, nil); err != nil || !ok {
		return nil, errs.E(errs.Forbidden, "forbidden", "you may not roll the budget over")
	}
	if err := db.Exec("SAVEPOINT acq_rollover").Error; err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	res, err := s.rollover(ctx, &from, to)
	if err == nil && in.DryRun {
		err = errDryRun
	}
	if err != nil {
		if e := db.Exec("ROLLBACK TO SAVEPOINT acq_rollover").Error; e != nil {
			return nil, fmt.Errorf("rollback to savepoint: %w", e)
		}
		if err != errDryRun {
			return nil, err
		}
		res.DryRun = true
		for i := range res.Funds {
			if res.Funds[i].Created {
				res.Funds[i].ToFundID = nil
			}
		}
		return res, nil
	}
	if err := db.Exec("RELEASE SAVEPOINT acq_rollover").Error; err != nil {
		return nil, fmt.Errorf("release savepoint: %w", err)
	}
	if res.From, err = s.GetFiscalYear(ctx, from.ID); err != nil {
		return nil, err
	}
	if res.To, err = s.GetFiscalYear(ctx, to.ID); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Service) rollover(ctx context.Context, from, to *FiscalYear) (*RolloverResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var olds []Fund
	if err := db.Where("fiscal_year_id = ?", from.ID).Order("id").Find(&olds).Error; err != nil {
		return nil, fmt.Errorf("load funds: %w", err)
	}
	// Parents before children, so a created child finds its parent's successor.
	depth := func(f Fund) int {
		d := 0
		for p := f.ParentID; p != nil && d < 100; d++ {
			i := slices.IndexFunc(olds, func(o Fund) bool { return o.ID == *p })
			if i < 0 {
				break
			}
			p = olds[i].ParentID
		}
		return d
	}
	slices.SortStableFunc(olds, func(a, b Fund) int { return depth(a) - depth(b) })
	next := map[uuid.UUID]uuid.UUID{}
	res := &RolloverResult{From: from, To: to}
	for i := range olds {
		o := &olds[i]
		o.fill()
		var nf Fund
		r := db.Where("fiscal_year_id = ? AND code = ?", to.ID, o.Code).Limit(1).Find(&nf)
		if r.Error != nil {
			return nil, fmt.Errorf("find next year's fund: %w", r.Error)
		}
		rf := RolloverFund{FromFundID: o.ID, Code: o.Code, Policy: o.EncumbranceRollover}
		if r.RowsAffected == 0 {
			nf = Fund{TenantID: o.TenantID, ID: tenants.NewID(), FiscalYearID: to.ID, Code: o.Code, Name: o.Name, BranchID: o.BranchID,
				Currency: o.Currency, WarnBP: o.WarnBP, StopBP: o.StopBP, EncumbranceRollover: o.EncumbranceRollover,
				CarryUnspent: o.CarryUnspent, RolledFromID: &o.ID, Active: o.Active, CreatedAt: s.now(), UpdatedAt: s.now()}
			if o.ParentID != nil {
				if p, ok := next[*o.ParentID]; ok {
					nf.ParentID = &p
				}
			}
			if err := db.Omit("WarnPercent", "StopPercent", "Balances").Create(&nf).Error; err != nil {
				return nil, fmt.Errorf("create next year's fund %s: %w", o.Code, err)
			}
			rf.Created = true
		} else if nf.Currency != o.Currency {
			return nil, errs.E(errs.Invalid, "currency_mismatch", fmt.Sprintf("fund %s is in %s this year and %s next year", o.Code, o.Currency, nf.Currency))
		}
		next[o.ID] = nf.ID
		nid := nf.ID
		rf.ToFundID = &nid
		res.Funds = append(res.Funds, rf)
	}
	// Every fund of both years, locked in id order.
	var ids []uuid.UUID
	for old, nw := range next {
		ids = append(ids, old, nw)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	ids = slices.Compact(ids)
	if _, err := lockFunds(ctx, ids); err != nil {
		return nil, err
	}
	reason := "rollover " + from.Code + " to " + to.Code
	for i := range res.Funds {
		rf := &res.Funds[i]
		o := olds[i]
		cur := o.Currency
		rf.RolledEncumbrance, rf.ReleasedEncumbrance, rf.CarriedUnspent = Money{0, cur}, Money{0, cur}, Money{0, cur}
		// Lines of live orders that draw on this fund.
		var lineIDs []string
		if err := db.Raw(`SELECT lf.po_line_id::text FROM po_line_funds lf JOIN po_lines l ON l.id = lf.po_line_id
  JOIN purchase_orders o ON o.id = l.po_id
WHERE lf.fund_id = ? AND o.status IN ('open', 'partially_received', 'received') ORDER BY lf.po_line_id`, o.ID).Scan(&lineIDs).Error; err != nil {
			return nil, fmt.Errorf("lines of fund %s: %w", o.Code, err)
		}
		lids := make([]uuid.UUID, len(lineIDs))
		for j, s := range lineIDs {
			lids[j] = uuid.MustParse(s)
		}
		open := map[lineFund]int64{}
		if len(lids) > 0 {
			if open, err = openEncumbrances(ctx, lids); err != nil {
				return nil, err
			}
		}
		var txs []Transaction
		to := *rf.ToFundID
		for _, lid := range lids {
			amt := open[lineFund{lid, o.ID}]
			line := lid
			if amt > 0 {
				txs = append(txs, Transaction{FundID: o.ID, Kind: KindRelease, Amount: amt, Currency: cur, POLineID: &line, Reason: reason})
				if o.EncumbranceRollover == "rollover" {
					txs = append(txs, Transaction{FundID: to, Kind: KindEncumbrance, Amount: amt, Currency: cur, POLineID: &line, Reason: reason})
					rf.RolledEncumbrance.Amount += amt
				} else {
					rf.ReleasedEncumbrance.Amount += amt
				}
				rf.Lines++
			}
			if err := db.Exec(`UPDATE po_line_funds SET fund_id = ? WHERE po_line_id = ? AND fund_id = ?`, to, lid, o.ID).Error; err != nil {
				return nil, fmt.Errorf("move line share: %w", err)
			}
		}
		if err := s.post(ctx, txs); err != nil {
			return nil, err
		}
		if o.CarryUnspent {
			f, err := s.GetFund(ctx, o.ID)
			if err != nil {
				return nil, err
			}
			if left := f.Available.Amount; left > 0 {
				from, into := o.ID, to
				if err := s.post(ctx, []Transaction{
					{FundID: o.ID, Kind: KindTransfer, Amount: -left, Currency: cur, RelatedFundID: &into, Reason: reason + ": unspent"},
					{FundID: to, Kind: KindTransfer, Amount: left, Currency: cur, RelatedFundID: &from, Reason: reason + ": unspent"},
				}); err != nil {
					return nil, err
				}
				rf.CarriedUnspent.Amount = left
			}
		}
	}
	for i := range res.Funds {
		nf, err := s.GetFund(ctx, *res.Funds[i].ToFundID)
		if err != nil {
			return nil, err
		}
		res.Funds[i].ToBalances = nf.Balances
	}
	if err := db.Exec(`UPDATE fiscal_years SET current = false, closed_at = now(), updated_at = now() WHERE id = ?`, from.ID).Error; err != nil {
		return nil, fmt.Errorf("close fiscal year: %w", err)
	}
	if err := db.Exec(`UPDATE fiscal_years SET current = (id = ?), updated_at = now() WHERE current OR id = ?`, to.ID, to.ID).Error; err != nil {
		return nil, fmt.Errorf("make next year current: %w", err)
	}
	return res, nil
}
