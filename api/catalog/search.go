package catalog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog/callnumber"
	"github.com/stacks-ils/stacks/api/catalog/ident"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// SearchRequest is a parsed GET /search.
type SearchRequest struct {
	Q       string
	Filters []string // "format:book", "year:1990-1999", "branch:<id>", "availability:available", ...
	Facets  []string // format, language, year, subject, author, branch, availability
	Sort    string   // relevance (default with q), title (default without), author, date, date_asc
	Limit   int
	Cursor  string
}

// FacetNames are the facets a search can count.
var FacetNames = []string{"format", "language", "year", "subject", "author", "branch", "availability"}

// SearchResult is the answer of GET /search.
type SearchResult struct {
	Total int64 `json:"total"`
	// TotalExact is false when more records match than search looks at
	// (DefaultSearchCap): total is then an estimate, facets count the first
	// matches, and relevance ranks those.
	TotalExact bool                    `json:"total_exact"`
	Results    []Hit                   `json:"results"`
	Facets     map[string][]FacetValue `json:"facets"`
	NextCursor *string                 `json:"next_cursor"`
	Fuzzy      bool                    `json:"fuzzy"`                  // nothing matched as typed: these results are for DidYouMean
	DidYouMean string                  `json:"did_you_mean,omitempty"` // the query with its unknown words corrected
}

// Hit is one search result.
type Hit struct {
	ID           uuid.UUID       `json:"id"`
	Title        string          `json:"title"`
	Authors      tenants.Strings `json:"authors"`
	Year         *int            `json:"year" gorm:"column:pub_year"`
	ISBNs        tenants.Strings `json:"isbns" gorm:"column:isbns"`
	Format       string          `json:"format"`
	CallNumber   string          `json:"call_number"`
	Availability Availability    `json:"availability" gorm:"-"`
	Holdings     []string        `json:"holdings,omitempty" gorm:"-"` // serials: one statement per subscription
	SortKey      string          `json:"-"`
	Rank         float32         `json:"-"`
}

// Availability counts a bib's copies.
type Availability struct {
	Copies    int                  `json:"copies"`
	Available int                  `json:"available"`
	Holds     int                  `json:"holds"` // holds arrive with circulation; none can exist before
	ByBranch  []BranchAvailability `json:"by_branch"`
}

// BranchAvailability counts copies at one branch.
type BranchAvailability struct {
	BranchID  uuid.UUID `json:"branch_id"`
	Copies    int       `json:"copies"`
	Available int       `json:"available"`
}

// FacetValue is one value of a facet with its count.
type FacetValue struct {
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
	Count int64  `json:"count"`
}

// sqlExpr is a SQL boolean fragment with its arguments, or a pure
// to_tsquery text (ts) that can still merge with its siblings.
type sqlExpr struct {
	ts   string
	sql  string
	args []any
}

// tsQuerySQL is a query text (five times the same argument) as a tsquery:
// stemmed English OR the words as written, once when the two are the same
// (most words: 'world' <-> 'war' both ways), which the planner folds to a
// constant. GIN evaluates the query for every candidate row: the doubled
// phrase made "world war" at 1M records a third slower.
const tsQuerySQL = `(CASE WHEN to_tsquery('app.stacks_english', ?) = to_tsquery('app.stacks_simple', ?)
	THEN to_tsquery('app.stacks_english', ?) ELSE to_tsquery('app.stacks_english', ?) || to_tsquery('app.stacks_simple', ?) END)`

// tsMatchSQL matches what tsQuerySQL matches with the stemmed English query
// alone, when that query lost no word to the English stop list: a record
// with a word as written also holds its English stem at the same position,
// so the words as written add no matches to AND, OR and phrases of whole
// words (NOT and prefixes can; tsSQL keeps tsQuerySQL for them). The GIN
// index then reads one posting list per word instead of two: "american
// history" at 1M records took 14-17 ms for its bitmap instead of 25-28.
// Ranking still uses tsQuerySQL, so the order is the same.
const tsMatchSQL = `(CASE WHEN numnode(to_tsquery('app.stacks_english', ?)) = numnode(to_tsquery('app.stacks_simple', ?))
	THEN to_tsquery('app.stacks_english', ?) ELSE to_tsquery('app.stacks_english', ?) || to_tsquery('app.stacks_simple', ?) END)`

