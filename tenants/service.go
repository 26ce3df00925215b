package tenants

import (
	"context"
	"time"
)

// Counter is the shared, expiring counter behind lockouts and rate limits
// (Redis in production, so several API processes agree).
type Counter interface {
	// Incr adds one to key, starting a window of length window on first use,
	// and returns the new count.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// Get returns key's count and the time left in its window.
	Get(ctx context.Context, key string) (int64, time.Duration, error)
	// Reset forgets key.
	Reset(ctx context.Context, key string) error
}

// Options configure the Service.
type Options struct {
	SessionTTL time.Duration // default 12h
	Hash       HashParams    // default DefaultHashParams
	// Login lockout: after this many failures within LockoutWindow, further
	// attempts for the account (or from the IP) are refused until it passes.
	MaxFailuresPerAccount int // default 5
	MaxFailuresPerIP      int // default 30
	LockoutWindow         time.Duration
	SignupsPerIPPerHour   int // default 20; <0 disables
	Now                   func() time.Time
}

// Service is the tenants module: signup, login, staff, branches, API keys.
type Service struct {
	pool    *Pool
	counter Counter
	opt     Options
	billing Billing
}

// NewService builds the service over pool, using counter for lockouts and
// the signup rate limit.
func NewService(pool *Pool, counter Counter, o Options) *Service {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Hash.Memory == 0 {
		o.Hash = DefaultHashParams
	}
	if o.MaxFailuresPerAccount <= 0 {
		o.MaxFailuresPerAccount = 5
	}
	if o.MaxFailuresPerIP <= 0 {
		o.MaxFailuresPerIP = 30
	}
	if o.LockoutWindow <= 0 {
		o.LockoutWindow = 15 * time.Minute
	}
	if o.SignupsPerIPPerHour == 0 {
		o.SignupsPerIPPerHour = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{pool: pool, counter: counter, opt: o}
}

// Pool returns the pool the service runs on.
func (s *Service) Pool() *Pool { return s.pool }

func (s *Service) now() time.Time { return s.opt.Now().UTC() }
