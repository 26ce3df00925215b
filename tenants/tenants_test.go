package tenants_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

func TestDB_ErrorsWithoutTenantTransaction(t *testing.T) {
	if _, err := tenants.DB(context.Background()); !errors.Is(err, tenants.ErrNoTenantTx) {
		t.Fatalf("DB without Tx: %v, want ErrNoTenantTx", err)
	}
}

func TestTx_RollsBackOnErrorAndRefusesCrossTenantNesting(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	res := env.Signup(t, "tx")
	tid := res.Tenant.ID
	boom := errors.New("boom")
	err := env.Pool.Tx(ctx, tid, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE branches SET name = 'changed'`).Error; err != nil {
			return err
		}
		// Joining the same tenant's transaction works; another tenant's is refused.
		if err := env.Pool.Tx(ctx, tid, func(context.Context, *gorm.DB) error { return nil }); err != nil {
			t.Errorf("nested Tx for the same tenant: %v", err)
		}
		if err := env.Pool.Tx(ctx, uuid.New(), func(context.Context, *gorm.DB) error { return nil }); err == nil {
			t.Error("nested Tx for another tenant was allowed")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v", err)
	}
	var names []string
	env.Pool.Tx(ctx, tid, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`SELECT name FROM branches`).Scan(&names).Error
	})
	for _, n := range names {
		if n == "changed" {
			t.Fatal("rolled-back update is visible")
		}
	}
	if len(names) != 2 {
		t.Fatalf("tenant sees %d branches, want 2", len(names))
	}
	if err := env.Pool.Tx(ctx, uuid.Nil, func(context.Context, *gorm.DB) error { return nil }); err == nil {
		t.Fatal("Tx with the nil tenant was allowed")
	}
}

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		pw    string
		avoid []string
		ok    bool
	}{
		{"correct horse battery", nil, true},
		{"short", nil, false},
		{"123456789", nil, false},
		{"1234567890", nil, false},
		{"QWERTYUIOP", nil, false},
		{"aaaaaaaaaaaa", nil, false},
		{"marian-the-librarian", []string{"marian"}, false},
		{"springfield-2026!", []string{"springfield"}, false},
		{"Ünïcödé pässwörd", nil, true},
	}
	for _, c := range cases {
		err := tenants.CheckPassword("password", c.pw, c.avoid...)
		if (err == nil) != c.ok {
			t.Errorf("CheckPassword(%q) = %v, want ok=%v", c.pw, err, c.ok)
		}
		if err != nil && errs.KindOf(err) != errs.Invalid {
			t.Errorf("CheckPassword(%q) kind %v, want Invalid", c.pw, errs.KindOf(err))
		}
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		role tenants.Role
		perm tenants.Permission
		want bool
	}{
		{tenants.RoleOwner, tenants.PermBillingManage, true},
		{tenants.RoleAdmin, tenants.PermBillingManage, false},
		{tenants.RoleAdmin, tenants.PermStaffManage, true},
		{tenants.RoleCirculation, tenants.PermCirculate, true},
		{tenants.RoleCirculation, tenants.PermCatalogWrite, false},
		{tenants.RoleCataloger, tenants.PermCatalogWrite, true},
		{tenants.RoleReadonly, tenants.PermCatalogRead, true},
		{tenants.RoleReadonly, tenants.PermPatronsWrite, false},
		{tenants.RoleAcquisitions, tenants.PermAcquisitionsWrite, true},
	}
	for _, c := range cases {
		if got := c.role.Allows(c.perm); got != c.want {
			t.Errorf("%s allows %s = %v, want %v", c.role, c.perm, got, c.want)
		}
	}
	root, east, west := uuid.New(), uuid.New(), uuid.New()
	p := &tenants.Principal{Grants: []tenants.Grant{{Role: tenants.RoleAdmin, BranchID: east}}}
	if !p.CanAt(tenants.PermBranchesManage, []uuid.UUID{root, east}) {
		t.Error("admin at east cannot manage east")
	}
	if p.CanAt(tenants.PermBranchesManage, []uuid.UUID{root, west}) || p.CanAt(tenants.PermBranchesManage, []uuid.UUID{root}) {
		t.Error("admin at east manages outside its subtree")
	}
}

func TestNewAuth_TokenTenant(t *testing.T) {
	svc := new(tenants.Service)
	for _, tok := range []string{"", "st_", "st_zz_abc", "xx_0123456789abcdef0123456789abcdef_" + strings.Repeat("a", 43),
		"st_00000000000000000000000000000000_" + strings.Repeat("a", 43)} {
		if _, err := svc.NewAuth(tok); err == nil {
			t.Errorf("NewAuth(%q) accepted", tok)
		}
	}
	id := uuid.New()
	tok := "st_" + strings.ReplaceAll(id.String(), "-", "") + "_" + strings.Repeat("a", 43)
	if a, err := svc.NewAuth(tok); err != nil || a.Tenant() != id {
		t.Errorf("NewAuth = %v, want tenant %v", err, id)
	}
}

func TestSeedDemoIsIdempotent(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	// The first call creates the demo unless an earlier run (-count) did.
	if _, err := env.Tenants.SeedDemo(ctx); err != nil {
		t.Fatalf("first seed: %v", err)
	}
	created, err := env.Tenants.SeedDemo(ctx)
	if err != nil || created {
		t.Fatalf("second seed: %v %v", created, err)
	}
	tn, _ := env.Pool.TenantBySlug(ctx, tenants.DemoSlug)
	var branches, staff int64
	env.Pool.Tx(ctx, tn.ID, func(ctx context.Context, tx *gorm.DB) error {
		tx.Raw(`SELECT count(*) FROM branches WHERE kind = 'branch'`).Scan(&branches)
		return tx.Raw(`SELECT count(DISTINCT role) FROM staff_grants`).Scan(&staff).Error
	})
	if branches != 2 || staff != 7 {
		t.Fatalf("demo has %d branches and %d roles, want 2 and 7", branches, staff)
	}
	if _, err := env.Tenants.Login(ctx, tenants.LoginInput{Tenant: "demo", Email: tenants.DemoEmail, Password: tenants.DemoPassword}, "1.2.3.4", ""); err != nil {
		t.Fatalf("demo owner cannot log in: %v", err)
	}
}

func TestAfterCommit_RunsOnlyAfterCommit(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	tid := uuid.New()
	var ran []string
	env.Pool.Tx(ctx, tid, func(ctx context.Context, tx *gorm.DB) error {
		tenants.AfterCommit(ctx, func(ctx context.Context) {
			ran = append(ran, "committed")
			if _, err := tenants.DB(ctx); err == nil {
				t.Error("the callback's context still carries the finished transaction")
			}
		})
		// A joined Tx registers on the outer transaction.
		return env.Pool.Tx(ctx, tid, func(ctx context.Context, _ *gorm.DB) error {
			tenants.AfterCommit(ctx, func(context.Context) { ran = append(ran, "inner") })
			if len(ran) != 0 {
				t.Error("callback ran before commit")
			}
			return nil
		})
	})
	env.Pool.Tx(ctx, tid, func(ctx context.Context, tx *gorm.DB) error {
		tenants.AfterCommit(ctx, func(context.Context) { ran = append(ran, "rolled back") })
		return errors.New("rollback")
	})
	if strings.Join(ran, ",") != "committed,inner" {
		t.Fatalf("ran %v", ran)
	}
	if err := tenants.AfterCommit(ctx, func(context.Context) {}); !errors.Is(err, tenants.ErrNoTenantTx) {
		t.Fatalf("AfterCommit outside a Tx: %v", err)
	}
}

func TestStringsArrayRoundTrip(t *testing.T) {
	env := tenanttest.Get(t)
	in := tenants.Strings{"plain", "with, comma", `quote " and \ backslash`, "", "NULL", "{braces}", "Dvořák"}
	var out tenants.Strings
	err := env.Pool.Tx(context.Background(), uuid.New(), func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`SELECT ?::text[]`, in).Row().Scan(&out)
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(out, "|") != strings.Join(in, "|") || len(out) != len(in) {
		t.Fatalf("round trip: %q -> %q", in, out)
	}
}

// A connection leaves every Tx outside any transaction and without a
// tenant, whatever happened inside: an error, a failed statement whose
// error was ignored, a panic. One connection makes sure the next Tx reuses
// the same session.
func TestTx_ConnectionComesBackClean(t *testing.T) {
	env, ctx, pool := onePool(t)
	a, b := env.Signup(t, "clean-a").Tenant.ID, env.Signup(t, "clean-b").Tenant.ID
	count := func(tenant uuid.UUID, code string) int64 { return branchCount(t, pool, tenant, code) }
	insert := func(tx *gorm.DB, code string) {
		if err := tx.Exec(insertBranch, code, code).Error; err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		fn      func(tx *gorm.DB) error
		wantErr bool
	}{
		{"error", func(tx *gorm.DB) error { insert(tx, "ERR"); return errors.New("no") }, true},
		{"ignored failed statement", func(tx *gorm.DB) error {
			insert(tx, "IGN")
			tx.Exec("SELECT 1/0") // error ignored: the transaction is aborted
			return nil
		}, true},
		{"panic", func(tx *gorm.DB) error { insert(tx, "PAN"); panic("boom") }, true},
		{"savepoint rolled back, outer committed", func(tx *gorm.DB) error {
			insert(tx, "OUT")
			tx.Transaction(func(tx *gorm.DB) error { insert(tx, "INN"); return errors.New("inner fails") })
			return nil
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = errors.New("panicked")
					}
				}()
				return pool.Tx(ctx, a, func(ctx context.Context, tx *gorm.DB) error { return c.fn(tx) })
			}()
			if (err != nil) != c.wantErr {
				t.Fatalf("Tx error %v, want error %v", err, c.wantErr)
			}
			// The same connection, now for B: B's scope, no open transaction.
			var scope string
			if err := pool.Tx(ctx, b, func(ctx context.Context, tx *gorm.DB) error {
				return tx.Raw(`SELECT current_setting('app.tenant_id')`).Row().Scan(&scope)
			}); err != nil {
				t.Fatal(err)
			}
			if scope != b.String() {
				t.Fatalf("scope %q in B's transaction", scope)
			}
		})
	}
	for code, want := range map[string]int64{"ERR": 0, "IGN": 0, "PAN": 0, "OUT": 1, "INN": 0} {
		if got := count(a, code); got != want {
			t.Errorf("branch %s: %d rows, want %d", code, got, want)
		}
	}
	// Outside any Tx the pool's session carries no tenant.
	var scope string
	if err := pool.SQLDB().QueryRowContext(ctx, "SELECT current_setting('app.tenant_id', true)").Scan(&scope); err != nil {
		t.Fatal(err)
	}
	if scope != "" {
		t.Fatalf("the connection kept tenant %q after its transactions", scope)
	}
}

