// Package tenants holds the tenant directory, org units (branches), staff
// users, roles, sessions, API keys and signup, and THE tenant transaction
// that every other package uses to reach tenant data.
package tenants

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
)

// ErrNoTenantTx is returned by DB when the context carries no tenant
// transaction. There is deliberately no fallback to the raw pool: a query
// without a tenant scope would see nothing (RLS fails closed) or, worse,
// signal a bug that should be loud.
var ErrNoTenantTx = errors.New("tenants: no tenant transaction in context")

// Pool is the application's connection pool, logged in as the restricted
// role. Its raw handle never leaves this package: other packages reach the
// database only through Tx and DB.
type Pool struct {
	db    *gorm.DB
	sql   *sql.DB
	cache sync.Map // configKey -> *configEntry (see Cached)
}

// PoolOptions tunes the connection pool.
type PoolOptions struct {
	MaxOpenConns int // default 20
	MaxIdleConns int // default MaxOpenConns
}

// Open connects to dsn (the application role's URL).
func Open(ctx context.Context, dsn string, o PoolOptions) (*Pool, error) {
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: dsn}), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true, // every write is already inside Tx
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         false,
	})
	if err != nil {
		return nil, fmt.Errorf("tenants: open pool: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("tenants: open pool: %w", err)
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 20
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = o.MaxOpenConns
	}
	sqlDB.SetMaxOpenConns(o.MaxOpenConns)
	sqlDB.SetMaxIdleConns(o.MaxIdleConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	sqlDB.SetConnMaxLifetime(time.Hour)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("tenants: connect: %w", err)
	}
	return &Pool{db: db, sql: sqlDB}, nil
}

// Close closes the pool.
func (p *Pool) Close() error { return p.sql.Close() }

// Ping reports whether the database answers (readiness).
func (p *Pool) Ping(ctx context.Context) error { return p.sql.PingContext(ctx) }

// Stats exposes pool statistics for metrics.
func (p *Pool) Stats() sql.DBStats { return p.sql.Stats() }

// SQLDB returns the pool's database/sql handle for metrics collectors only.
func (p *Pool) SQLDB() *sql.DB { return p.sql }

type txKey struct{}

type txState struct {
	tx          *gorm.DB
	tenant      uuid.UUID
	pool        *Pool
	afterCommit []func(context.Context)
	// epoch is the library's configuration epoch as the authentication
	// statement read it (hasEpoch), for Cached.
	epoch    int64
	hasEpoch bool
}

// Tx runs fn in one database transaction scoped to tenantID: the first
// statement is set_config('app.tenant_id', ..., true), which is
// transaction-local, so a pooled connection never carries a tenant into the
// next transaction. fn's error (or panic) rolls back; nil commits.
//
// A Tx inside a Tx for the same tenant joins the outer transaction; a Tx for
// another tenant inside a Tx is refused, because it could not be atomic.
func (p *Pool) Tx(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, tx *gorm.DB) error) (err error) {
	return p.TxLead(ctx, tenantID, nil, fn)
}

// Lead is a statement sent in the same round trip as a transaction's BEGIN
// (the API's authentication): Scan reads its rows.
type Lead struct {
	SQL  string
	Args []any
	Scan func(pgx.Rows) error
}

