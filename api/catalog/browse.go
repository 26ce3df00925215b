package catalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Browse indexes: the kinds of heading bib_headings holds.
const (
	BrowseSubject = "subject"
	BrowseAuthor  = "author"
)

// Heading is one entry of a browse index: a heading as catalogued and the
// number of records that carry it.
type Heading struct {
	Heading string `json:"heading"`
	Count   int64  `json:"count"`
	SortKey string `json:"-"`
}

// browseCursor is the position after the last heading of a page. It names
// its index so that a cursor of one index is not taken for the other.
type browseCursor struct {
	Index   string `json:"i"`
	Key     string `json:"k"`
	Heading string `json:"h"`
}

func badBrowseCursor() error {
	return errs.E(errs.BadRequest, "bad_cursor", "cursor is not one this API returned; start again without it").
		WithDetails(map[string]any{"field": "cursor"})
}

// usableText reports whether s can be sent to PostgreSQL as text.
func usableText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// Browse lists the headings of one index (subject or author) in folded
// alphabetical order with the number of records carrying each: from the
// first heading whose sort key is at or after the folded from, or after
// cursor (a next_cursor of this index) when given. Sort keys are
// app.heading_key, the same SQL function the bib_headings trigger stores,
// so the start point and the stored keys always agree.
func (s *Service) Browse(ctx context.Context, index, from, cursor string, limit int) (*httpx.List[Heading], error) {
	if index != BrowseSubject && index != BrowseAuthor {
		return nil, httpx.BadQuery("index", `index must be "subject" or "author"`)
	}
	if !usableText(from) {
		return nil, httpx.BadQuery("from", "from must be UTF-8 text without NUL characters")
	}
	if limit < 1 || limit > httpx.MaxLimit {
		limit = httpx.DefaultLimit
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	// Row-level security scopes bib_headings to the tenant; the browse index
	// leads with tenant_id, so the policy's condition is its first key column.
	q := `SELECT sort_key, heading, count(*) AS count FROM bib_headings WHERE kind = ? AND `
	args := []any{index}
	if cursor != "" {
		var cur browseCursor
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || json.Unmarshal(raw, &cur) != nil || cur.Index != index ||
			!usableText(cur.Key) || !usableText(cur.Heading) {
			return nil, badBrowseCursor()
		}
		q += `(sort_key, heading) > (?, ?)`
		args = append(args, cur.Key, cur.Heading)
	} else {
		q += `(sort_key, heading) >= (app.heading_key(?), '')`
		args = append(args, from)
	}
	q += ` GROUP BY sort_key, heading ORDER BY sort_key, heading LIMIT ?`
	args = append(args, limit+1)
	var rows []Heading
	if err := db.Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("browse %s headings: %w", index, err)
	}
	list := &httpx.List[Heading]{Items: rows}
	if list.Items == nil {
		list.Items = []Heading{}
	}
	if len(rows) > limit {
		list.Items = rows[:limit]
		last := list.Items[limit-1]
		raw, _ := json.Marshal(browseCursor{Index: index, Key: last.SortKey, Heading: last.Heading})
		next := base64.RawURLEncoding.EncodeToString(raw)
		list.NextCursor = &next
	}
	return list, nil
}

func (s *Service) handleBrowse(c *fiber.Ctx) error {
	limit, err := httpx.ParseLimit(c, httpx.DefaultLimit)
	if err != nil {
		return err
	}
	list, err := s.Browse(c.UserContext(), c.Query("index"), c.Query("from"), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(list)
}

// browseRoutes declares heading browse; Routes appends it.
func (s *Service) browseRoutes() []httpx.Route {
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/browse", Perm: string(tenants.PermCatalogRead),
			Summary: "Browse subject or author headings", Handler: s.handleBrowse},
	}
}
