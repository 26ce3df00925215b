package acquisitions

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stacks-ils/stacks/api/catalog"
)

// splitEDI splits an interchange (after its UNA) into segments, each into
// elements and components, honouring the release character.
func splitEDI(t *testing.T, msg string) [][][]string {
	t.Helper()
	if !strings.HasPrefix(msg, "UNA:+.? '") {
		t.Fatalf("no UNA service string advice: %q", msg[:min(len(msg), 20)])
	}
	var segs [][][]string
	var seg [][]string
	var el []string
	var cur strings.Builder
	endEl := func() { el = append(el, cur.String()); cur.Reset() }
	endSeg := func() { endEl(); seg = append(seg, el); el = nil }
	for i := 9; i < len(msg); i++ {
		switch c := msg[i]; c {
		case '?':
			i++
			cur.WriteByte(msg[i])
		case ':':
			endEl()
		case '+':
			endSeg()
		case '\'':
			endSeg()
			segs = append(segs, seg)
			seg = nil
		default:
			cur.WriteByte(c)
		}
	}
	if seg != nil || cur.Len() > 0 {
		t.Fatalf("message does not end with a segment terminator")
	}
	return segs
}

func TestEDIFACT_OrdersSegments(t *testing.T) {
	l := newLib(t)
	l.svc.SetClock(func() time.Time { return time.Date(2026, 11, 27, 15, 4, 0, 0, time.UTC) })
	vendor, funds := l.budget(t, 1000000)
	var msg []byte
	l.tx(t, func(ctx context.Context) error {
		if _, err := l.svc.UpdateVendor(ctx, vendor, VendorInput{EDIID: ptr("5012345678900")}); err != nil {
			return err
		}
		if _, err := l.svc.UpdateSettings(ctx, SettingsInput{EDIID: ptr("0123456")}); err != nil {
			return err
		}
		y := 2019
		sh := FundShare{funds[0], 10000}
		po, err := l.svc.CreatePurchaseOrder(ctx, POInput{VendorID: vendor, Lines: []LineInput{
			{Bib: &catalog.BibForm{Title: "Don't stop: now + then?", Authors: []string{"O'Brien, Flann"}, ISBNs: []string{"0261102214"}, Year: &y},
				Quantity: 3, UnitPrice: &Money{1250, "USD"}, Discount: ptr(Percent(1000)), BranchID: l.branch, Funds: []FundShare{sh}},
			{Bib: &catalog.BibForm{Title: "No identifier"}, Quantity: 1, UnitPrice: &Money{999, "USD"}, Discount: ptr(Percent(0)),
				BranchID: l.branch, Funds: []FundShare{sh}},
		}})
		if err != nil {
			return err
		}
		if _, err := l.svc.EDIFACT(ctx, po.ID); err == nil {
			t.Error("a draft order was exported")
		}
		if _, err := l.svc.OpenPurchaseOrder(ctx, po.ID); err != nil {
			return err
		}
		msg, err = l.svc.EDIFACT(ctx, po.ID)
		return err
	})
	segs := splitEDI(t, string(msg))
	var tags []string
	for _, s := range segs {
		tags = append(tags, s[0][0])
	}
	want := "UNB UNH BGM DTM NAD NAD CUX " +
		"LIN PIA IMD IMD QTY PRI RFF LOC " +
		"LIN IMD QTY PRI RFF LOC " +
		"UNS CNT UNT UNZ"
	if got := strings.Join(tags, " "); got != want {
		t.Fatalf("segments:\n%s\nwant\n%s\n%s", got, want, msg)
	}
	el := func(i, e, c int) string { return segs[i][e][c] }
	checks := []struct {
		seg, e, c int
		want      string
	}{
		{0, 1, 0, "UNOC"}, {0, 2, 0, "0123456"}, {0, 2, 1, "31B"}, {0, 3, 0, "5012345678900"}, {0, 4, 0, "261127"}, {0, 4, 1, "1504"},
		{1, 2, 0, "ORDERS"}, {1, 2, 1, "D"}, {1, 2, 2, "96A"}, {1, 2, 4, "EAN008"},
		{2, 1, 0, "220"}, {2, 2, 0, "PO000001"},
		{3, 1, 0, "137"}, {3, 1, 1, "20261127"}, {3, 1, 2, "102"},
		{4, 1, 0, "BY"}, {4, 2, 0, "0123456"}, {5, 1, 0, "SU"}, {5, 2, 0, "5012345678900"},
		{6, 1, 1, "USD"},
		{7, 1, 0, "1"}, {7, 3, 0, "9780261102217"}, {7, 3, 1, "EN"},
		{8, 2, 0, "9780261102217"}, {8, 2, 1, "IB"},
		{9, 2, 0, "050"}, {9, 3, 3, "Don't stop: now + then?"}, // escaped and read back
		{10, 2, 0, "009"}, {10, 3, 3, "O'Brien, Flann"},
		{11, 1, 0, "21"}, {11, 1, 1, "3"},
		{12, 1, 0, "AAE"}, {12, 1, 1, "11.25"}, // 12.50 less 10 %
		{13, 1, 0, "LI"}, {13, 1, 1, "PO000001/1"},
		{15, 1, 0, "2"}, {18, 1, 1, "9.99"},
		{22, 1, 0, "2"}, {22, 1, 1, "2"}, // CNT: two lines
	}
	for _, c := range checks {
		if got := el(c.seg, c.e, c.c); got != c.want {
			t.Errorf("%s element %d.%d = %q, want %q", tags[c.seg], c.e, c.c, got, c.want)
		}
	}
	// UNT counts the segments from UNH to UNT inclusive and repeats UNH's reference.
	unt := segs[len(segs)-2]
	if n, _ := strconv.Atoi(unt[1][0]); n != len(segs)-2 || unt[2][0] != segs[1][1][0] {
		t.Errorf("UNT %v: %d segments from UNH to UNT", unt, len(segs)-2)
	}
	if unz := segs[len(segs)-1]; unz[1][0] != "1" || unz[2][0] != segs[0][5][0] {
		t.Errorf("UNZ %v does not close UNB's interchange", unz)
	}
}
