package acquisitions

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
)

func TestSplit_LargestRemainder(t *testing.T) {
	cases := []struct {
		total   int64
		weights []int64
		want    []int64
	}{
		{5397, []int64{3333, 6667}, []int64{1799, 3598}},
		{100, []int64{3333, 3333, 3334}, []int64{33, 33, 34}},
		{1, []int64{5000, 5000}, []int64{1, 0}}, // tie: the earlier part
		{10, []int64{1, 1, 1}, []int64{4, 3, 3}},
		{0, []int64{1, 2}, []int64{0, 0}},
		{-10, []int64{1, 1, 1}, []int64{-4, -3, -3}},
		{999, []int64{500, 300, 200}, []int64{500, 300, 199}}, // 499.5/299.7/199.8 -> 499,299,199 + 2 to .8 and .7... see below
	}
	// The last case by hand: floors 499, 299, 199 (sum 997); remainders
	// .5, .7, .8; the two spare units go to .8 (third) and .7 (second):
	// 499, 300, 200.
	cases[len(cases)-1].want = []int64{499, 300, 200}
	for _, c := range cases {
		got := split(c.total, c.weights)
		var sum int64
		for _, p := range got {
			sum += p
		}
		if sum != c.total {
			t.Errorf("split(%d, %v) = %v sums to %d", c.total, c.weights, got, sum)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("split(%d, %v) = %v, want %v", c.total, c.weights, got, c.want)
				break
			}
		}
	}
}

func TestPercentAndRate_JSON(t *testing.T) {
	for in, want := range map[string]int64{"50": 5000, "33.33": 3333, `"12.5"`: 1250, "0.01": 1, "100": 10000} {
		var p Percent
		if err := json.Unmarshal([]byte(in), &p); err != nil || int64(p) != want {
			t.Errorf("Percent %s = %d, %v; want %d", in, p, err, want)
		}
		out, _ := json.Marshal(p)
		var back Percent
		if json.Unmarshal(out, &back); back != p {
			t.Errorf("Percent %s round trip: %s", in, out)
		}
	}
	for _, bad := range []string{"1e2", "33.333", `"x"`, "."} {
		var p Percent
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("Percent %s accepted", bad)
		}
	}
	var r Rate
	if err := json.Unmarshal([]byte("1.234567"), &r); err != nil || r != 1234567 {
		t.Fatalf("rate: %d %v", r, err)
	}
	if out, _ := json.Marshal(Rate(900000)); string(out) != "0.9" {
		t.Fatalf("rate out: %s", out)
	}
	for _, bad := range []string{"0", "1000000.000001", "-1", "1e3"} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Fatalf("rate %s accepted", bad)
		}
	}
	// 10.00 × 0.923456 = 9.23456 -> 9.23; 0.005 rounds half up.
	if got := convert(1000, ptr(int64(923456))); got != 923 {
		t.Fatalf("convert: %d", got)
	}
	if got := convert(1, ptr(int64(500000))); got != 1 {
		t.Fatalf("convert half: %d", got)
	}
}

// Two staff open orders against the last money of a fund at the same
// moment: the fund rows are locked in id order, so exactly one order
// encumbers and the other sees it and is refused.
func TestOpen_ConcurrentLastMoney(t *testing.T) {
	l := newLib(t)
	vendor, funds := l.budget(t, 10000, 10000)
	bib := l.bib(t, "Concurrency")
	for round := range 5 {
		// Each order takes 60.00 from each fund: both funds can pay for one, not two.
		var pos [2]uuid.UUID
		for i := range pos {
			l.tx(t, func(ctx context.Context) error {
				// Fund order differs between the two orders: the lock order must not.
				sh := []FundShare{{funds[0], 5000}, {funds[1], 5000}}
				if i == 1 {
					sh[0], sh[1] = sh[1], sh[0]
				}
				po, err := l.svc.CreatePurchaseOrder(ctx, POInput{VendorID: vendor, Lines: []LineInput{l.line(bib, 1, 12000, sh...)}})
				if err == nil {
					pos[i] = po.ID
				}
				return err
			})
		}
		var wg sync.WaitGroup
		results := make([]error, 2)
		start := make(chan struct{})
		for i := range pos {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = l.try(func(ctx context.Context) error {
					_, err := l.svc.OpenPurchaseOrder(ctx, pos[i])
					return err
				})
			}()
		}
		close(start)
		wg.Wait()
		okCount, refused := 0, 0
		for _, err := range results {
			switch {
			case err == nil:
				okCount++
			case errs.As(err) != nil && errs.As(err).Code == "fund_over_limit":
				refused++
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if okCount != 1 || refused != 1 {
			t.Fatalf("round %d: %d opened, %d refused; want 1 and 1", round, okCount, refused)
		}
		for _, f := range funds {
			if got := l.fund(t, f); got.Encumbered.Amount != 6000 || got.Available.Amount != 4000 {
				t.Fatalf("round %d: fund %+v", round, got.Balances)
			}
		}
		// Cancel the winner for the next round.
		for i, err := range results {
			if err == nil {
				l.tx(t, func(ctx context.Context) error {
					_, err := l.svc.CancelPurchaseOrder(ctx, pos[i])
					return err
				})
			}
		}
	}
}

// Twenty orders of 10.00 race for a fund of 100.00: exactly ten open.
func TestOpen_TwentyRaceForTen(t *testing.T) {
	l := newLib(t)
	vendor, funds := l.budget(t, 10000)
	bib := l.bib(t, "Crowd")
	pos := make([]uuid.UUID, 20)
	for i := range pos {
		l.tx(t, func(ctx context.Context) error {
			po, err := l.svc.CreatePurchaseOrder(ctx, POInput{VendorID: vendor, Lines: []LineInput{l.line(bib, 1, 1000, FundShare{funds[0], 10000})}})
			if err == nil {
				pos[i] = po.ID
			}
			return err
		})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened, refused := 0, 0
	start := make(chan struct{})
	for _, id := range pos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := l.try(func(ctx context.Context) error { _, err := l.svc.OpenPurchaseOrder(ctx, id); return err })
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				opened++
			case errs.As(err) != nil && errs.As(err).Code == "fund_over_limit":
				refused++
			default:
				t.Errorf("open: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if opened != 10 || refused != 10 {
		t.Fatalf("%d opened, %d refused; want 10 and 10", opened, refused)
	}
	if f := l.fund(t, funds[0]); f.Encumbered.Amount != 10000 || f.Available.Amount != 0 {
		t.Fatalf("fund: %+v", f.Balances)
	}
}
