// Package tenanttest gives each test package a fresh, migrated database,
// cloned from a template database that is built once per migration set, and
// connections as the restricted application role, as in production.
package tenanttest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/stacks-ils/stacks/api/ratelimit"
	"github.com/stacks-ils/stacks/migrations"
	"github.com/stacks-ils/stacks/tenants"
)

// Env is the package's database and Redis.
type Env struct {
	OwnerURL string // the test database as superuser (for catalog inspection)
	AppURL   string // the test database as the application role
	Pool     *tenants.Pool
	Redis    *redis.Client
	Counter  *ratelimit.Counter
	Tenants  *tenants.Service
	Prefix   string // Redis key prefix of this package's run
}

// CheapHash keeps password hashing fast under -race; production uses
// tenants.DefaultHashParams.
var CheapHash = tenants.HashParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

var (
	once   sync.Once
	env    *Env
	envErr error
	dbName string
)

// Main runs the package's tests and drops the package's database after.
// Use it from TestMain: func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if env != nil {
		env.Pool.Close()
		env.Redis.Close()
		if err := dropDatabase(dbName); err != nil {
			fmt.Fprintln(os.Stderr, "tenanttest:", err)
		}
	}
	return code
}

// Get returns the package's Env, creating it on first use.
func Get(t testing.TB) *Env {
	t.Helper()
	once.Do(func() { env, envErr = setup() })
	if envErr != nil {
		t.Fatalf("tenanttest: %v", envErr)
	}
	return env
}

func adminURL() string {
	for _, k := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func withDB(raw, name string) string {
	u, _ := url.Parse(raw)
	u.Path = "/" + name
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// templateName changes whenever a migration changes, so an edited
// migration set never reuses a stale template.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	return "stacks_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], err
}

func setup() (*Env, error) {
	dbName = "stacks_test_" + randHex(6)
	if _, err := createDatabase(dbName, false); err != nil {
		return nil, err
	}
	return open(dbName)
}

// createDatabase builds the template when the migration set has none yet and
// clones it as name. With keep, an existing database of that name is kept
// and created reports false.
func createDatabase(name string, keep bool) (created bool, err error) {
	ctx := context.Background()
	admin := adminURL()
	db, err := sql.Open("pgx", withDB(admin, "postgres"))
	if err != nil {
		return false, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("connect to postgres (is it running? `go tool task services`): %w", err)
	}
	defer conn.Close()
	// One builder at a time across all test packages running in parallel;
	// CREATE DATABASE ... TEMPLATE also needs the template to be idle.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return false, err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(727274)`)
	tmpl, err := templateName()
	if err != nil {
		return false, err
	}
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists); err != nil {
		return false, err
	}
	if !exists {
		// Templates of older migration sets are garbage now; one still in use
		// by another run refuses to drop, which is fine.
		for _, old := range listDatabases(ctx, conn, "stacks_tmpl_%") {
			conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+old)
		}
		building := tmpl + "_building"
		conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`)
		if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+building); err != nil {
			return false, fmt.Errorf("create template: %w", err)
		}
		if err := migrations.Up(ctx, withDB(admin, building), slog.New(slog.DiscardHandler)); err != nil {
			return false, fmt.Errorf("migrate template: %w", err)
		}
		// Renamed only when complete, so a crash never leaves a half-built template.
		if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+tmpl); err != nil {
			return false, fmt.Errorf("finish template: %w", err)
		}
	}
	if keep {
		if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
			return false, err
		}
		if exists {
			return false, nil
		}
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tmpl); err != nil {
		return false, fmt.Errorf("create test database: %w", err)
	}
	return true, nil
}

func open(name string) (*Env, error) {
	ctx := context.Background()
	var err error
	e := &Env{OwnerURL: withDB(adminURL(), name)}
	if e.AppURL, err = migrations.AppURL(e.OwnerURL); err != nil {
		return nil, err
	}
	if e.Pool, err = tenants.Open(ctx, e.AppURL, tenants.PoolOptions{MaxOpenConns: 10}); err != nil {
		return nil, err
	}
	ropt, err := redis.ParseURL(RedisURL())
	if err != nil {
		return nil, err
	}
	e.Redis = redis.NewClient(ropt)
	if err := e.Redis.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("connect to redis (is it running? `go tool task services`): %w", err)
	}
	e.Prefix = "test:" + randHex(4) + ":"
	e.Counter = ratelimit.New(e.Redis, e.Prefix)
	e.Tenants = tenants.NewService(e.Pool, e.Counter, tenants.Options{Hash: CheapHash, SignupsPerIPPerHour: -1})
	return e, nil
}

// Kept returns an Env on a database that outlives the test process, for
// benchmarks whose data takes minutes to generate: stacks_keep_<name>,
// created from the template when missing (created true), otherwise reused
// as it is after applying the migrations it lacks (so a new migration is
// measured on the kept data). Drop it with DROP DATABASE to start afresh.
// The caller closes the Env.
func Kept(t testing.TB, name string) (e *Env, created bool) {
	t.Helper()
	db := "stacks_keep_" + name
	var err error
	if created, err = createDatabase(db, true); err != nil {
		t.Fatalf("tenanttest: %v", err)
	}
	if !created {
		if err := migrations.Up(context.Background(), withDB(adminURL(), db), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("tenanttest: migrate kept database %s: %v", db, err)
		}
	}
	if e, err = open(db); err != nil {
		t.Fatalf("tenanttest: %v", err)
	}
	return e, created
}

// Close closes the Env's pool and Redis client (for Kept Envs).
func (e *Env) Close() {
	e.Pool.Close()
	e.Redis.Close()
}

// RedisURL is the Redis the tests use.
func RedisURL() string {
	for _, k := range []string{"TEST_REDIS_URL", "REDIS_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "redis://127.0.0.1:6379/0"
}

func dropDatabase(name string) error {
	db, err := sql.Open("pgx", withDB(adminURL(), "postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	return err
}

func listDatabases(ctx context.Context, conn *sql.Conn, like string) []string {
	rows, err := conn.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE $1`, like)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if rows.Scan(&s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// Isolated returns a Counter and a Service of their own (fresh Redis key
// prefix), so rate limits and lockouts never leak between tests, nor between
// repetitions of a test under -count. o.Hash defaults to CheapHash and
// o.SignupsPerIPPerHour to -1 (off).
func (e *Env) Isolated(o tenants.Options) (*ratelimit.Counter, *tenants.Service) {
	if o.Hash.Memory == 0 {
		o.Hash = CheapHash
	}
	if o.SignupsPerIPPerHour == 0 {
		o.SignupsPerIPPerHour = -1
	}
	c := ratelimit.New(e.Redis, e.Prefix+randHex(4)+":")
	return c, tenants.NewService(e.Pool, c, o)
}

// Slug returns a signup slug no other test (or repetition) uses.
func Slug(prefix string) string { return prefix + "-" + randHex(5) }

// Signup creates a library with a unique slug (prefix-xxxxx) and its owner,
// for tests that work below the HTTP layer.
func (e *Env) Signup(t testing.TB, prefix string) *tenants.SignupResult {
	t.Helper()
	slug := Slug(prefix)
	res, err := e.Tenants.Signup(context.Background(), tenants.SignupInput{LibraryName: "Library " + slug, Slug: slug,
		AdminEmail: "owner@" + slug + ".example.org", AdminPassword: "Catalogue-Quietly-2026", AdminName: "Owner",
		Kind: tenants.KindLibrary, Timezone: "America/Chicago", Country: "US"}, "127.0.0.1", "test")
	if err != nil {
		t.Fatalf("signup %s: %v", slug, err)
	}
	return res
}
