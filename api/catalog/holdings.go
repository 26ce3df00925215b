package catalog

import (
	"context"

	"github.com/google/uuid"
)

// HoldingsSource gives the serial holdings statements of records (the
// serials module: one "Branch, location: v.1-v.12 (2015-2026); lacks v.7
// no.3" per subscription with received issues). Catalog shows them with a
// serial record and its search hits; without a source it shows none.
type HoldingsSource interface {
	Holdings(ctx context.Context, bibIDs []uuid.UUID) (map[uuid.UUID][]string, error)
}

// SetHoldings connects the serial holdings source.
func (s *Service) SetHoldings(h HoldingsSource) *Service {
	s.holdings = h
	return s
}

// fillHoldings sets the holdings of the serial records among bibs.
func (s *Service) fillHoldings(ctx context.Context, ids []uuid.UUID, set func(id uuid.UUID, h []string)) error {
	if s.holdings == nil || len(ids) == 0 {
		return nil
	}
	m, err := s.holdings.Holdings(ctx, ids)
	if err != nil {
		return err
	}
	for id, h := range m {
		set(id, h)
	}
	return nil
}

// serialIDs are the ids of the serial hits.
func serialIDs(hits []Hit) []uuid.UUID {
	var ids []uuid.UUID
	for _, h := range hits {
		if h.Format == FormatSerial {
			ids = append(ids, h.ID)
		}
	}
	return ids
}
