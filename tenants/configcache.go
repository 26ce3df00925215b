package tenants

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// A library's configuration (its org units, circulation rules and closed
// days) changes a few times a year, yet every desk transaction read it. The
// API keeps it in memory per library and per configuration epoch: a counter
// in config_epochs that a trigger bumps, in the same transaction, on every
// write to branches, tenants, circ_rules and closed_days (migration 0022).
// The authentication statement of each request reads the epoch, so a
// request sees a cached value only when nothing changed since it was
// loaded, and any API process notices a change made by another at once.

// EpochSQL is a scalar subquery for the current library's configuration
// epoch; a Cached loader selects it in the same statement as its data, so
// the data and the epoch it is stored under agree.
const EpochSQL = `(SELECT COALESCE(max(epoch), 0) FROM config_epochs)`

// configTTL bounds how long a cached value lives even when the epoch did
// not move: a safety net for changes made outside the application (a DBA's
// UPDATE as superuser fires the trigger too, but a restore does not).
const configTTL = 5 * time.Minute

type configKey struct {
	tenant uuid.UUID
	name   string
}

type configEntry struct {
	epoch  int64
	loaded time.Time
	value  any
}

// setEpoch records the configuration epoch the request's authentication
// read, which turns on Cached for the rest of the transaction.
func setEpoch(ctx context.Context, epoch int64) {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st != nil {
		st.epoch, st.hasEpoch = epoch, true
	}
}

// Cached returns the value named name of the current library's
// configuration: from memory when it was loaded at the request's epoch,
// otherwise from load, which returns the value and the epoch it read
// (select EpochSQL in the same statement). Without an authenticated request
// (workers, signup) it always calls load. The value is shared between
// requests: callers must treat it as read-only.
func Cached[T any](ctx context.Context, name string, load func(ctx context.Context) (T, int64, error)) (T, error) {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok || st == nil {
		var zero T
		return zero, ErrNoTenantTx
	}
	if !st.hasEpoch || st.pool == nil {
		v, _, err := load(ctx)
		return v, err
	}
	key := configKey{st.tenant, name}
	if e, ok := st.pool.cache.Load(key); ok {
		e := e.(*configEntry)
		if e.epoch == st.epoch && time.Since(e.loaded) < configTTL {
			return e.value.(T), nil
		}
	}
	v, epoch, err := load(ctx)
	if err != nil {
		return v, err
	}
	// Only a value loaded at the request's own epoch is stored: a request
	// that began before a change commits must not cache the newer state
	// under the older epoch, nor the reverse.
	if epoch == st.epoch {
		st.pool.cache.Store(key, &configEntry{epoch: epoch, loaded: time.Now(), value: v})
	}
	return v, nil
}
