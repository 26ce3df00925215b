package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// Config is the billing module's environment.
type Config struct {
	SecretKey     string // STRIPE_SECRET_KEY; empty turns billing off (self-hosted: full access, no limits)
	WebhookSecret string // STRIPE_WEBHOOK_SECRET (whsec_...)
	APIBase       string // STRIPE_API_BASE: stripe-mock in dev and tests; empty is Stripe
	PlansFile     string // BILLING_PLANS_FILE; empty is the built-in plans.json
	GraceDays     int    // BILLING_GRACE_DAYS: full access after a failed payment (default 14)
	RetentionDays int    // BILLING_RETENTION_DAYS: a canceled library's data is kept this long, then deleted (default 90)
	BaseURL       string // where Checkout and the portal send the library back
	// PortalURL is the Stripe customer portal's login link
	// (BILLING_PORTAL_URL, https://billing.stripe.com/p/login/...): billing
	// mail links to it, since portal sessions expire within minutes.
	// Empty: BASE_URL/billing, the staff app's billing page.
	PortalURL string
}

// Enqueuer hands webhook events and quantity changes to the workers.
type Enqueuer interface {
	EnqueueBillingEvent(ctx context.Context, ev EventTask) error
	EnqueueBillingQuantity(ctx context.Context, tenantID uuid.UUID) error
}

// Service is the billing module.
type Service struct {
	cfg     Config
	pool    *tenants.Pool
	plans   *Plans
	sc      *client.API // nil when billing is off
	notices *notices.Service
	enqueue Enqueuer
	log     *slog.Logger
	now     func() time.Time
}

// ErrOff answers billing calls when STRIPE_SECRET_KEY is not set.
var ErrOff = errs.E(errs.Unavailable, "billing_not_configured",
	"billing is not configured on this server (STRIPE_SECRET_KEY); every library has full access")

