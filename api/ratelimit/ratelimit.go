// Package ratelimit keeps fixed-window counters in Redis, so every API
// process shares the same limits and lockouts.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counter is a Redis-backed expiring counter (it implements tenants.Counter).
type Counter struct {
	rdb    redis.UniversalClient
	prefix string
}

// New returns a Counter whose keys start with prefix (tests use a random
// prefix so parallel packages never share counters).
func New(rdb redis.UniversalClient, prefix string) *Counter {
	return &Counter{rdb: rdb, prefix: prefix}
}

// incr increments and sets the expiry on first use, atomically: a crash
// between INCR and EXPIRE must never leave a counter that never expires.
var incr = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Incr adds one to key within a window and returns the count.
func (c *Counter) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	n, err := incr.Run(ctx, c.rdb, []string{c.prefix + key}, window.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit incr %s: %w", key, err)
	}
	return n, nil
}

// Get returns key's count and the time left in its window.
func (c *Counter) Get(ctx context.Context, key string) (int64, time.Duration, error) {
	pipe := c.rdb.Pipeline()
	get := pipe.Get(ctx, c.prefix+key)
	ttl := pipe.PTTL(ctx, c.prefix+key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("ratelimit get %s: %w", key, err)
	}
	n, err := get.Int64()
	if errors.Is(err, redis.Nil) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit get %s: %w", key, err)
	}
	return n, max(ttl.Val(), 0), nil
}

// Reset forgets key.
func (c *Counter) Reset(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("ratelimit reset %s: %w", key, err)
	}
	return nil
}

// Allow counts one request against limit per window and reports whether it
// is within the limit, and how long until the window resets.
func (c *Counter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	n, err := c.Incr(ctx, key, window)
	if err != nil {
		return false, 0, err
	}
	if n <= int64(limit) {
		return true, 0, nil
	}
	ttl, err := c.rdb.PTTL(ctx, c.prefix+key).Result()
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit ttl %s: %w", key, err)
	}
	return false, max(ttl, 0), nil
}
