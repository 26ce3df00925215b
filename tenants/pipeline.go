package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Step is one statement of a Pipeline: SQL with $1.. placeholders, its
// arguments, and Dest, a pointer to a struct (filled from the first row)
// or to a slice of structs, scanned the way GORM scans (column names to
// fields, embedded structs included). Rows receives the number of rows.
type Step struct {
	SQL  string
	Args []any
	Dest any
	Rows *int64
}

// Pipeline runs steps in the tenant transaction of ctx in one round trip.
// The server executes them in order, each as its own statement with its
// own snapshot, exactly as if they had been sent one by one: a row lock
// taken by one step is held before the next step reads. Only the waiting
// for each answer is saved. The first failing step's error is returned;
// the transaction is then aborted, as after any failed statement.
func Pipeline(ctx context.Context, steps ...Step) error {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok || st == nil {
		return ErrNoTenantTx
	}
	ct, ok := st.tx.Statement.ConnPool.(*connTx)
	if !ok {
		return errors.New("tenants: pipeline outside a Pool.Tx transaction")
	}
	if err := ct.flush(ctx); err != nil {
		return err
	}
	return ct.withPgx(func(pc *pgx.Conn) error {
		b := &pgx.Batch{}
		for _, s := range steps {
			b.Queue(s.SQL, pgArgs(s.Args)...)
		}
		br := pc.SendBatch(ctx, b)
		var first error
		for _, s := range steps {
			rows, err := br.Query()
			if err == nil {
				err = scanStep(st.tx.WithContext(ctx), rows, s)
			}
			if err != nil && first == nil {
				first = err
			}
		}
		if err := br.Close(); err != nil && first == nil {
			first = err
		}
		return first
	})
}

// scanStep reads one step's rows into its destination with GORM's scanner.
func scanStep(db *gorm.DB, rows pgx.Rows, s Step) error {
	defer rows.Close()
	tx := db.Session(&gorm.Session{NewDB: true})
	if err := tx.Statement.Parse(s.Dest); err != nil && !errors.Is(err, schema.ErrUnsupportedDataType) {
		return err
	}
	tx.Statement.Dest = s.Dest
	tx.Statement.ReflectValue = reflect.ValueOf(s.Dest).Elem()
	r := &gormRows{rows}
	if r.Next() {
		gorm.Scan(r, tx, gorm.ScanInitialized)
	} else {
		tx.RowsAffected = 0
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if tx.Error != nil {
		return tx.Error
	}
	if s.Rows != nil {
		*s.Rows = tx.RowsAffected
	}
	return nil
}

// gormRows is pgx's rows as GORM's Rows.
type gormRows struct{ pgx.Rows }

func (r *gormRows) Columns() ([]string, error) {
	fds := r.FieldDescriptions()
	cols := make([]string, len(fds))
	for i, fd := range fds {
		cols[i] = fd.Name
	}
	return cols, nil
}

// ColumnTypes is used by GORM only for map destinations, which Step does
// not take.
func (r *gormRows) ColumnTypes() ([]*sql.ColumnType, error) {
	return nil, errors.New("tenants: pipeline steps scan into structs")
}

func (r *gormRows) Close() error { r.Rows.Close(); return nil }

// Scan scans like database/sql would for the one conversion GORM's models
// rely on that pgx does not make: a date or timestamp into a string field
// (database/sql formats the time as RFC 3339).
func (r *gormRows) Scan(dest ...any) error {
	dest = slices.Clone(dest) // GORM reads the values from its own slice afterwards
	for i, fd := range r.FieldDescriptions() {
		if i >= len(dest) {
			break
		}
		switch fd.DataTypeOID {
		case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
			switch d := dest[i].(type) {
			case *string:
				dest[i] = &timeText{s: d}
			case **string:
				dest[i] = &timeText{p: d}
			}
		}
	}
	return r.Rows.Scan(dest...)
}

// timeText receives a time as database/sql would put it into a string.
type timeText struct {
	s *string
	p **string
}

func (t *timeText) Scan(v any) error {
	if v == nil {
		if t.p != nil {
			*t.p = nil
		}
		return nil
	}
	tm, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("tenants: want a time, got %T", v)
	}
	text := tm.Format(time.RFC3339Nano)
	if t.p != nil {
		*t.p = &text
	} else {
		*t.s = text
	}
	return nil
}

var namedParam = regexp.MustCompile(`@([a-z_]+)`)

// Named is a statement written with @name parameters (GORM's style),
// compiled once for pipeline Steps: $1.. placeholders, each name one
// number. Compile desk statements at start-up, not per request.
type Named struct {
	SQL   string
	names []string
}

// CompileNamed compiles q.
func CompileNamed(q string) *Named {
	n := &Named{}
	index := map[string]int{}
	n.SQL = namedParam.ReplaceAllStringFunc(q, func(m string) string {
		name := m[1:]
		i, ok := index[name]
		if !ok {
			n.names = append(n.names, name)
			i = len(n.names)
			index[name] = i
		}
		return "$" + strconv.Itoa(i)
	})
	return n
}

// Step binds the statement's parameters from named (a missing name is
// NULL) and scans its rows into dest.
func (n *Named) Step(named map[string]any, dest any) Step {
	args := make([]any, len(n.names))
	for i, name := range n.names {
		args[i] = named[name]
	}
	return Step{SQL: n.SQL, Args: args, Dest: dest}
}

// pgArgs hands uuid.UUID arguments to pgx as the 16 bytes it encodes
// natively: through uuid.UUID's driver.Valuer pgx received text and parsed
// it back, a tenth of the desk's Go time.
func pgArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case uuid.UUID:
			out[i] = [16]byte(v)
		case *uuid.UUID:
			if v != nil {
				out[i] = [16]byte(*v)
			}
		default:
			out[i] = a
		}
	}
	return out
}