// rankSQL is the relevance of a record for the positive leaves of a query:
// ts_rank_cd over the OR of every leaf, each leaf stemmed English OR as
// written (tsQuerySQL) on its own. The query as a whole ("american" |
// "history") differs between the two dictionaries as soon as one word
// does, and then carried every word that is the same both ways twice
// ('american' | 'histori' | 'american' | 'history'); ts_rank_cd looks each
// operand up in every candidate's vector, so the duplicates cost a fifth of
// its time (2,000 candidates: 4.1 ms instead of 3.3) and change nothing: it
// merges operands found at the same position, and the ranks are the same
// (TestRankSQL_SameRanksAsWholeQuery).
func rankSQL(positive []string) (string, []any) {
	parts := make([]string, len(positive))
	var args []any
	for i, ts := range positive {
		parts[i] = tsQuerySQL
		args = append(args, ts, ts, ts, ts, ts)
	}
	return `ts_rank_cd(search, ` + strings.Join(parts, " || ") + `)`, args
}

func tsSQL(ts string) sqlExpr {
	match := tsMatchSQL
	if strings.ContainsAny(ts, "!*") {
		match = tsQuerySQL
	}
	return sqlExpr{sql: `search @@ ` + match, args: []any{ts, ts, ts, ts, ts}}
}

func (e sqlExpr) toSQL() sqlExpr {
	if e.ts != "" {
		return tsSQL(e.ts)
	}
	return e
}

// A search condition runs on bib_search (relevance, facets; migration
// 0021) or, through onBibs, on bibs (title, author and date order), so
// besides the search vector it names only columns both tables have (id and
// the facet values); identifiers, which only bibs keeps with their indexes,
// are looked up there by id.
const isbnSQL = "id IN (SELECT id FROM bibs WHERE isbns @> ARRAY[?]::text[])"

type compiler struct {
	positive []string // TS leaves that are not negated, for ranking
}

func (c *compiler) compile(n *node, negated bool) sqlExpr {
	switch n.kind {
	case nTerm:
		return c.term(n, negated)
	case nNot:
		inner := c.compile(n.kids[0], !negated)
		if inner.ts != "" {
			return sqlExpr{ts: "!" + inner.ts}
		}
		return sqlExpr{sql: "NOT (" + inner.sql + ")", args: inner.args}
	}
	op, tsop := " AND ", " & "
	if n.kind == nOr {
		op, tsop = " OR ", " | "
	}
	a, b := c.compile(n.kids[0], negated), c.compile(n.kids[1], negated)
	if a.ts != "" && b.ts != "" {
		return sqlExpr{ts: "(" + a.ts + tsop + b.ts + ")"}
	}
	a, b = a.toSQL(), b.toSQL()
	return sqlExpr{sql: "(" + a.sql + op + b.sql + ")", args: append(a.args, b.args...)}
}

func (c *compiler) term(n *node, negated bool) sqlExpr {
	switch n.field {
	case "isbn":
		if isbn, err := ident.ParseISBN(n.text); err == nil {
			return sqlExpr{sql: isbnSQL, args: []any{isbn.ISBN13()}}
		}
		return sqlExpr{sql: "false"}
	case "issn":
		if issn, err := ident.ParseISSN(n.text); err == nil {
			return sqlExpr{sql: "id IN (SELECT id FROM bibs WHERE issns @> ARRAY[?]::text[])", args: []any{issn.String()}}
		}
		return sqlExpr{sql: "false"}
	case "barcode":
		return sqlExpr{sql: "id IN (SELECT bib_id FROM items WHERE barcode = ?)", args: []any{n.text}}
	case "callnumber":
		return sqlExpr{sql: "id IN (SELECT id FROM bibs WHERE starts_with(call_number_sort, ?))", args: []any{callnumber.Key(n.text)}}
	}
	ts := tsLeaf(n)
	if ts == "" {
		return sqlExpr{sql: "true"}
	}
	if !negated {
		c.positive = append(c.positive, ts)
	}
	// A bare identifier-looking word also finds the record by ISBN or by an
	// item's barcode: staff scan or paste these into the search box.
	if n.field == "" && !n.phrase && strings.ContainsAny(n.text, "0123456789") {
		e := tsSQL(ts)
		e.sql = "(" + e.sql + " OR id IN (SELECT bib_id FROM items WHERE barcode = ?)"
		e.args = append(e.args, n.text)
		if isbn, err := ident.ParseISBN(n.text); err == nil {
			e.sql += " OR " + isbnSQL
			e.args = append(e.args, isbn.ISBN13())
		}
		e.sql += ")"
		return e
	}
	return sqlExpr{ts: ts}
}

