package serials

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/api/serials/pattern"
	"github.com/stacks-ils/stacks/tenants"
)

// MFHDView is a subscription as a MARC holdings record (MARC-in-JSON):
// 004 the bib's id, the 853 of its pattern, one 863 per received regular
// issue, and the textual summary (866 $a).
type MFHDView struct {
	SubscriptionID uuid.UUID    `json:"subscription_id"`
	Summary        string       `json:"summary"`
	Record         *marc.Record `json:"record"`
}

// MFHD renders the subscription's holdings as MARC fields.
func (s *Service) MFHD(ctx context.Context, id uuid.UUID) (*MFHDView, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	p := pattern.Pattern(sub.Pattern)
	// Leader/06 y: serial item holdings.
	rec := &marc.Record{Leader: "00000ny  a22000003n 4500", Fields: []marc.Field{{Tag: "001", Value: sub.ID.String()},
		{Tag: "004", Value: sub.BibID.String()}, p.Field853(1)}}
	v := &MFHDView{SubscriptionID: sub.ID, Summary: sub.Holdings, Record: rec}
	var issues []Issue
	if err := db.Where("subscription_id = ? AND kind = 'regular' AND status IN ('received', 'damaged')", id).
		Order("expected_on, seq").Find(&issues).Error; err != nil {
		return nil, fmt.Errorf("received issues: %w", err)
	}
	for i, iss := range issues {
		if len(iss.Enumeration) != len(p.Levels) {
			continue
		}
		h := iss.holding()
		pi := pattern.Issue{Seq: i, Enumeration: h.Enumeration, EnumerationEnd: h.EnumerationEnd, Chronology: h.Chronology, ChronologyEnd: h.ChronologyEnd}
		rec.Fields = append(rec.Fields, p.Field863(1, pi))
	}
	if sub.Holdings != "" {
		rec.Fields = append(rec.Fields, marc.Field{Tag: "866", Ind1: '4', Ind2: '1', Subfields: []marc.Subfield{{Code: '8', Value: "0"}, {Code: 'a', Value: sub.Holdings}}})
	}
	return v, nil
}