// onePool is a pool of one connection, so each Tx reuses the session the
// one before it left.
func onePool(t *testing.T) (*tenanttest.Env, context.Context, *tenants.Pool) {
	t.Helper()
	env := tenanttest.Get(t)
	ctx := context.Background()
	pool, err := tenants.Open(ctx, env.AppURL, tenants.PoolOptions{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return env, ctx, pool
}

// insertBranch adds a branch with name and code ? under the library's root.
const insertBranch = `INSERT INTO branches (tenant_id, id, parent_id, kind, name, code, path)
SELECT tenant_id, gen_random_uuid(), id, 'branch', ?, ?, path FROM branches WHERE parent_id IS NULL`

// branchCount counts the tenant's branches with code, in a Tx of its own.
func branchCount(t *testing.T, pool *tenants.Pool, tenant uuid.UUID, code string) int64 {
	t.Helper()
	var n int64
	if err := pool.Tx(context.Background(), tenant, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw("SELECT count(*) FROM branches WHERE code = ?", code).Scan(&n).Error
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWriteLast checks the write sent with the COMMIT: it commits with the
// transaction, a later statement still sees it, and its failure rolls the
// whole transaction back with the caller's mapped error and leaves the
// pool's one connection usable.
func TestWriteLast(t *testing.T) {
	env, ctx, pool := onePool(t)
	tenant := env.Signup(t, "writelast").Tenant.ID
	const insert = insertBranch
	count := func(code string) int64 { return branchCount(t, pool, tenant, code) }
	taken := errors.New("code taken")
	mapTaken := func(err error) error {
		if code, _ := tenants.PgCode(err); code == tenants.PgUniqueViolation {
			return taken
		}
		return err
	}
	for _, c := range []struct {
		name    string
		fn      func(ctx context.Context, tx *gorm.DB) error
		want    error
		commits map[string]int64
	}{
		{"commits with the transaction", func(ctx context.Context, tx *gorm.DB) error {
			if err := tx.Exec(insert, "WL1", "WL1").Error; err != nil {
				return err
			}
			return tenants.WriteLast(ctx, insert, []any{"WL2", "WL2"}, mapTaken)
		}, nil, map[string]int64{"WL1": 1, "WL2": 1}},
		{"a later statement sees it", func(ctx context.Context, tx *gorm.DB) error {
			if err := tenants.WriteLast(ctx, insert, []any{"WL3", "WL3"}, mapTaken); err != nil {
				return err
			}
			var n int64
			if err := tx.Raw("SELECT count(*) FROM branches WHERE code = 'WL3'").Scan(&n).Error; err != nil || n != 1 {
				return fmt.Errorf("later statement saw %d rows (%v)", n, err)
			}
			return nil
		}, nil, map[string]int64{"WL3": 1}},
		{"its failure rolls everything back, mapped", func(ctx context.Context, tx *gorm.DB) error {
			if err := tx.Exec(insert, "WL4", "WL4").Error; err != nil {
				return err
			}
			return tenants.WriteLast(ctx, insert, []any{"WL1", "WL1"}, mapTaken) // code WL1 exists
		}, taken, map[string]int64{"WL4": 0, "WL1": 1}},
		{"failure seen by a later statement is reported as the write's", func(ctx context.Context, tx *gorm.DB) error {
			if err := tenants.WriteLast(ctx, insert, []any{"WL1", "WL1"}, mapTaken); err != nil {
				return err
			}
			return tx.Exec(insert, "WL5", "WL5").Error
		}, taken, map[string]int64{"WL5": 0}},
		{"failure whose error the code ignored is still reported", func(ctx context.Context, tx *gorm.DB) error {
			if err := tenants.WriteLast(ctx, insert, []any{"WL1", "WL1"}, mapTaken); err != nil {
				return err
			}
			var n int64
			tx.Raw("SELECT count(*) FROM branches").Row().Scan(&n) // error ignored
			return nil
		}, taken, map[string]int64{"WL1": 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := pool.Tx(ctx, tenant, c.fn)
			if !errors.Is(err, c.want) {
				t.Fatalf("Tx = %v, want %v", err, c.want)
			}
			for code, n := range c.commits {
				if got := count(code); got != n {
					t.Errorf("%s: %d rows, want %d", code, got, n)
				}
			}
		})
	}
}