// TxLead is Tx whose first statement, lead, travels with the BEGIN and the
// tenant scope in one round trip (a pipeline); fn runs after it. A failing
// lead rolls back and fn does not run.
func (p *Pool) TxLead(ctx context.Context, tenantID uuid.UUID, lead *Lead, fn func(ctx context.Context, tx *gorm.DB) error) (err error) {
	if tenantID == uuid.Nil {
		return errors.New("tenants: Tx without a tenant id")
	}
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st != nil {
		if st.tenant != tenantID {
			return fmt.Errorf("tenants: Tx for tenant %s inside a transaction of tenant %s", tenantID, st.tenant)
		}
		if lead != nil {
			return errors.New("tenants: TxLead inside a transaction (its lead would not run first)")
		}
		return fn(ctx, st.tx)
	}
	conn, err := p.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("tenants: connection: %w", err)
	}
	// A connection whose transaction did not end cleanly never goes back to
	// the pool: the next request would run inside it, with this tenant.
	clean := false
	defer func() {
		if !clean {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	// BEGIN and the tenant scope in one round trip: a simple-protocol batch
	// (no parameters; the tenant id is a parsed UUID, safe as a literal).
	// Generic plans by default: the API's statements look rows up by key,
	// and planning each execution afresh cost the circulation desk more than
	// running it. Statements whose best plan depends on their values
	// (search, imports) SET LOCAL plan_cache_mode = force_custom_plan.
	ct := &connTx{conn: conn}
	if lead == nil {
		if _, err := conn.ExecContext(ctx, "BEGIN; SELECT set_config('app.tenant_id', '"+tenantID.String()+
			"', true), set_config('plan_cache_mode', 'force_generic_plan', true)"); err != nil {
			return fmt.Errorf("tenants: begin for tenant %s: %w", tenantID, err)
		}
	} else if err := ct.begin(ctx, tenantID, lead); err != nil {
		// BEGIN may have run before the failure: end the transaction, and
		// keep the connection only if that worked.
		clean = ct.end(ctx, "ROLLBACK") == nil
		return err
	}
	tx := p.db.Session(&gorm.Session{NewDB: true, Context: ctx})
	tx.Statement.ConnPool = ct
	st := &txState{tenant: tenantID, tx: tx, pool: p}
	defer func() {
		if r := recover(); r != nil {
			clean = ct.end(ctx, "ROLLBACK") == nil
			panic(r)
		}
	}()
	if err = fn(context.WithValue(ctx, txKey{}, st), tx); err != nil {
		clean = ct.end(ctx, "ROLLBACK") == nil
		if ct.failed != nil {
			return ct.failed
		}
		return err
	}
	if len(ct.deferred) > 0 {
		var werr error
		werr, err = ct.commitWith(ctx)
		if werr != nil {
			// After the failed write the server skipped the COMMIT (or
			// answered it ROLLBACK): end the transaction either way.
			clean = err == nil || ct.end(ctx, "ROLLBACK") == nil
			return werr
		}
	} else {
		err = ct.end(ctx, "COMMIT")
	}
	if err != nil {
		if ct.failed != nil && errors.Is(err, errRolledBack) {
			clean = true // the COMMIT ended the failed transaction
			return ct.failed
		}
		return fmt.Errorf("tenants: commit: %w", err)
	}
	clean = true
	for _, f := range st.afterCommit {
		f(Detach(ctx))
	}
	return nil
}

// connTx is a connection inside a transaction begun by Tx, as GORM's
// connection pool. It is a gorm.TxCommitter, so GORM nests savepoints in it
// (tx.Transaction, SavePoint) instead of beginning another transaction.
type connTx struct {
	conn     *sql.Conn
	deferred []deferredWrite // see WriteLast
	failed   error           // a deferred write's error, reported by Tx before any later one
}

// Every statement first sends the writes deferred to the commit (flush),
// so a statement never runs before a write its code issued earlier.
func (c *connTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.conn.PrepareContext(ctx, query)
}
func (c *connTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.conn.ExecContext(ctx, query, args...)
}
func (c *connTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.conn.QueryContext(ctx, query, args...)
}
func (c *connTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	// On a failed flush the transaction is aborted and the query fails
	// with it; Tx then reports the write's own error (failed).
	_ = c.flush(ctx)
	return c.conn.QueryRowContext(ctx, query, args...)
}

// Commit and Rollback are never called by GORM here (Tx ends the
// transaction); they exist so GORM sees a transaction.
func (c *connTx) Commit() error {
	return errors.New("tenants: the transaction is committed by Pool.Tx")
}
func (c *connTx) Rollback() error {
	return errors.New("tenants: the transaction is rolled back by Pool.Tx")
}

// begin opens the transaction for tenantID and runs lead, pipelined: one
// round trip where BEGIN, the tenant scope and the lead statement used to
// take two.
func (c *connTx) begin(ctx context.Context, tenantID uuid.UUID, lead *Lead) error {
	return c.withPgx(func(pc *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue("SELECT set_config('app.tenant_id', $1, true), set_config('plan_cache_mode', 'force_generic_plan', true)",
			tenantID.String())
		b.Queue(lead.SQL, pgArgs(lead.Args)...)
		br := pc.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("tenants: begin for tenant %s: %w", tenantID, err)
		}
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("tenants: scope to tenant %s: %w", tenantID, err)
		}
		rows, err := br.Query()
		if err == nil {
			err = lead.Scan(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// deferredWrite is a statement WriteLast queued for the commit.
type deferredWrite struct {
	sql    string
	args   []any
	mapErr func(error) error
}

// WriteLast runs a data-modifying statement of the tenant transaction in
// ctx in the same round trip as its COMMIT: for the last write of a unit of
// work, whose result the caller does not read (the desk's loan, item and
// audit statement). query uses GORM's ? placeholders (no ? operators). A
// statement the transaction runs later still runs after it: any later
// statement sends the queued writes first. If the write fails, the
// transaction rolls back and Tx returns mapErr(err) (err when mapErr is
// nil), so the caller maps constraint errors as it would have at once.
func WriteLast(ctx context.Context, query string, args []any, mapErr func(error) error) error {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok || st == nil {
		return ErrNoTenantTx
	}
	ct, ok := st.tx.Statement.ConnPool.(*connTx)
	if !ok {
		return errors.New("tenants: WriteLast outside a Pool.Tx transaction")
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	if n != len(args) {
		return fmt.Errorf("tenants: WriteLast: %d placeholders, %d arguments", n, len(args))
	}
	ct.deferred = append(ct.deferred, deferredWrite{sql: b.String(), args: args, mapErr: mapErr})
	return nil
}

// sendDeferred queues the deferred writes (and then more, e.g. COMMIT)
// into one batch and reports the first write's failure, mapped.
func (c *connTx) sendDeferred(ctx context.Context, then ...string) (werr error, thenTags []string, err error) {
	writes := c.deferred
	c.deferred = nil
	err = c.withPgx(func(pc *pgx.Conn) error {
		b := &pgx.Batch{}
		for _, w := range writes {
			b.Queue(w.sql, pgArgs(w.args)...)
		}
		for _, q := range then {
			b.Queue(q)
		}
		br := pc.SendBatch(ctx, b)
		for _, w := range writes {
			if _, err := br.Exec(); err != nil && werr == nil {
				werr = err
				if w.mapErr != nil {
					werr = w.mapErr(err)
				}
			}
		}
		for range then {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			thenTags = append(thenTags, tag.String())
		}
		return br.Close()
	})
	if werr != nil && c.failed == nil {
		c.failed = werr
	}
	return werr, thenTags, err
}

// flush sends the deferred writes before another statement.
func (c *connTx) flush(ctx context.Context) error {
	if len(c.deferred) == 0 {
		return nil
	}
	werr, _, err := c.sendDeferred(ctx)
	if werr != nil {
		return werr
	}
	return err
}

// commitWith sends the deferred writes and COMMIT in one round trip. werr
// is a write's (mapped) failure, after which the COMMIT answered ROLLBACK
// and the transaction is over; err is any other failure.
func (c *connTx) commitWith(ctx context.Context) (werr, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	werr, tags, err := c.sendDeferred(ctx, "COMMIT")
	if err == nil && werr == nil && (len(tags) != 1 || tags[0] == "ROLLBACK") {
		err = errRolledBack
	}
	return werr, err
}

// withPgx runs fn on the transaction's pgx connection: for pipelines and
// for ending the transaction, which database/sql cannot do.
func (c *connTx) withPgx(fn func(*pgx.Conn) error) error {
	return c.conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("tenants: unexpected driver connection %T", dc)
		}
		return fn(pc.Conn())
	})
}

// errRolledBack is a COMMIT answered ROLLBACK: the transaction had failed
// inside, and it is over.
var errRolledBack = errors.New("tenants: the transaction failed and was rolled back")

// end sends COMMIT or ROLLBACK. A COMMIT of a transaction that failed
// inside answers ROLLBACK: that is an error, as in database/sql.
func (c *connTx) end(ctx context.Context, stmt string) error {
	// Finish even when the request's context is done: the connection must
	// leave the transaction either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return c.withPgx(func(pc *pgx.Conn) error {
		tag, err := pc.Exec(ctx, stmt)
		if err != nil {
			return err
		}
		if stmt == "COMMIT" && tag.String() == "ROLLBACK" {
			return errRolledBack
		}
		return nil
	})
}

