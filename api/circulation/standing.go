package circulation

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// factsSQL reads, in one round trip, everything the desk checks about a
// patron (open, overdue, lost and claimed loans, open holds, balance, open
// loans per item type) and, when @item is given, about the item (is its
// type loanable, does another patron hold exactly this copy, who waits for
// the title). The patron's open loans are read once and counted with
// FILTER: every subquery is plan nodes the executor sets up on each
// checkout, and that setup was a good part of the desk's database time.
// The holds stay separate subqueries, each on its own index: an OR across
// copy and title made the planner scan the library's holds (the count of
// those waiting is therefore two counts, item-level and title-level). The
// ids come in once, through k, and every subquery refers to k.
const factsSQL = `SELECT l.loans, l.overdue, l.lost, l.claims_returned, l.by_type,
  (SELECT count(*) FROM holds WHERE patron_id = k.p AND status IN ('pending', 'in_transit', 'waiting')) AS holds,
  (SELECT COALESCE(sum(CASE WHEN kind IN ('charge', 'refund') THEN amount ELSE -amount END), 0)
     FROM fee_entries WHERE patron_id = k.p) AS balance,
  (SELECT currency FROM tenants WHERE id = app.current_tenant_id()) AS currency,
  COALESCE((SELECT loanable FROM item_types WHERE code = k.typ), true) AS loanable,
  (SELECT id FROM holds WHERE item_id = k.item AND status = 'pending' AND patron_id <> k.p
     AND (suspended_until IS NULL OR suspended_until <= k.day) LIMIT 1) AS other_hold,
  (SELECT id FROM holds WHERE patron_id = k.p AND status = 'pending' AND (item_id = k.item OR (item_id IS NULL AND bib_id = k.bib))
     ORDER BY requested_at LIMIT 1) AS own_hold,
  (SELECT count(*) FROM holds WHERE item_id = k.item AND status = 'pending' AND patron_id <> k.p
     AND (suspended_until IS NULL OR suspended_until <= k.day) AND (not_needed_after IS NULL OR not_needed_after >= k.day))
  + (SELECT count(*) FROM holds WHERE bib_id = k.bib AND item_id IS NULL AND status = 'pending' AND patron_id <> k.p
     AND (suspended_until IS NULL OR suspended_until <= k.day) AND (not_needed_after IS NULL OR not_needed_after >= k.day)) AS waiting,
  (SELECT count(*) FROM items WHERE bib_id = k.bib AND status = 'available') AS free_copies
FROM (SELECT CAST(@p AS uuid) AS p, CAST(@item AS uuid) AS item, CAST(@bib AS uuid) AS bib, CAST(@type AS text) AS typ,
    CAST(@day AS date) AS day) k,
 LATERAL (SELECT count(*) AS loans,
    count(*) FILTER (WHERE status = 'active' AND due_at < @now) AS overdue,
    count(*) FILTER (WHERE status = 'lost') AS lost,
    count(*) FILTER (WHERE status = 'claims_returned') AS claims_returned,
    COALESCE(json_agg(item_type), '[]') AS by_type
  FROM loans WHERE patron_id = k.p AND status <> 'returned') l`

// facts is the result of factsSQL.
type facts struct {
	Loans, Overdue, Lost, ClaimsReturned, Holds int
	ByType                                      jsonRaw
	Balance                                     int64
	Currency                                    string
	Loanable                                    bool
	OtherHold                                   *uuid.UUID
	OwnHold                                     *uuid.UUID
	Waiting, FreeCopies                         int
	loansByType                                 map[string]int
}

func (f *facts) standing() patrons.AccountStanding {
	return patrons.AccountStanding{Balance: f.Balance, Currency: f.Currency, Loans: f.Loans, Overdue: f.Overdue,
		Lost: f.Lost, ClaimsReturned: f.ClaimsReturned, Holds: f.Holds}
}

// loansOf counts open loans of one item type, or all of them for nil.
func (f *facts) loansOf(itemType *string) int {
	if itemType == nil {
		return f.Loans
	}
	if f.loansByType == nil {
		// by_type lists the item type of each open loan.
		var types []string
		json.Unmarshal(f.ByType, &types)
		f.loansByType = map[string]int{}
		for _, t := range types {
			f.loansByType[t]++
		}
	}
	return f.loansByType[*itemType]
}

// loadFacts runs factsSQL for a patron and (optionally) an item.
func (s *Service) loadFacts(ctx context.Context, patronID uuid.UUID, itemID, bibID *uuid.UUID, itemType string, day string) (*facts, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var f facts
	var dayArg any // NULL, not '', when there is no item to check
	if day != "" {
		dayArg = day
	}
	if err := db.Raw(factsSQL, map[string]any{"p": patronID, "now": s.now(), "item": itemID, "bib": bibID, "type": itemType, "day": dayArg}).
		Scan(&f).Error; err != nil {
		return nil, fmt.Errorf("patron standing: %w", err)
	}
	return &f, nil
}

var factsRefs = regexp.MustCompile(`@(p|item|bib|type)\b`)

// deskFacts are factsSQL for the desk's pipeline, where the patron (by card
// or id) and the item (by barcode or id) are not loaded yet: the statement
// finds them itself. Indexed [by card][by barcode], compiled once.
var deskFacts = func() (v [2][2]*tenants.Named) {
	for c, patron := range []string{"CAST(@pid AS uuid)", "(SELECT id FROM patrons WHERE card_number = @card)"} {
		for b, item := range []string{"items WHERE id = @iid", "items WHERE barcode = @barcode"} {
			subst := map[string]string{"@p": patron,
				"@item": "(SELECT id FROM " + item + ")",
				"@bib":  "(SELECT bib_id FROM " + item + ")",
				"@type": "(SELECT item_type FROM " + item + ")"}
			v[c][b] = tenants.CompileNamed(factsRefs.ReplaceAllStringFunc(factsSQL, func(m string) string { return subst[m] }))
		}
	}
	return v
}()

// deskFactsStep is loadFacts as a step of the desk's pipeline. It runs
// after the steps that lock the item and the patron, so it reads with their
// locks held, as loadFacts would.
func (s *Service) deskFactsStep(dest *facts, card string, patronID *uuid.UUID, barcode string, itemID uuid.UUID, day string) tenants.Step {
	return deskFacts[b2i(card != "")][b2i(barcode != "")].Step(map[string]any{"card": card, "pid": patronID,
		"barcode": barcode, "iid": itemID, "now": s.now(), "day": day}, dest)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Standing counts what decides a patron's automatic blocks.
func (s *Service) Standing(ctx context.Context, patronID uuid.UUID) (patrons.AccountStanding, error) {
	f, err := s.loadFacts(ctx, patronID, nil, nil, "", "")
	if err != nil {
		return patrons.AccountStanding{}, err
	}
	return f.standing(), nil
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
