package serials

import (
	"context"

	"github.com/google/uuid"
)

// checkAcquisitions checks the subscription's vendor, fund and PO line.
// Until the acquisitions tables exist these are free ids (see README).
func (s *Service) checkAcquisitions(ctx context.Context, sub *Subscription) error {
	return nil
}

// Vendor is what a claim needs to know about a vendor.
type Vendor struct {
	ID            uuid.UUID
	Name          string
	Email         string
	AccountNumber string
}

// vendors returns the claim contacts of the vendors with ids.
func (s *Service) vendors(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Vendor, error) {
	return map[uuid.UUID]Vendor{}, nil
}
