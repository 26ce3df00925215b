package acquisitions

import (
	"context"
	"testing"
)

// BenchmarkOrderOpenReceive is one title ordered (two funds), opened,
// received and its fund read back, each step its own transaction as over
// HTTP.
func BenchmarkOrderOpenReceive(b *testing.B) {
	l := newLib(b)
	vendor, funds := l.budget(b, 1_000_000_000, 1_000_000_000)
	bib := l.bib(b, "Benchmark")
	for b.Loop() {
		var po *PurchaseOrder
		l.tx(b, func(ctx context.Context) error {
			var err error
			po, err = l.svc.CreatePurchaseOrder(ctx, POInput{VendorID: vendor, Lines: []LineInput{
				l.line(bib, 2, 1999, FundShare{funds[0], 5000}, FundShare{funds[1], 5000})}})
			return err
		})
		l.tx(b, func(ctx context.Context) error { _, err := l.svc.OpenPurchaseOrder(ctx, po.ID); return err })
		l.tx(b, func(ctx context.Context) error {
			_, err := l.svc.Receive(ctx, po.Lines[0].ID, ReceiveInput{Quantity: ptr(2)})
			return err
		})
		l.tx(b, func(ctx context.Context) error { _, err := l.svc.GetFund(ctx, funds[0]); return err })
	}
}
