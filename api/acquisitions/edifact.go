package acquisitions

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog/ident"
	"github.com/stacks-ils/stacks/api/errs"
)

// EDIFACT ORDERS (D.96A, EDItEUR library profile EAN008) for vendors that
// take EDI. The message carries the order number and date, buyer and
// supplier, currency, and per line the ISBN, title and author, quantity,
// net unit price, the line reference and the delivery branch.

// edi escapes a data element: the release character ? goes before each
// of the service characters + : ' and ? itself.
func edi(s string) string {
	r := strings.NewReplacer("?", "??", "+", "?+", ":", "?:", "'", "?'", "\n", " ", "\r", " ")
	return r.Replace(s)
}

// ediAmount writes minor units as a decimal with a point (UNA's decimal mark).
func ediAmount(minor int64) string {
	return fmt.Sprintf("%d.%02d", minor/100, minor%100)
}

// EDIFACT renders an open (or later) order as one ORDERS interchange.
func (s *Service) EDIFACT(ctx context.Context, id uuid.UUID) ([]byte, error) {
	po, err := s.GetPurchaseOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	if po.Status == POStatusDraft || po.Status == POStatusCanceled {
		return nil, errs.E(errs.Conflict, "invalid_status", "only an order that was sent can be exported; this one is "+po.Status)
	}
	v, err := s.GetVendor(ctx, po.VendorID)
	if err != nil {
		return nil, err
	}
	lib, err := s.tenants.GetTenant(ctx)
	if err != nil {
		return nil, err
	}
	set, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	// Identifiers: SAN/GLN when known (code list 31B), else the library's
	// slug and the vendor's code as ids assigned by the buyer (92).
	buyer, buyerAgency := set.EDIID, "31B"
	if buyer == "" {
		buyer, buyerAgency = lib.Slug, "92"
	}
	supplier, supplierAgency := v.EDIID, "31B"
	if supplier == "" {
		supplier, supplierAgency = v.Code, "92"
	}
	at := s.now().UTC()
	if po.OrderedAt != nil {
		at = po.OrderedAt.UTC()
	}
	ref := strings.TrimLeft(strings.TrimPrefix(po.Number, "PO"), "0")
	var segs []string
	add := func(format string, args ...any) { segs = append(segs, fmt.Sprintf(format, args...)) }
	add("UNH+%s+ORDERS:D:96A:UN:EAN008", ref)
	add("BGM+220+%s+9", edi(po.Number))
	add("DTM+137:%s:102", at.Format("20060102"))
	add("NAD+BY+%s::%s", edi(buyer), buyerAgency)
	add("NAD+SU+%s::%s", edi(supplier), supplierAgency)
	add("CUX+2:%s:9", v.Currency)
	for i, l := range po.Lines {
		b, err := s.catalog.GetBib(ctx, l.BibID, false)
		if err != nil {
			return nil, err
		}
		isbn := ""
		for _, x := range b.ISBNs {
			if n, ok := ident.NormalizeISBN(x); ok {
				isbn = n
				break
			}
		}
		if isbn != "" {
			add("LIN+%d++%s:EN", i+1, isbn)
			add("PIA+5+%s:IB", isbn)
		} else {
			add("LIN+%d", i+1)
		}
		add("IMD+L+050+:::%s", edi(truncate(b.Title, 70)))
		if len(b.Authors) > 0 {
			add("IMD+L+009+:::%s", edi(truncate(b.Authors[0], 70)))
		}
		add("QTY+21:%d", l.Quantity)
		add("PRI+AAE:%s", ediAmount(l.cost(1)))
		add("RFF+LI:%s/%d", edi(po.Number), l.LineNo)
		br, err := s.tenants.GetBranch(ctx, l.BranchID)
		if err != nil {
			return nil, err
		}
		add("LOC+20+%s::92", edi(br.Code))
	}
	add("UNS+S")
	add("CNT+2:%d", len(po.Lines))
	add("UNT+%d+%s", len(segs)+1, ref) // UNH to UNT, both included
	var b strings.Builder
	b.WriteString("UNA:+.? '")
	fmt.Fprintf(&b, "UNB+UNOC:3+%s:%s+%s:%s+%s:%s+%s'", edi(buyer), buyerAgency, edi(supplier), supplierAgency,
		at.Format("060102"), at.Format("1504"), ref)
	for _, sg := range segs {
		b.WriteString(sg)
		b.WriteString("'")
	}
	fmt.Fprintf(&b, "UNZ+1+%s'", ref)
	return []byte(b.String()), nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
