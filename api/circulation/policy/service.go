package policy

import (
	"time"

	"github.com/stacks-ils/stacks/tenants"
)

// Service is the rule matrix and calendar module.
type Service struct {
	tenants *tenants.Service
	now     func() time.Time
}

// NewService builds the policy service.
func NewService(t *tenants.Service) *Service { return &Service{tenants: t, now: time.Now} }