// Detach returns ctx without its tenant transaction (values and
// cancellation stay), for work that must open transactions of its own.
func Detach(ctx context.Context) context.Context {
	return context.WithValue(ctx, txKey{}, (*txState)(nil))
}

// AfterCommit runs f once the tenant transaction in ctx has committed (never
// after a rollback): the place to enqueue a task that must see the rows the
// transaction wrote. f gets a context without the finished transaction.
// Without a transaction in ctx it returns ErrNoTenantTx.
func AfterCommit(ctx context.Context, f func(context.Context)) error {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok || st == nil {
		return ErrNoTenantTx
	}
	st.afterCommit = append(st.afterCommit, f)
	return nil
}

// DB returns the tenant transaction carried by ctx, or ErrNoTenantTx.
func DB(ctx context.Context) (*gorm.DB, error) {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok || st == nil {
		return nil, ErrNoTenantTx
	}
	return st.tx.WithContext(ctx), nil
}

// CurrentTenant returns the tenant of the transaction in ctx.
func CurrentTenant(ctx context.Context) (uuid.UUID, error) {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok || st == nil {
		return uuid.Nil, ErrNoTenantTx
	}
	return st.tenant, nil
}

// Location is the time zone of the tenant whose transaction ctx holds (UTC
// if the host's zone database lacks it).
func Location(ctx context.Context) (*time.Location, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	var zone string
	if err := db.Raw("SELECT timezone FROM tenants WHERE id = app.current_tenant_id()").Scan(&zone).Error; err != nil {
		return nil, fmt.Errorf("library time zone: %w", err)
	}
	return tz.OrUTC(zone), nil
}

