package acquisitions

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
)

// The ledger invariant: after a randomized (seeded) sequence of orders,
// receipts, invoices, payments, cancellations, closes and transfers, every
// fund's balances equal the sums of its ledger entries, and equal what an
// independent model of the same operations expects.
func TestLedgerInvariant_RandomSequence(t *testing.T) {
	l := newLib(t)
	const nFunds = 3
	allocs := []int64{200000, 150000, 100000}
	vendor, funds := l.budget(t, allocs...)
	bibs := []uuid.UUID{l.bib(t, "Alpha"), l.bib(t, "Beta"), l.bib(t, "Gamma")}
	rng := rand.New(rand.NewPCG(20261127, 8))

	type mline struct {
		id                            uuid.UUID
		po                            uuid.UUID
		qty, received, invoiced, paid int
		price, discountBP             int64
		funds                         []int // indexes into funds
		weights                       []int64
		open                          map[int]int64 // fund index -> open encumbrance
		status                        string
	}
	type mpo struct {
		id     uuid.UUID
		status string
		lines  []*mline
	}
	type minvLine struct {
		line  *mline
		qty   int
		total int64
	}
	type minv struct {
		id     uuid.UUID
		status string
		lines  []minvLine
	}
	allocated := append([]int64(nil), allocs...)
	expended := make([]int64, nFunds)
	var pos []*mpo
	var invoices []*minv
	invNo := 0
	counts := map[string]int{}

	cost := func(ln *mline, n int) int64 { // half up; amounts are positive
		return (int64(n)*ln.price*(10000-ln.discountBP) + 5000) / 10000
	}
	code := func(err error) string {
		if e := errs.As(err); e != nil {
			return e.Code
		}
		return err.Error()
	}

	for step := range 250 {
		switch action := rng.IntN(10); {
		case action < 3: // a new order, opened at once
			var lines []LineInput
			var mls []*mline
			for range 1 + rng.IntN(2) {
				ml := &mline{qty: 1 + rng.IntN(4), price: int64(500 + rng.IntN(4500)), discountBP: []int64{0, 500, 1250}[rng.IntN(3)],
					open: map[int]int64{}, status: "open"}
				var shares []FundShare
				switch rng.IntN(3) {
				case 0:
					ml.funds, ml.weights = []int{rng.IntN(nFunds)}, []int64{10000}
				case 1:
					a := rng.IntN(nFunds)
					ml.funds, ml.weights = []int{a, (a + 1) % nFunds}, []int64{3333, 6667}
				default:
					ml.funds, ml.weights = []int{0, 1, 2}, []int64{3333, 3333, 3334}
				}
				for j, fi := range ml.funds {
					shares = append(shares, FundShare{funds[fi], Percent(ml.weights[j])})
				}
				li := l.line(bibs[rng.IntN(len(bibs))], ml.qty, ml.price, shares...)
				li.Discount = ptr(Percent(ml.discountBP))
				lines = append(lines, li)
				mls = append(mls, ml)
			}
			var po *PurchaseOrder
			err := l.try(func(ctx context.Context) error {
				var err error
				if po, err = l.svc.CreatePurchaseOrder(ctx, POInput{VendorID: vendor, Lines: lines}); err != nil {
					return err
				}
				po, err = l.svc.OpenPurchaseOrder(ctx, po.ID)
				return err
			})
			if err != nil {
				if code(err) != "fund_over_limit" {
					t.Fatalf("step %d: open: %v", step, err)
				}
				counts["refused"]++
				continue
			}
			mp := &mpo{id: po.ID, status: "open"}
			for j, ml := range mls {
				ml.id, ml.po = po.Lines[j].ID, po.ID
				for k, part := range split(cost(ml, ml.qty), ml.weights) {
					ml.open[ml.funds[k]] += part
				}
				mp.lines = append(mp.lines, ml)
			}
			pos = append(pos, mp)
			counts["opened"]++
		case action < 5: // receive some copies of an open line
			var cands []*mline
			for _, p := range pos {
				if p.status == "open" || p.status == "partially_received" {
					for _, ml := range p.lines {
						if ml.status == "open" {
							cands = append(cands, ml)
						}
					}
				}
			}
			if len(cands) == 0 {
				continue
			}
			ml := cands[rng.IntN(len(cands))]
			q := 1 + rng.IntN(ml.qty-ml.received)
			l.tx(t, func(ctx context.Context) error {
				_, err := l.svc.Receive(ctx, ml.id, ReceiveInput{Quantity: &q})
				return err
			})
			ml.received += q
			if ml.received == ml.qty {
				ml.status = "received"
			}
			for _, p := range pos {
				if p.id == ml.po {
					p.status = "received"
					for _, x := range p.lines {
						if x.status == "open" {
							p.status = "partially_received"
						}
					}
				}
			}
			counts["received"]++
		case action < 7: // invoice copies of lines not yet invoiced
			var cands []*mline
			for _, p := range pos {
				if p.status != "canceled" {
					for _, ml := range p.lines {
						if ml.invoiced < ml.qty {
							cands = append(cands, ml)
						}
					}
				}
			}
			if len(cands) == 0 {
				continue
			}
			rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
			cands = cands[:min(len(cands), 1+rng.IntN(2))]
			var in InvoiceInput
			invNo++
			in.VendorID, in.Number, in.Date = vendor, fmt.Sprintf("R-%d", invNo), "2026-11-27"
			qs := make([]int, len(cands))
			for i, ml := range cands {
				qs[i] = 1 + rng.IntN(ml.qty-ml.invoiced)
				price := ml.price * int64(80+rng.IntN(41)) / 100 // 80 % to 120 % of the order price
				in.Lines = append(in.Lines, InvoiceLineInput{POLineID: ml.id, Quantity: qs[i], UnitPrice: &Money{price, "USD"}})
			}
			if rng.IntN(2) == 0 {
				in.Adjustments = []Adjustment{{Kind: "shipping", Amount: Money{int64(rng.IntN(700)), "USD"}}}
			}
			var inv *Invoice
			l.tx(t, func(ctx context.Context) error {
				var err error
				inv, err = l.svc.CreateInvoice(ctx, in)
				return err
			})
			var adj int64
			mi := &minv{id: inv.ID, status: "open"}
			for i, il := range inv.Lines {
				cands[i].invoiced += qs[i]
				mi.lines = append(mi.lines, minvLine{line: cands[i], qty: qs[i], total: il.Total.Amount})
				adj += il.Adjustment.Amount
				if il.Total.Amount != il.Subtotal.Amount+il.Adjustment.Amount {
					t.Fatalf("step %d: invoice line total %d != %d + %d", step, il.Total.Amount, il.Subtotal.Amount, il.Adjustment.Amount)
				}
			}
			if len(in.Adjustments) > 0 && adj != in.Adjustments[0].Amount.Amount {
				t.Fatalf("step %d: adjustments prorated to %d, want %d", step, adj, in.Adjustments[0].Amount.Amount)
			}
			invoices = append(invoices, mi)
			counts["invoiced"]++
		case action < 8: // pay or cancel an open invoice
			var cands []*minv
			for _, iv := range invoices {
				if iv.status == "open" {
					cands = append(cands, iv)
				}
			}
			if len(cands) == 0 {
				continue
			}
			iv := cands[rng.IntN(len(cands))]
			if rng.IntN(4) == 0 {
				l.tx(t, func(ctx context.Context) error {
					_, err := l.svc.CancelInvoice(ctx, iv.id)
					return err
				})
				iv.status = "canceled"
				for _, x := range iv.lines {
					x.line.invoiced -= x.qty
				}
				counts["invoice_canceled"]++
				continue
			}
			l.tx(t, func(ctx context.Context) error {
				if _, err := l.svc.ApproveInvoice(ctx, iv.id); err != nil {
					return err
				}
				_, err := l.svc.PayInvoice(ctx, iv.id)
				return err
			})
			iv.status = "paid"
			for _, x := range iv.lines {
				ml := x.line
				unpaid := int64(ml.qty - ml.paid)
				for _, fi := range ml.funds {
					open := ml.open[fi]
					rel := open
					if int64(x.qty) < unpaid {
						rel = (open*int64(x.qty)*2 + unpaid) / (2 * unpaid)
					}
					ml.open[fi] -= rel
				}
				for k, part := range split(x.total, ml.weights) {
					expended[ml.funds[k]] += part
				}
				ml.paid += x.qty
			}
			counts["paid"]++
		case action < 9: // cancel (nothing received) or close an order, or cancel one line
			if len(pos) == 0 {
				continue
			}
			p := pos[rng.IntN(len(pos))]
			if (p.status == "open" || p.status == "partially_received") && rng.IntN(3) == 0 {
				var open []*mline
				for _, ml := range p.lines {
					if ml.status == "open" {
						open = append(open, ml)
					}
				}
				if len(open) == 0 {
					continue
				}
				ml := open[rng.IntN(len(open))]
				l.tx(t, func(ctx context.Context) error { _, err := l.svc.CancelLine(ctx, ml.id); return err })
				for fi := range ml.open {
					ml.open[fi] = 0
				}
				ml.status = "canceled"
				if ml.received > 0 {
					ml.status = "closed"
				}
				anyOpen, anyReceived := false, false
				for _, x := range p.lines {
					anyOpen = anyOpen || x.status == "open"
					anyReceived = anyReceived || x.received > 0
				}
				switch {
				case anyOpen && anyReceived:
					p.status = "partially_received"
				case anyOpen:
					p.status = "open"
				case anyReceived:
					p.status = "received"
				default:
					p.status = "canceled"
				}
				counts["line_canceled"]++
				continue
			}
			nothing := true
			for _, ml := range p.lines {
				if ml.received > 0 {
					nothing = false
				}
			}
			switch {
			case p.status == "open" && nothing && rng.IntN(2) == 0:
				l.tx(t, func(ctx context.Context) error { _, err := l.svc.CancelPurchaseOrder(ctx, p.id); return err })
				p.status = "canceled"
				counts["po_canceled"]++
			case p.status == "open" || p.status == "partially_received" || p.status == "received":
				l.tx(t, func(ctx context.Context) error { _, err := l.svc.ClosePurchaseOrder(ctx, p.id); return err })
				p.status = "closed"
				counts["po_closed"]++
			default:
				continue
			}
			for _, ml := range p.lines {
				for fi := range ml.open {
					ml.open[fi] = 0
				}
				if ml.status == "open" {
					ml.status = p.status
				}
			}
		default: // transfer between two funds
			a, b := rng.IntN(nFunds), rng.IntN(nFunds-1)
			if b >= a {
				b++
			}
			amount := int64(1 + rng.IntN(20000))
			err := l.try(func(ctx context.Context) error {
				_, err := l.svc.Transfer(ctx, TransferInput{FromFundID: funds[a], ToFundID: funds[b], Amount: &Money{amount, "USD"}, Reason: "random"})
				return err
			})
			if err != nil {
				if code(err) != "fund_over_limit" {
					t.Fatalf("step %d: transfer: %v", step, err)
				}
				continue
			}
			allocated[a] -= amount
			allocated[b] += amount
			counts["transfers"]++
		}
	}
	t.Logf("operations: %v", counts)
	for _, k := range []string{"opened", "received", "invoiced", "paid", "transfers", "po_closed"} {
		if counts[k] == 0 {
			t.Fatalf("the sequence never did %q: %v", k, counts)
		}
	}
	var totalTransfers int64
	for i, id := range funds {
		var led *Ledger
		l.tx(t, func(ctx context.Context) error {
			var err error
			led, err = l.svc.FundLedger(ctx, id)
			return err
		})
		sums := map[string]int64{}
		for _, e := range led.Entries {
			sums[e.Kind] += e.Amount
			if e.Kind != KindAllocation && e.Kind != KindTransfer && e.Amount <= 0 {
				t.Fatalf("fund %d: %s entry of %d", i, e.Kind, e.Amount)
			}
		}
		totalTransfers += sums[KindTransfer]
		f := led.Fund
		fromLedger := Balances{
			Allocated:  Money{sums[KindAllocation] + sums[KindTransfer], "USD"},
			Encumbered: Money{sums[KindEncumbrance] - sums[KindRelease], "USD"},
			Expended:   Money{sums[KindExpenditure] - sums[KindCredit], "USD"},
		}
		fromLedger.Available = Money{fromLedger.Allocated.Amount - fromLedger.Encumbered.Amount - fromLedger.Expended.Amount, "USD"}
		if f.Balances != fromLedger {
			t.Errorf("fund %d: balances %+v, ledger sums %+v", i, f.Balances, fromLedger)
		}
		var enc int64
		for _, p := range pos {
			for _, ml := range p.lines {
				enc += ml.open[i]
			}
		}
		model := Balances{Allocated: Money{allocated[i], "USD"}, Encumbered: Money{enc, "USD"}, Expended: Money{expended[i], "USD"},
			Available: Money{allocated[i] - enc - expended[i], "USD"}}
		if f.Balances != model {
			t.Errorf("fund %d: balances %+v, model %+v", i, f.Balances, model)
		}
		if f.Encumbered.Amount < 0 {
			t.Errorf("fund %d: negative encumbrance", i)
		}
	}
	if totalTransfers != 0 {
		t.Errorf("transfers sum to %d across funds, want 0", totalTransfers)
	}
}
