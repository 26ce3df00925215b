package migrations_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/stacks-ils/stacks/migrations"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func strs(t *testing.T, db querier, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// tenancyViolations reads the catalog and lists every way a table with a
// tenant_id column breaks the tenancy contract.
func tenancyViolations(t *testing.T, db querier) []string {
	t.Helper()
	checks := []struct{ what, q string }{
		{"row level security not enabled and forced", `
			SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`},
		{"no tenant policy (USING and WITH CHECK on app.current_tenant_id())", `
			SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT EXISTS (
				SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd = '*'
				AND pg_get_expr(p.polqual, p.polrelid) LIKE '%tenant_id = app.current_tenant_id()%'
				AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%tenant_id = app.current_tenant_id()%')`},
		{"tenant_id nullable", `
			SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT a.attnotnull`},
		// GIN indexes over values (full text, arrays, trigrams) are exempt:
		// a tenant_id key there posts every row of the tenant (see 0002);
		// 0019 adds tenant-led GIN indexes beside some of them.
		{"primary key or unique key or b-tree index not led by tenant_id", `
			SELECT c.relname || '.' || ic.relname FROM pg_index i
			JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
			JOIN pg_attribute ta ON ta.attrelid = c.oid AND ta.attname = 'tenant_id' AND NOT ta.attisdropped
			WHERE n.nspname = 'public' AND (am.amname = 'btree' OR i.indisunique) AND i.indkey[0] <> ta.attnum`},
		{"no primary key", `
			SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
			AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)`},
		{"foreign key to a tenant table that is not composite on tenant_id", `
			SELECT c.relname || '.' || con.conname FROM pg_constraint con
			JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attname = 'tenant_id' AND NOT fa.attisdropped
			JOIN pg_attribute la ON la.attrelid = con.conrelid AND la.attname = 'tenant_id' AND NOT la.attisdropped
			WHERE n.nspname = 'public' AND con.contype = 'f'
			AND NOT (con.conkey[1] = la.attnum AND con.confkey[1] = fa.attnum)`},
		// A view runs as its owner unless it is security_invoker, and the
		// owner is not subject to row-level security: such a view over a
		// tenant table would read every library's rows.
		{"view without security_invoker (it would bypass row-level security)", `
			SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname IN ('public', 'app') AND c.relkind = 'v'
			AND NOT COALESCE('security_invoker=true' = ANY (c.reloptions), false)`},
	}
	var out []string
	for _, c := range checks {
		for _, s := range strs(t, db, c.q) {
			out = append(out, s+": "+c.what)
		}
	}
	return out
}

func ownerDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", tenanttest.Get(t).OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestTenantTablesFollowTheContract(t *testing.T) {
	db := ownerDB(t)
	if v := tenancyViolations(t, db); len(v) > 0 {
		t.Fatalf("tenancy contract violations:\n%s", strings.Join(v, "\n"))
	}
	tables := strs(t, db, `SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE a.attname = 'tenant_id' AND c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace`)
	if len(tables) < 5 {
		t.Fatalf("expected the foundation's tenant tables, found %v", tables)
	}
}

