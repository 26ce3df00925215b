// Package circulation is the desk: checkout, checkin, renewals, holds,
// transits, lost and claims-returned items, the fines ledger and the audit
// log. Rules and the calendar come from policy, patrons from patrons and
// items from catalog; this package owns loans, holds, transits, fee entries
// and the audit log.
package circulation

import (
	"log/slog"
	"time"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// Service is the circulation module.
type Service struct {
	tenants *tenants.Service
	pool    *tenants.Pool
	catalog *catalog.Service
	patrons *patrons.Service
	policy  *policy.Service
	notices *notices.Service
	log     *slog.Logger
	now     func() time.Time
}

// NewService builds the circulation service and connects patrons to it.
func NewService(t *tenants.Service, cat *catalog.Service, p *patrons.Service, pol *policy.Service) *Service {
	s := &Service{tenants: t, pool: t.Pool(), catalog: cat, patrons: p, policy: pol, log: slog.Default(), now: time.Now}
	p.SetCirculation(s, s)
	return s
}

// SetNotices connects the outbox: trapping a hold queues its notice.
func (s *Service) SetNotices(n *notices.Service) *Service {
	s.notices = n
	return s
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) *Service {
	s.now = now
	return s
}
