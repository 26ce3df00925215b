package circulation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// factsSQL reads, in one round trip, everything the desk checks about a
// patron (open, overdue, lost and claimed loans, open holds, balance, open
// loans per item type) and, when the item is given, about the item (is its
// type loanable, does another patron hold exactly this copy, who waits for
// the title). Every subquery is plan nodes the executor sets up on each
// checkout, and that setup was a good part of the desk's database time, so
// each table is read once where it can be: the patron's open loans and
// open holds each by one scan counted with FILTER, the holds on this very
// copy by one scan. The title's holds stay a subquery of their own index:
// an OR across copy and title made the planner scan the library's holds.
// The ids come in once, through the row k (@k, see factsK); OFFSET 0
// keeps it a row: flattened, every reference to k.p copied the patron's
// card lookup (six copies, each set up on every execution).
const factsSQL = `SELECT l.loans, l.overdue, l.lost, l.claims_returned, l.by_type, h.holds,
  (SELECT COALESCE(sum(CASE WHEN kind IN ('charge', 'refund') THEN amount ELSE -amount END), 0)
     FROM fee_entries WHERE patron_id = k.p) AS balance,
  (SELECT currency FROM tenants WHERE id = app.current_tenant_id()) AS currency,
  k.loanable, ih.other_hold, h.own_hold, @waiting
FROM (@k OFFSET 0) k,
 LATERAL (SELECT count(*) AS loans,
    count(*) FILTER (WHERE status = 'active' AND due_at < @now) AS overdue,
    count(*) FILTER (WHERE status = 'lost') AS lost,
    count(*) FILTER (WHERE status = 'claims_returned') AS claims_returned,
    COALESCE(json_agg(item_type), '[]') AS by_type
  FROM loans WHERE patron_id = k.p AND status <> 'returned') l,
 LATERAL (SELECT count(*) AS holds,
    (array_agg(id ORDER BY requested_at) FILTER (WHERE status = 'pending'
       AND (item_id = k.item OR (item_id IS NULL AND bib_id = k.bib))))[1] AS own_hold
  FROM holds WHERE patron_id = k.p AND status IN ('pending', 'in_transit', 'waiting')) h,
 LATERAL (SELECT (array_agg(id))[1] AS other_hold,
    count(*) FILTER (WHERE not_needed_after IS NULL OR not_needed_after >= k.day) AS waiting
  FROM holds WHERE item_id = k.item AND status = 'pending' AND patron_id <> k.p
    AND (suspended_until IS NULL OR suspended_until <= k.day)) ih`

// factsWaiting is factsSQL's count of the others waiting for the copy or
// the title, and the title's copies on the shelf: what a renewal checks.
// A checkout does not (a title-level hold does not hold back an available
// copy), so its statement leaves both subqueries out (factsNoWaiting).
const (
	factsWaiting = `ih.waiting + (SELECT count(*) FROM holds WHERE bib_id = k.bib AND item_id IS NULL AND status = 'pending' AND patron_id <> k.p
     AND (suspended_until IS NULL OR suspended_until <= k.day) AND (not_needed_after IS NULL OR not_needed_after >= k.day)) AS waiting,
  (SELECT count(*) FROM items WHERE bib_id = k.bib AND status = 'available') AS free_copies`
	factsNoWaiting = `0 AS waiting, 0 AS free_copies`
)

// factsK is factsSQL's row of ids when the caller knows them: the patron
// (p), the item, its title (bib) and type, and the day.
const factsK = `SELECT CAST(@p AS uuid) AS p, CAST(@item AS uuid) AS item, CAST(@bib AS uuid) AS bib,
    COALESCE((SELECT loanable FROM item_types WHERE code = CAST(@type AS text)), true) AS loanable, CAST(@day AS date) AS day`

// withK is factsSQL with its row of ids and its waiting counts.
func withK(k, waiting string) string {
	return strings.NewReplacer("@k", k, "@waiting", waiting).Replace(factsSQL)
}

var loadFactsSQL = withK(factsK, factsWaiting)

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
	if err := db.Raw(loadFactsSQL, map[string]any{"p": patronID, "now": s.now(), "item": itemID, "bib": bibID, "type": itemType, "day": dayArg}).
		Scan(&f).Error; err != nil {
		return nil, fmt.Errorf("patron standing: %w", err)
	}
	return &f, nil
}

// deskFacts are factsSQL for the desk's pipeline, where the patron (by card
// or id) and the item (by barcode or id) are not loaded yet: the row of ids
// finds them itself, the item and its type in one join. Indexed [by
// card][by barcode][with the waiting counts], compiled once.
var deskFacts = func() (v [2][2][2]*tenants.Named) {
	for c, patron := range []string{"CAST(@pid AS uuid)", "(SELECT id FROM patrons WHERE card_number = @card)"} {
		for b, item := range []string{"it.id = @iid", "it.barcode = @barcode"} {
			for w, waiting := range []string{factsNoWaiting, factsWaiting} {
				v[c][b][w] = tenants.CompileNamed(withK(`SELECT `+patron+` AS p, it.id AS item, it.bib_id AS bib,
    COALESCE(t.loanable, true) AS loanable, CAST(@day AS date) AS day
  FROM (SELECT 1) one LEFT JOIN items it ON `+item+` LEFT JOIN item_types t ON t.code = it.item_type`, waiting))
			}
		}
	}
	return v
}()

// deskFactsStep is loadFacts as a step of the desk's pipeline. It runs
// after the steps that lock the item and the patron, so it reads with their
// locks held, as loadFacts would. With waiting it also counts who waits
// for the item (renewals); without, Waiting and FreeCopies are 0.
func (s *Service) deskFactsStep(dest *facts, card string, patronID *uuid.UUID, barcode string, itemID uuid.UUID, day string, waiting bool) tenants.Step {
	return deskFacts[b2i(card != "")][b2i(barcode != "")][b2i(waiting)].Step(map[string]any{"card": card, "pid": patronID,
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
