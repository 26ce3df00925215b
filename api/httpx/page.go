package httpx

import (
	"encoding/base64"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
)

// Page limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Page is a keyset page request: at most Limit rows after the cursor.
type Page struct {
	Limit int
	After uuid.UUID // zero: from the start
}

// List is the one list shape of the API.
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// ParsePage reads ?limit= and ?cursor=. Cursors are opaque to clients; they
// encode the last id of the previous page (ids are UUIDv7, so id order is
// creation order).
func ParsePage(c *fiber.Ctx) (Page, error) {
	n, err := ParseLimit(c, DefaultLimit)
	p := Page{Limit: n}
	if err != nil {
		return p, err
	}
	if s := c.Query("cursor"); s != "" {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err == nil {
			p.After, err = uuid.FromBytes(raw)
		}
		if err != nil {
			return p, errs.E(errs.BadRequest, "bad_cursor", "cursor is not one this API returned; start again without it").
				WithDetails(map[string]any{"field": "cursor"})
		}
	}
	return p, nil
}

// ParseLimit reads ?limit= (1 to MaxLimit), def when absent. Endpoints with
// their own cursor format (search) use it alone.
func ParseLimit(c *fiber.Ctx, def int) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return def, errs.E(errs.BadRequest, "bad_limit", "limit must be a whole number from 1 to 500").
			WithDetails(map[string]any{"field": "limit"})
	}
	return n, nil
}

// NewList builds the list shape from up to Limit+1 rows fetched in id order:
// the extra row, when present, proves there is a next page.
func NewList[T any](rows []T, p Page, id func(T) uuid.UUID) List[T] {
	l := List[T]{Items: rows}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(rows) > p.Limit {
		l.Items = rows[:p.Limit]
		next := base64.RawURLEncoding.EncodeToString(func() []byte { b := id(rows[p.Limit-1]); return b[:] }())
		l.NextCursor = &next
	}
	return l
}

// BadQuery is the 400 for a malformed query parameter.
func BadQuery(param, message string) error {
	return errs.E(errs.BadRequest, "bad_query", message).WithDetails(map[string]any{"field": param})
}