// filterSQL turns ?filter= values into conditions; values of the same
// facet are ORed, different facets ANDed.
func filterSQL(filters []string) (string, []any, error) {
	groups := map[string][]sqlExpr{}
	var order []string
	for _, f := range filters {
		name, val, ok := strings.Cut(f, ":")
		if !ok || val == "" {
			return "", nil, errs.E(errs.BadRequest, "bad_filter", fmt.Sprintf("filter %q must look like facet:value, e.g. format:book", f))
		}
		var e sqlExpr
		switch name {
		case "format":
			e = sqlExpr{sql: "format = ?", args: []any{val}}
		case "language":
			e = sqlExpr{sql: "language = ?", args: []any{val}}
		case "subject":
			e = sqlExpr{sql: "subjects @> ARRAY[?]::text[]", args: []any{val}}
		case "author":
			e = sqlExpr{sql: "authors @> ARRAY[?]::text[]", args: []any{val}}
		case "year":
			lo, hi, isRange := strings.Cut(val, "-")
			from, err1 := strconv.Atoi(lo)
			to := from
			var err2 error
			if isRange {
				to, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil || to < from {
				return "", nil, errs.E(errs.BadRequest, "bad_filter", "year filter is a year or a range such as 1990-1999")
			}
			e = sqlExpr{sql: "pub_year BETWEEN ? AND ?", args: []any{from, to}}
		case "branch":
			id, err := uuid.Parse(val)
			if err != nil {
				return "", nil, errs.E(errs.BadRequest, "bad_filter", "branch filter takes a branch id")
			}
			// A library or consortium filter includes every branch below it.
			e = sqlExpr{sql: "id IN (SELECT bib_id FROM items WHERE branch_id IN (SELECT b.id FROM branches b WHERE ? = ANY(b.path)))", args: []any{id}}
		case "availability":
			switch val {
			case "available":
				e = sqlExpr{sql: "id IN (SELECT bib_id FROM items WHERE status = 'available')"}
			case "all":
				continue
			default:
				return "", nil, errs.E(errs.BadRequest, "bad_filter", `availability filter is "available" or "all"`)
			}
		default:
			return "", nil, errs.E(errs.BadRequest, "bad_filter", fmt.Sprintf("unknown filter facet %q; use one of %s", name, strings.Join(FacetNames, ", ")))
		}
		if _, seen := groups[name]; !seen {
			order = append(order, name)
		}
		groups[name] = append(groups[name], e)
	}
	var parts []string
	var args []any
	for _, name := range order {
		var ors []string
		for _, e := range groups[name] {
			ors = append(ors, e.sql)
			args = append(args, e.args...)
		}
		parts = append(parts, "("+strings.Join(ors, " OR ")+")")
	}
	return strings.Join(parts, " AND "), args, nil
}

type cursor struct {
	Key  string    `json:"k"`
	Rank float32   `json:"r"`
	ID   uuid.UUID `json:"i"`
}

// Search runs a keyword search with filters, facets, sorting and keyset paging.
func (s *Service) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	// A word in half the catalogue wants a different plan than a rare one;
	// a generic plan cached from earlier searches made common-word queries
	// 3x slower at 1M records. Plan each statement for its own values.
	// JIT off: a search over a large catalogue costs enough for PostgreSQL's
	// default jit_above_cost, and compiling it took longer than running it
	// (tens of ms per search), whatever the server's postgresql.conf says.
	// random_page_cost 1.1 (the README's setting for SSDs, set here so search
	// does not depend on it): at the default 4 the planner priced walking the
	// tenant's B-tree and testing every record's vector the same as the
	// (tenant_id, search) GIN bitmap, picked the walk, and read 2-3x the
	// pages; with 100 tenants x 10k records that was half the search's time.
	if err := db.Exec(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true),
		set_config('random_page_cost', '1.1', true)`).Error; err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	tree, err := ParseQuery(req.Q)
	if err != nil {
		return nil, err
	}
	for _, f := range req.Facets {
		if !slices.Contains(FacetNames, f) {
			return nil, errs.E(errs.BadRequest, "bad_facet", fmt.Sprintf("unknown facet %q; use %s", f, strings.Join(FacetNames, ",")))
		}
	}
	c := &compiler{}
	where, args := "true", []any{}
	if tree != nil {
		e := c.compile(tree, false).toSQL()
		where, args = e.sql, e.args
	}
	fsql, fargs, err := filterSQL(req.Filters)
	if err != nil {
		return nil, err
	}
	if fsql != "" {
		where, args = "("+where+") AND "+fsql, append(args, fargs...)
	}
	res, err := s.searchWhere(ctx, req, where, args, c.positive)
	if err != nil {
		return nil, err
	}
	// Nothing matched: correct unknown words against the catalogue's own
	// words ("harry poter" -> "harry potter") and search again.
	if res.Total == 0 && req.Cursor == "" && tree != nil && len(c.positive) > 0 {
		corrected, changed, err := s.correct(ctx, req.Q)
		if err != nil {
			return nil, err
		}
		if changed {
			again := req
			again.Q = corrected
			res2, err := s.Search(ctx, again)
			if err != nil {
				return nil, err
			}
			if res2.Total > 0 {
				res2.Fuzzy, res2.DidYouMean = true, corrected
				return res2, nil
			}
		}
	}
	return res, nil
}

// correct replaces each word of q that no record of the catalogue contains
// by the most similar word that one does (trigram similarity over the
// search_words dictionary). changed reports whether anything was replaced.
func (s *Service) correct(ctx context.Context, q string) (string, bool, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", false, err
	}
	var words []string
	for _, t := range tokens(q) {
		if f := Fold(t); len([]rune(f)) >= 3 && !strings.ContainsAny(f, "0123456789") {
			words = append(words, f)
		}
	}
	if len(words) == 0 {
		return q, false, nil
	}
	var known []string
	if err := db.Raw(`SELECT word FROM search_words WHERE word = ANY(?::text[])`, tenants.Strings(words)).Scan(&known).Error; err != nil {
		return "", false, fmt.Errorf("spelling: %w", err)
	}
	changed := false
	for _, t := range tokens(q) {
		f := Fold(t)
		if slices.Contains(known, f) || !slices.Contains(words, f) {
			continue
		}
		var best []string
		if err := db.Raw(`SELECT word FROM search_words WHERE word % ? ORDER BY similarity(word, ?) DESC, word LIMIT 1`, f, f).
			Scan(&best).Error; err != nil {
			return "", false, fmt.Errorf("spelling: %w", err)
		}
		if len(best) == 1 {
			q, changed = strings.Replace(q, t, best[0], 1), true
		}
	}
	return q, changed, nil
}

func (s *Service) searchWhere(ctx context.Context, req SearchRequest, where string, args []any, positive []string) (*SearchResult, error) {
	db, _ := tenants.DB(ctx)
	sortBy := req.Sort
	if sortBy == "" {
		sortBy = "title"
		if len(positive) > 0 {
			sortBy = "relevance"
		}
	}
	var rankExpr string
	var rankArgs []any
	switch sortBy {
	case "relevance":
		if len(positive) == 0 {
			sortBy = "title"
			break
		}
		rankExpr, rankArgs = rankSQL(positive)
	case "title", "author", "date", "date_asc":
	default:
		return nil, errs.E(errs.BadRequest, "bad_sort", "sort must be relevance, title, author, date or date_asc")
	}
	keyExpr := map[string]string{"title": "title_sort", "author": "author_sort",
		"date": "lpad(coalesce(pub_year, 0)::text, 4, '0')", "date_asc": "lpad(coalesce(pub_year, 9999)::text, 4, '0')"}[sortBy]
	desc := sortBy == "date"
	var cur cursor
	if req.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(req.Cursor)
		if err != nil || json.Unmarshal(raw, &cur) != nil {
			return nil, errs.E(errs.BadRequest, "bad_cursor", "cursor is not one this API returned; start again without it")
		}
	}
	cols := `id, title, authors, pub_year, isbns, format, call_number`
	var hits []Hit
	var facetRows []facetRow
	if rankExpr != "" {
		// Relevance ranks the first searchCap matches (in index order), as
		// Evergreen caps its searches: ranking every record of a query that
		// matches a third of a million-record catalogue takes seconds. One
		// statement reads that candidate set once for the page, the total
		// and the facets.
		//
		// The candidates come from the narrow bib_search (vector and facet
		// values); only the page's rows are read from the wide bibs.
		candidates := `SELECT id, format, language, pub_year, subjects, authors, ` + rankExpr + ` AS rank FROM `
		limit := s.searchCap()
		// c holds one match more than the cap, to tell whether the total is exact.
		c := candidates + `bib_search WHERE ` + where + ` LIMIT ?`
		qargs := append(append(append([]any{}, rankArgs...), args...), limit+1)
		large, err := s.largeCatalogue(ctx)
		if err != nil {
			return nil, err
		}
		if large {
			// In a large catalogue a query that matches a tenth of it has
			// GIN posting lists of a hundred thousand records and more,
			// all read into a bitmap before the first candidate ("world
			// war" at 1M: 50 ms). Walking the records in id order and
			// testing each finds the cap's worth of such dense matches in
			// a few thousand records. A sample of the first records says
			// whether the query is dense enough (s); the walk stops after
			// probeRecords (p); when it finds fewer than the cap the index
			// answers as for any other query. Each step is skipped (a
			// one-time filter) when the one before decided, and the choice
			// depends on the catalogue only, so every page of a search
			// ranks the same candidates.
			c = `WITH s AS MATERIALIZED (SELECT count(*) FILTER (WHERE hit) * 1000 >= ` + strconv.Itoa(probeDensityPermille) + ` * count(*) AS dense
    FROM (SELECT (` + where + `) AS hit FROM (SELECT * FROM bib_search ORDER BY id LIMIT ` + strconv.Itoa(probeSample) + `) x) x),
p AS MATERIALIZED (` + candidates + `(SELECT * FROM bib_search ORDER BY id LIMIT ` + strconv.Itoa(probeRecords) + `) x
    WHERE (` + where + `) AND (SELECT dense FROM s) LIMIT ?)
SELECT * FROM p WHERE (SELECT count(*) FROM p) > ?
UNION ALL (` + candidates + `bib_search WHERE (` + where + `) AND (SELECT count(*) FROM p) <= ? LIMIT ?)`
			qargs = append([]any{}, args...)
			qargs = append(append(append(qargs, rankArgs...), args...), limit+1, limit)
			qargs = append(append(append(qargs, rankArgs...), args...), limit, limit+1)
		}
		q := `WITH c AS MATERIALIZED (` + c + `),
m AS (SELECT * FROM c),
top AS (SELECT id, rank FROM (SELECT * FROM c LIMIT ?) ranked`
		qargs = append(qargs, limit)
		if req.Cursor != "" {
			q += ` WHERE (rank < ?::real OR (rank = ?::real AND id > ?))`
			qargs = append(qargs, cur.Rank, cur.Rank, cur.ID)
		}
		q += ` ORDER BY rank DESC, id LIMIT ?),
page AS (SELECT ` + qualified("b", cols) + `, top.rank FROM top JOIN bibs b ON b.id = top.id)
SELECT 'page' AS facet, row_to_json(page)::text AS value, '' AS label, 0::bigint AS count FROM page
UNION ALL SELECT 'total', '', '', count(*) FROM m` + facetUnions(req.Facets)
		qargs = append(qargs, req.Limit+1)
		if err := db.Raw(q, qargs...).Scan(&facetRows).Error; err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		for _, r := range facetRows {
			if r.Facet != "page" {
				continue
			}
			var row struct {
				ID         uuid.UUID `json:"id"`
				Title      string    `json:"title"`
				Authors    []string  `json:"authors"`
				PubYear    *int      `json:"pub_year"`
				ISBNs      []string  `json:"isbns"`
				Format     string    `json:"format"`
				CallNumber string    `json:"call_number"`
				Rank       float32   `json:"rank"`
			}
			if err := json.Unmarshal([]byte(r.Value), &row); err != nil {
				return nil, fmt.Errorf("search: page row: %w", err)
			}
			hits = append(hits, Hit{ID: row.ID, Title: row.Title, Authors: row.Authors, Year: row.PubYear, ISBNs: row.ISBNs,
				Format: row.Format, CallNumber: row.CallNumber, Rank: row.Rank})
		}
		// UNION ALL keeps no order: restore the page's.
		slices.SortFunc(hits, func(a, b Hit) int {
			if a.Rank != b.Rank {
				return cmp.Compare(b.Rank, a.Rank)
			}
			return bytes.Compare(a.ID[:], b.ID[:])
		})
	} else {
		// Other orders walk their index and stop after one page.
		dir, op := "", ">"
		if desc {
			dir, op = " DESC", "<"
		}
		q := `SELECT ` + cols + `, ` + keyExpr + ` AS sort_key FROM bibs WHERE ` + onBibs(where)
		qargs := append([]any{}, args...)
		if req.Cursor != "" {
			q += " AND (" + keyExpr + " COLLATE \"C\" " + op + " ? OR (" + keyExpr + " = ? AND id > ?))"
			qargs = append(qargs, cur.Key, cur.Key, cur.ID)
		}
		q += " ORDER BY " + keyExpr + " COLLATE \"C\"" + dir + ", id LIMIT ?"
		qargs = append(qargs, req.Limit+1)
		if err := db.Raw(q, qargs...).Scan(&hits).Error; err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
	}
	res := &SearchResult{Results: hits, Facets: map[string][]FacetValue{}}
	if len(hits) > req.Limit {
		res.Results = hits[:req.Limit]
		last := res.Results[req.Limit-1]
		raw, _ := json.Marshal(cursor{Key: last.SortKey, Rank: last.Rank, ID: last.ID})
		next := base64.RawURLEncoding.EncodeToString(raw)
		res.NextCursor = &next
	}
	if res.Results == nil {
		res.Results = []Hit{}
	}
	if err := s.fillAvailability(ctx, res.Results); err != nil {
		return nil, err
	}

	if err := s.fillHoldings(ctx, serialIDs(res.Results), func(id uuid.UUID, h []string) {
		for i := range res.Results {
			if res.Results[i].ID == id {
				res.Results[i].Holdings = h
			}
		}
	}); err != nil {
		return nil, err
	}
	if rankExpr != "" {
		if err := s.collectFacets(ctx, res, req.Facets, facetRows, where, args); err != nil {
			return nil, err
		}
	} else if err := s.facets(ctx, res, req.Facets, where, args); err != nil {
		return nil, err
	}
	return res, nil
}

// onBibs makes a search condition one that bibs can evaluate: a condition
// on the search vector selects ids from bib_search, which holds it; any
// other condition names columns bibs has and keeps bibs' own plan (a
// filter walking the title index).
func onBibs(where string) string {
	if !strings.Contains(where, "search @@") {
		return where
	}
	return "id IN (SELECT id FROM bib_search WHERE " + where + ")"
}

// qualified prefixes each of a comma-separated column list with alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + "." + c
	}
	return strings.Join(parts, ", ")
}

// facetSQL counts one facet over the matched set m. What costs is per
// match, not per facet: subjects and authors unnest in the select list (one
// ProjectSet node), not as a lateral function scan, which set up a function
// call and a tuplestore for each of the 2,001 matches (2 ms of a 27 ms
// search at 1M records); availability is a semi-join that stops at a
// record's first available copy instead of joining every available copy
// and sorting their ids for count(DISTINCT) (0.5 ms).
var facetSQL = map[string]string{
	"format":       `(SELECT 'format', format, '', count(*) FROM m GROUP BY format ORDER BY 4 DESC, 2 LIMIT 20)`,
	"language":     `(SELECT 'language', language, '', count(*) FROM m WHERE language <> '' GROUP BY language ORDER BY 4 DESC, 2 LIMIT 20)`,
	"year":         `(SELECT 'year', (pub_year / 10 * 10)::text || '-' || (pub_year / 10 * 10 + 9)::text, '', count(*) FROM m WHERE pub_year IS NOT NULL GROUP BY 2 ORDER BY 2 DESC LIMIT 30)`,
	"subject":      `(SELECT 'subject', s, '', count(*) FROM (SELECT unnest(subjects) s FROM m) m GROUP BY s ORDER BY 4 DESC, 2 LIMIT 20)`,
	"author":       `(SELECT 'author', a, '', count(*) FROM (SELECT unnest(authors) a FROM m) m GROUP BY a ORDER BY 4 DESC, 2 LIMIT 20)`,
	"branch":       `(SELECT 'branch', b.id::text, b.name, count(DISTINCT i.bib_id) FROM items i JOIN m ON m.id = i.bib_id JOIN branches b ON b.id = i.branch_id GROUP BY b.id, b.name ORDER BY 4 DESC, 3 LIMIT 50)`,
	"availability": `(SELECT 'availability', 'available', '', count(*) FROM m WHERE EXISTS (SELECT FROM items i WHERE i.bib_id = m.id AND i.status = 'available'))`,
}

// facetRow is one row of a facet query: a facet value with its count, the
// total ("total"), or a result row as JSON ("page").
type facetRow struct {
	Facet, Value, Label string
	Count               int64
}

// facetUnions counts the requested facets over the matched set m.
func facetUnions(names []string) string {
	var q string
	for _, n := range names {
		q += "\nUNION ALL " + facetSQL[n]
	}
	return q
}

// facets counts the facets and the total over the first searchCap+1
// matches: exact for every result set up to the cap, a sample beyond it.
func (s *Service) facets(ctx context.Context, res *SearchResult, names []string, where string, args []any) error {
	db, _ := tenants.DB(ctx)
	q := `WITH m AS MATERIALIZED (SELECT id, format, language, pub_year, subjects, authors FROM bib_search WHERE ` + where + ` LIMIT ` + strconv.Itoa(s.searchCap()+1) + `)
SELECT 'total' AS facet, '' AS value, '' AS label, count(*) AS count FROM m` + facetUnions(names)
	var rows []facetRow
	if err := db.Raw(q, args...).Scan(&rows).Error; err != nil {
		return fmt.Errorf("search facets: %w", err)
	}
	return s.collectFacets(ctx, res, names, rows, where, args)
}

// collectFacets fills res from facet rows; beyond the cap the total becomes
// the planner's estimate: cheap, and what a person needs ("about 300,000").
func (s *Service) collectFacets(ctx context.Context, res *SearchResult, names []string, rows []facetRow, where string, args []any) error {
	for _, n := range names {
		res.Facets[n] = []FacetValue{}
	}
	for _, r := range rows {
		switch r.Facet {
		case "page":
		case "total":
			res.Total, res.TotalExact = r.Count, r.Count <= int64(s.searchCap())
		default:
			res.Facets[r.Facet] = append(res.Facets[r.Facet], FacetValue{Value: r.Value, Label: r.Label, Count: r.Count})
		}
	}
	if all, ok := res.Facets["availability"]; ok {
		res.Facets["availability"] = append(all, FacetValue{Value: "all", Count: res.Total})
	}
	if !res.TotalExact {
		if rows, err := s.estimateRows(ctx, where, args); err == nil {
			res.Total = max(int64(rows), int64(s.searchCap())+1)
		}
	}
	return nil
}

// DefaultSearchCap is how many matches relevance ranking and facets look at.
const DefaultSearchCap = 2000

// A catalogue of at least DefaultProbeCatalogue records ranks a query
// that matches probeDensityPermille ‰ or more of its first probeSample
// records from a walk over its first probeRecords records (see
// searchWhere). At 1M records the walk won from about 6-7 % up: "science"
// with format:book (7.7 %) took 26 ms walking against 45-49 ms through the
// index, author:smith (5.3 %) 32-36 ms against 22 ms. The sample is the
// first records, so a query always gets the same answer, but it is a
// sample: smith is 7.2 % of the first 1,000 generated records, hence 7.5 %
// (at 6.5 % it walked, p50 46 ms instead of 33). probeRecords lets a query
// of 5 % still find 2,000 matches. In a smaller catalogue every posting
// list is short and the index is cheaper; the sample itself would cost
// more (the first records of a library that shares the server are spread
// over many pages).
const (
	DefaultProbeCatalogue = 200_000
	probeSample           = 1000
	probeDensityPermille  = 75
	probeRecords          = 40_000
)

// largeCatalogue tells whether the tenant has ProbeCatalogue records or
// more, by the planner's estimate (statistics only, no rows read),
// remembered for catalogueSizeTTL per tenant.
func (s *Service) largeCatalogue(ctx context.Context) (bool, error) {
	tenant, err := tenants.CurrentTenant(ctx)
	if err != nil {
		return false, err
	}
	if v, ok := s.catalogueSizes.Load(tenant); ok {
		if e := v.(catalogueSize); time.Since(e.at) < catalogueSizeTTL {
			return e.rows >= s.probeCatalogue(), nil
		}
	}
	rows, err := s.estimateRows(ctx, "true", nil)
	if err != nil {
		return false, err
	}
	s.catalogueSizes.Store(tenant, catalogueSize{rows: rows, at: time.Now()})
	return rows >= s.probeCatalogue(), nil
}

func (s *Service) probeCatalogue() float64 {
	if s.ProbeCatalogue > 0 {
		return float64(s.ProbeCatalogue)
	}
	return DefaultProbeCatalogue
}

// catalogueSizeTTL is how long largeCatalogue trusts an estimate: a
// catalogue grows by imports, and the choice only tunes the plan.
const catalogueSizeTTL = 10 * time.Minute

type catalogueSize struct {
	rows float64
	at   time.Time
}

// estimateRows is the planner's estimate of the tenant's records that
// match where.
func (s *Service) estimateRows(ctx context.Context, where string, args []any) (float64, error) {
	db, _ := tenants.DB(ctx)
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	var raw string
	if err := db.Raw(`EXPLAIN (FORMAT JSON) SELECT 1 FROM bib_search WHERE `+where, args...).Row().Scan(&raw); err != nil {
		return 0, fmt.Errorf("search estimate: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &plan); err != nil || len(plan) != 1 {
		return 0, fmt.Errorf("search estimate: unexpected plan %q", raw)
	}
	return plan[0].Plan.Rows, nil
}

func (s *Service) searchCap() int {
	if s.SearchCap > 0 {
		return s.SearchCap
	}
	return DefaultSearchCap
}

// fillAvailability counts copies per branch for the page's bibs in one query.
func (s *Service) fillAvailability(ctx context.Context, hits []Hit) error {
	if len(hits) == 0 {
		return nil
	}
	db, _ := tenants.DB(ctx)
	ids := make([]uuid.UUID, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	var rows []struct {
		BibID, BranchID  uuid.UUID
		Copies, Availble int
	}
	err := db.Raw(`SELECT bib_id, branch_id, count(*) AS copies, count(*) FILTER (WHERE status = 'available') AS availble
		FROM items WHERE bib_id IN ? AND status <> 'withdrawn' GROUP BY bib_id, branch_id ORDER BY bib_id, branch_id`, ids).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("availability: %w", err)
	}
	idx := map[uuid.UUID]*Hit{}
	for i := range hits {
		hits[i].Availability.ByBranch = []BranchAvailability{}
		idx[hits[i].ID] = &hits[i]
	}
	for _, r := range rows {
		h := idx[r.BibID]
		h.Availability.Copies += r.Copies
		h.Availability.Available += r.Availble
		h.Availability.ByBranch = append(h.Availability.ByBranch, BranchAvailability{BranchID: r.BranchID, Copies: r.Copies, Available: r.Availble})
	}
	return nil
}