// platform returns a handle for the few platform-table queries this package
// makes outside any tenant (tenant lookup by slug, the tenant directory for
// schedulers). Tenant tables stay invisible here: RLS fails closed.
func (p *Pool) platform(ctx context.Context) *gorm.DB { return p.db.WithContext(ctx) }

// NewID returns a UUIDv7: time-ordered, so keyset pagination by id follows
// creation order and B-tree inserts stay local.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// PgCode returns the SQLSTATE of err, or "".
func PgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

// SQLSTATE codes the services translate into errs kinds.
const (
	PgUniqueViolation     = "23505"
	PgForeignKeyViolation = "23503"
	PgCheckViolation      = "23514"
)

// Find loads the first row of T matching where in the tenant transaction of
// ctx, or returns a not-found error with the message notFound.
func Find[T any](ctx context.Context, notFound string, where string, args ...any) (*T, error) {
	return find[T](ctx, false, notFound, where, args...)
}

// Lock is Find with the row locked FOR UPDATE, for a state change.
func Lock[T any](ctx context.Context, notFound string, where string, args ...any) (*T, error) {
	return find[T](ctx, true, notFound, where, args...)
}

func find[T any](ctx context.Context, lock bool, notFound string, where string, args ...any) (*T, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	if lock {
		db = db.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var row T
	r := db.Where(where, args...).Limit(1).Find(&row)
	if r.Error != nil {
		return nil, fmt.Errorf("find %T: %w", row, r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.NotFoundf("%s", notFound)
	}
	return &row, nil
}
