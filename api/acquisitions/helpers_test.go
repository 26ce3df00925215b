package acquisitions

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

// lib is a signed-up library seen by its owner, with the services.
type lib struct {
	env    *tenanttest.Env
	svc    *Service
	cat    *catalog.Service
	tenant uuid.UUID
	ctx    context.Context // carries the owner (no transaction)
	branch uuid.UUID       // the main branch
}

func newLib(t testing.TB) *lib {
	t.Helper()
	env := tenanttest.Get(t)
	res := env.Signup(t, "acq")
	ctx := tenants.WithPrincipal(context.Background(), &tenants.Principal{TenantID: res.Tenant.ID, UserID: res.User.ID,
		Email: res.User.Email, Grants: res.User.Roles})
	cat := catalog.NewService(env.Tenants)
	l := &lib{env: env, svc: NewService(env.Tenants, cat), cat: cat, tenant: res.Tenant.ID, ctx: ctx}
	l.tx(t, func(ctx context.Context) error {
		db, _ := tenants.DB(ctx)
		var id string
		if err := db.Raw(`SELECT id::text FROM branches WHERE kind = 'branch' ORDER BY id LIMIT 1`).Scan(&id).Error; err != nil {
			return err
		}
		l.branch = uuid.MustParse(id)
		return nil
	})
	return l
}

// tx runs fn in a tenant transaction and fails the test on an error.
func (l *lib) tx(t testing.TB, fn func(ctx context.Context) error) {
	t.Helper()
	if err := l.try(fn); err != nil {
		t.Fatal(err)
	}
}

// try runs fn in a tenant transaction and returns its error.
func (l *lib) try(fn func(ctx context.Context) error) error {
	return l.env.Pool.Tx(l.ctx, l.tenant, func(ctx context.Context, _ *gorm.DB) error { return fn(ctx) })
}

func ptr[T any](v T) *T { return &v }

// budget creates a current fiscal year, a USD vendor without discount and
// one fund per allocation (stop at 100 %).
func (l *lib) budget(t testing.TB, allocations ...int64) (vendor uuid.UUID, funds []uuid.UUID) {
	t.Helper()
	l.tx(t, func(ctx context.Context) error {
		fy, err := l.svc.CreateFiscalYear(ctx, FiscalYearInput{Code: ptr("FY1"), StartsOn: ptr("2026-01-01"), EndsOn: ptr("2026-12-31"), Current: ptr(true)})
		if err != nil {
			return err
		}
		v, err := l.svc.CreateVendor(ctx, VendorInput{Code: ptr("V1"), Name: ptr("Vendor"), Currency: ptr("USD"), Email: ptr("v@vendor.example")})
		if err != nil {
			return err
		}
		vendor = v.ID
		for i, a := range allocations {
			f, err := l.svc.CreateFund(ctx, FundInput{Code: ptr("F" + string(rune('A'+i))), Name: ptr("Fund"), FiscalYearID: &fy.ID,
				Allocation: &Money{a, "USD"}, StopPercent: ptr(Percent(10000))})
			if err != nil {
				return err
			}
			funds = append(funds, f.ID)
		}
		return nil
	})
	return vendor, funds
}

// bib creates a record to order.
func (l *lib) bib(t testing.TB, title string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	l.tx(t, func(ctx context.Context) error {
		b, err := l.cat.OrderBib(ctx, &catalog.BibForm{Title: title}, "")
		if err == nil {
			id = b.ID
		}
		return err
	})
	return id
}

// line is an order line of qty copies at price for the given funds (equal shares).
func (l *lib) line(bib uuid.UUID, qty int, price int64, shares ...FundShare) LineInput {
	return LineInput{BibID: &bib, Quantity: qty, UnitPrice: &Money{price, "USD"}, Discount: ptr(Percent(0)), BranchID: l.branch, Funds: shares}
}

func (l *lib) fund(t testing.TB, id uuid.UUID) *Fund {
	t.Helper()
	var f *Fund
	l.tx(t, func(ctx context.Context) error {
		var err error
		f, err = l.svc.GetFund(ctx, id)
		return err
	})
	return f
}