// The guard must fail when a table breaks the contract: each case builds a
// broken table inside a transaction that is rolled back.
func TestGuardCatchesBrokenTables(t *testing.T) {
	cases := []struct {
		name, ddl, want string
	}{
		{"no FORCE", `CREATE TABLE probe (tenant_id uuid NOT NULL, id uuid, PRIMARY KEY (tenant_id, id));
			ALTER TABLE probe ENABLE ROW LEVEL SECURITY;
			CREATE POLICY p ON probe USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id())`,
			"probe: row level security not enabled and forced"},
		{"no policy", `CREATE TABLE probe (tenant_id uuid NOT NULL, id uuid, PRIMARY KEY (tenant_id, id));
			ALTER TABLE probe ENABLE ROW LEVEL SECURITY; ALTER TABLE probe FORCE ROW LEVEL SECURITY`,
			"probe: no tenant policy"},
		{"policy dropped from a real table", `DROP POLICY tenant_isolation ON branches`, "branches: no tenant policy"},
		{"FORCE removed from a real table", `ALTER TABLE staff_users NO FORCE ROW LEVEL SECURITY`, "staff_users: row level security not enabled and forced"},
		{"id-only primary key", `CREATE TABLE probe (tenant_id uuid NOT NULL, id uuid PRIMARY KEY);
			ALTER TABLE probe ENABLE ROW LEVEL SECURITY; ALTER TABLE probe FORCE ROW LEVEL SECURITY;
			CREATE POLICY p ON probe USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id())`,
			"probe.probe_pkey: primary key or unique key or b-tree index not led by tenant_id"},
		{"index not led by tenant_id", `CREATE TABLE probe (tenant_id uuid NOT NULL, id uuid, branch uuid, PRIMARY KEY (tenant_id, id),
			CONSTRAINT probe_branch FOREIGN KEY (tenant_id, branch) REFERENCES branches (tenant_id, id));
			CREATE UNIQUE INDEX probe_bad ON probe (branch, tenant_id)`,
			"probe.probe_bad: primary key or unique key or b-tree index not led by tenant_id"},
	}
	db := ownerDB(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.Exec(tc.ddl); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(tenancyViolations(t, tx), "\n")
			if !strings.Contains(got, tc.want) {
				t.Fatalf("guard missed %q; reported:\n%s", tc.want, got)
			}
		})
	}
}

func TestAppRoleIsRestricted(t *testing.T) {
	env := tenanttest.Get(t)
	db, err := sql.Open("pgx", env.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var user, session string
	var super, bypass bool
	err = db.QueryRow(`SELECT current_user, session_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&user, &session, &super, &bypass)
	if err != nil {
		t.Fatal(err)
	}
	if user != migrations.AppRole || session != migrations.AppRole || super || bypass {
		t.Fatalf("pool runs as %s (session %s) super=%v bypassrls=%v; want %s, neither", user, session, super, bypass, migrations.AppRole)
	}
	// The role must not be able to turn into someone else.
	if _, err := db.Exec(`RESET ROLE; SET ROLE postgres`); err == nil {
		t.Fatal("application role could SET ROLE postgres")
	}
	// It owns nothing, so it cannot disable RLS or change policies.
	var owned int
	if err := db.QueryRow(`SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)`).Scan(&owned); err != nil {
		t.Fatal(err)
	}
	if owned != 0 {
		t.Fatalf("application role owns %d relations", owned)
	}
	if _, err := db.Exec(`ALTER TABLE branches DISABLE ROW LEVEL SECURITY`); err == nil {
		t.Fatal("application role could disable RLS")
	}
}

// At the SQL level, as the application role: no tenant set means no rows,
// one tenant never sees or writes another's rows, and a pooled connection
// does not carry the tenant into the next transaction.
func TestRLSFailsClosed(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	a, err := env.Tenants.Signup(ctx, signupInput(tenanttest.Slug("rls-a")), "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Tenants.Signup(ctx, signupInput(tenanttest.Slug("rls-b")), "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", env.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // force connection reuse between transactions

	count := func(tenant string) int {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if tenant != "" {
			if _, err := tx.Exec(`SELECT set_config('app.tenant_id', $1, true)`, tenant); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM branches`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(""); n != 0 {
		t.Fatalf("without a tenant the app role sees %d branches", n)
	}
	if n := count(a.Tenant.ID.String()); n != 2 {
		t.Fatalf("tenant A sees %d branches, want its own 2", n)
	}
	if n := count(""); n != 0 {
		t.Fatalf("a reused connection carried the tenant: %d branches visible", n)
	}
	tx, _ := db.Begin()
	defer tx.Rollback()
	tx.Exec(`SELECT set_config('app.tenant_id', $1, true)`, a.Tenant.ID.String())
	_, err = tx.Exec(`INSERT INTO branches (tenant_id, id, parent_id, kind, name, code, path)
		VALUES ($1, $2, NULL, 'library', 'x', 'X', ARRAY[$2]::uuid[])`, b.Tenant.ID, uuid.New())
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("tenant A wrote a row for tenant B: %v", err)
	}
}

func signupInput(slug string) tenants.SignupInput {
	return tenants.SignupInput{LibraryName: "Library " + slug, Slug: slug, AdminEmail: "owner@" + slug + ".example.org",
		AdminPassword: "correct horse battery", Kind: "library", Timezone: "Europe/Paris", Country: "FR"}
}
