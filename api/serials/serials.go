// Package serials is the serials module: subscriptions to serial titles,
// the issues their publication pattern predicts, check-in, claims to
// vendors for issues that do not come (or come damaged), renewal reminders,
// routing lists, and holdings summaries. The pattern engine itself (no
// database) is the sub-package pattern.
//
// Issue states: expected → received | late → claimed (again, up to the
// library's max_claims) → missing; damaged issues may be claimed for a
// replacement; not_published records an issue the publisher skipped. An
// issue that was received, claimed or marked by staff is a fact:
// regenerating a subscription's prediction replaces only issues still
// "expected" or "late" and never touches the others.
package serials

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// Enqueuer hands a library's claim run to the workers (the same
// deterministic task id as the nightly run).
type Enqueuer interface {
	EnqueueSerialClaims(ctx context.Context, tenantID uuid.UUID, date string) error
}

// Service is the serials module.
type Service struct {
	tenants *tenants.Service
	catalog *catalog.Service
	acq     *acquisitions.Service
	mail    *notices.Service
	enqueue Enqueuer
	log     *slog.Logger
	now     func() time.Time
}

// NewService builds the serials service. Vendors, funds and orders come
// from acquisitions (acq may be nil in tests of serials alone).
func NewService(t *tenants.Service, cat *catalog.Service, acq *acquisitions.Service) *Service {
	return &Service{tenants: t, catalog: cat, acq: acq, log: slog.Default(), now: time.Now}
}

// SetMailer connects the outbox (claims to vendors, renewal digests to
// staff); without it claims are not sent and issues stay late.
func (s *Service) SetMailer(m *notices.Service) *Service {
	s.mail = m
	return s
}

// SetEnqueuer connects the workers for POST /serials/claims/run.
func (s *Service) SetEnqueuer(e Enqueuer, log *slog.Logger) *Service {
	s.enqueue = e
	if log != nil {
		s.log = log
	}
	return s
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// today is the library's local date.
func (s *Service) today(ctx context.Context) (time.Time, error) {
	loc, err := tenants.Location(ctx)
	if err != nil {
		return time.Time{}, err
	}
	y, m, d := s.now().In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}