// New builds the billing service. Without a secret key billing is off: the
// plans are listed, every library has full access and no limits apply.
func New(cfg Config, pool *tenants.Pool, n *notices.Service, log *slog.Logger) (*Service, error) {
	plans, err := LoadPlans(cfg.PlansFile)
	if err != nil {
		return nil, err
	}
	if cfg.GraceDays <= 0 {
		cfg.GraceDays = 14
	}
	if cfg.RetentionDays <= 0 {
		cfg.RetentionDays = 90
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{cfg: cfg, pool: pool, plans: plans, notices: n, log: log, now: time.Now}
	if cfg.SecretKey != "" {
		if cfg.WebhookSecret == "" {
			return nil, errors.New("STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY")
		}
		bc := &stripe.BackendConfig{HTTPClient: &http.Client{Timeout: 30 * time.Second},
			// stripe-go logs request errors itself; ours carry context and
			// never the key.
			LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
		if cfg.APIBase != "" {
			bc.URL = stripe.String(strings.TrimRight(cfg.APIBase, "/"))
		}
		backend := stripe.GetBackendWithConfig(stripe.APIBackend, bc)
		s.sc = client.New(cfg.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
	}
	return s, nil
}

// SetEnqueuer connects the workers.
func (s *Service) SetEnqueuer(e Enqueuer) *Service { s.enqueue = e; return s }

// Enabled reports whether billing is on (entitlements enforced).
func (s *Service) Enabled() bool { return s != nil && s.sc != nil }

// PlansFile is the loaded plans.
func (s *Service) PlansFile() *Plans { return s.plans }

// Account is a library's subscription as Stripe last told us.
type Account struct {
	TenantID             uuid.UUID  `json:"-" gorm:"primaryKey"`
	Plan                 string     `json:"plan"`
	BillingInterval      string     `json:"interval"`
	Status               string     `json:"status"`
	TrialEndsAt          *time.Time `json:"trial_ends_at"`
	StripeCustomerID     string     `json:"stripe_customer_id,omitempty"`
	StripeSubscriptionID string     `json:"stripe_subscription_id,omitempty"`
	Quantity             int        `json:"quantity"`
	CurrentPeriodEnd     *time.Time `json:"current_period_end"`
	CancelAtPeriodEnd    bool       `json:"cancel_at_period_end"`
	CanceledAt           *time.Time `json:"canceled_at"`
	PastDueSince         *time.Time `json:"past_due_since"`
	GraceEndsAt          *time.Time `json:"grace_ends_at"`
	Limits               []byte     `json:"-" gorm:"type:jsonb"`
	SyncedAt             *time.Time `json:"synced_at"`
	CreatedAt            time.Time  `json:"-"`
	UpdatedAt            time.Time  `json:"-"`
}

// TableName is GORM's table.
func (Account) TableName() string { return "billing_accounts" }

// account reads the current library's account (locked when forUpdate).
func account(ctx context.Context, forUpdate bool) (*Account, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := "SELECT * FROM billing_accounts"
	if forUpdate {
		q += " FOR UPDATE"
	}
	var a Account
	r := db.Raw(q).Scan(&a)
	if r.Error != nil {
		return nil, fmt.Errorf("billing account: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		// The tenant trigger creates it; a missing row is our bug, and the
		// library must not pay for it.
		return nil, fmt.Errorf("billing account missing for this library")
	}
	return &a, nil
}

// limits are the account's plan limits: those copied at the last sync, or
// the plan's from the file.
func (s *Service) limits(a *Account) Limits {
	if pl := s.plans.Plan(a.Plan); pl != nil {
		return pl.Limits
	}
	return s.plans.Plan(TrialPlan).Limits
}

// SignedUp starts a new library's trial with the trial plan's length (it
// implements tenants.Billing; runs in the signup transaction).
func (s *Service) SignedUp(ctx context.Context) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	days := s.plans.Plan(TrialPlan).TrialDays
	return db.Exec(`UPDATE billing_accounts SET plan = ?, status = 'trialing', trial_ends_at = ?`,
		TrialPlan, s.now().AddDate(0, 0, days)).Error
}

// usageSQL counts what plan limits bound; each count stops one past the
// limit (LIMIT), so checking a 1,000-record plan never scans a big catalogue.
var usageSQL = map[string]string{
	tenants.ResourceBranches: "SELECT count(*) FROM (SELECT 1 FROM branches WHERE kind = 'branch' LIMIT ?) t",
	tenants.ResourceStaff:    "SELECT count(*) FROM (SELECT 1 FROM staff_users WHERE status = 'active' LIMIT ?) t",
	tenants.ResourceBibs:     "SELECT count(*) FROM (SELECT 1 FROM bibs LIMIT ?) t",
	tenants.ResourcePatrons:  "SELECT count(*) FROM (SELECT 1 FROM patrons LIMIT ?) t",
}

// CheckLimit refuses adding n of resource beyond the plan with 402
// plan_limit_reached (it implements tenants.Billing).
func (s *Service) CheckLimit(ctx context.Context, resource string, n int) error {
	if !s.Enabled() || n <= 0 {
		return nil
	}
	a, err := account(ctx, false)
	if err != nil {
		return err
	}
	limit := s.limits(a).Of(resource)
	if limit <= 0 {
		return nil
	}
	used, err := usage(ctx, resource, limit+1)
	if err != nil {
		return err
	}
	if used+n > limit {
		return errs.E(errs.PaymentRequired, "plan_limit_reached",
			fmt.Sprintf("the %s plan allows %d %s and this library has %d; choose a larger plan (POST /api/v1/billing/checkout) to add more",
				a.Plan, limit, resource, used)).
			WithDetails(map[string]any{"resource": resource, "limit": limit, "used": used, "adding": n, "plan": a.Plan})
	}
	return nil
}

func usage(ctx context.Context, resource string, upTo int) (int, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	if err := db.Raw(usageSQL[resource], upTo).Row().Scan(&n); err != nil {
		return 0, fmt.Errorf("usage of %s: %w", resource, err)
	}
	return n, nil
}

// BranchesChanged asks the workers, after the commit, to set the
// subscription's quantity to the new branch count (it implements
// tenants.Billing).
func (s *Service) BranchesChanged(ctx context.Context) error {
	if !s.Enabled() || s.enqueue == nil {
		return nil
	}
	a, err := account(ctx, false)
	if err != nil || a.StripeSubscriptionID == "" {
		return err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	return tenants.AfterCommit(ctx, func(ctx context.Context) {
		if err := s.enqueue.EnqueueBillingQuantity(ctx, tenant); err != nil {
			s.log.Error("enqueue billing quantity", "tenant_id", tenant, "error", err)
		}
	})
}

// billableBranches is the subscription's quantity: service points
// (branches), at least one.
func billableBranches(ctx context.Context) (int64, error) {
	n, err := usage(ctx, tenants.ResourceBranches, 1<<30)
	return int64(max(n, 1)), err
}

// owners are the addresses billing mail goes to.
func owners(ctx context.Context) ([]string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	err = db.Raw(`SELECT DISTINCT u.email FROM staff_users u JOIN staff_grants g ON g.user_id = u.id
WHERE g.role = 'owner' AND u.status = 'active' ORDER BY u.email`).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("library owners: %w", err)
	}
	return out, nil
}

// tx runs fn in the tenant's transaction as the system.
func (s *Service) tx(ctx context.Context, tenant uuid.UUID, fn func(ctx context.Context, db *gorm.DB) error) error {
	return s.pool.Tx(ctx, tenant, fn)
}

// LogValue keeps the Stripe secrets out of logs: a Config logged by
// mistake shows only whether each is set.
func (c Config) LogValue() slog.Value {
	set := func(s string) string {
		if s == "" {
			return "unset"
		}
		return "[redacted]"
	}
	return slog.GroupValue(slog.String("secret_key", set(c.SecretKey)), slog.String("webhook_secret", set(c.WebhookSecret)),
		slog.String("api_base", c.APIBase), slog.String("plans_file", c.PlansFile), slog.Int("grace_days", c.GraceDays), slog.Int("retention_days", c.RetentionDays))
}

// String redacts like LogValue, for %v.
func (c Config) String() string { return c.LogValue().String() }
