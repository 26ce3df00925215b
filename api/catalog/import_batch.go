package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// pending is one record read from an import file (or the error reading it).
type pending struct {
	n   int
	rec *marc.Record
	err error
	// Filled by prepareNew while the previous batch is being saved: rec's
	// fields for duplicate matching (rec itself stays as read, for
	// overlays), and rec as a new bib: a copy with a fresh id in 001 (the
	// old one moved to 035), its fields and its row.
	prepared bool
	f        Fields
	newRec   *marc.Record
	newF     Fields
	newRow   *bibRow
}

// prepareNew does a readable record's CPU work ahead of its batch: prepare
// and Extract, and the row it becomes if it is new.
func (p *pending) prepareNew(tenant uuid.UUID) {
	prepare(p.rec)
	p.f = Extract(p.rec)
	rec := &marc.Record{Leader: p.rec.Leader, Fields: slices.Clone(p.rec.Fields)}
	id := tenants.NewID()
	setControlNumber(rec, id)
	f := Extract(rec)
	row, err := rowFrom(tenant, id, rec, f)
	if err != nil {
		return // importBatch does it again and reports the error
	}
	p.prepared, p.newRec, p.newF, p.newRow = true, rec, f, row
}

type batchCounts struct{ created, updated, skipped, failed int }

// candidate is a readable record on its way in.
type candidate struct {
	pending
	f     Fields
	id    uuid.UUID // new id, or the matched record's for overlay
	items []Item
	row   *bibRow // a new record's row
}

// dupIndex finds existing records by each duplicate rule's keys.
type dupIndex struct {
	byRule [5]map[string]Duplicate // isbn, issn, lccn, oclc, title_author_year
}

var ruleNames = [5]string{"isbn", "issn", "lccn", "oclc", "title_author_year"}

func ruleKeys(f *Fields) [5][]string {
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	return [5][]string{f.ISBNs, f.ISSNs, one(f.LCCN), one(f.OCLC), one(f.MatchKey)}
}

func newDupIndex() *dupIndex {
	d := &dupIndex{}
	for r := range d.byRule {
		d.byRule[r] = map[string]Duplicate{}
	}
	return d
}

// findDuplicate looks f up rule by rule (ISBN first), in each rule through
// the indexes in order: the catalogue's records win over the import's own.
func findDuplicate(idx []*dupIndex, f *Fields) (Duplicate, bool) {
	keys := ruleKeys(f)
	for r := range keys {
		for _, d := range idx {
			for _, k := range keys[r] {
				if m, ok := d.byRule[r][k]; ok {
					return m, true
				}
			}
		}
	}
	return Duplicate{}, false
}

func (d *dupIndex) add(f *Fields, dup Duplicate) {
	keys := ruleKeys(f)
	for r := range keys {
		for _, k := range keys[r] {
			if _, ok := d.byRule[r][k]; !ok {
				d.byRule[r][k] = Duplicate{ID: dup.ID, Title: dup.Title, On: ruleNames[r]}
			}
		}
	}
}

// loadDuplicates reads the existing records that share a key with any
// candidate: one query per rule for the whole batch instead of five per
// record, which is what makes imports fast.
func loadDuplicates(tx *gorm.DB, cands []*candidate) (*dupIndex, error) {
	d := newDupIndex()
	var all [5][]string
	for _, c := range cands {
		keys := ruleKeys(&c.f)
		for r := range keys {
			all[r] = append(all[r], keys[r]...)
		}
	}
	queries := [5]string{
		`SELECT id, title, k FROM bibs, unnest(isbns) k WHERE isbns && ?::text[]`,
		`SELECT id, title, k FROM bibs, unnest(issns) k WHERE issns && ?::text[]`,
		`SELECT id, title, lccn AS k FROM bibs WHERE lccn = ANY(?::text[])`,
		`SELECT id, title, oclc AS k FROM bibs WHERE oclc = ANY(?::text[])`,
		`SELECT id, title, match_key AS k FROM bibs WHERE match_key = ANY(?::text[])`,
	}
	for r, q := range queries {
		if len(all[r]) == 0 {
			continue
		}
		var rows []struct {
			ID    uuid.UUID
			Title string
			K     string
		}
		if err := tx.Raw(q, tenants.Strings(all[r])).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("find duplicates by %s: %w", ruleNames[r], err)
		}
		for _, row := range rows {
			if _, ok := d.byRule[r][row.K]; !ok {
				d.byRule[r][row.K] = Duplicate{ID: row.ID, Title: row.Title, On: ruleNames[r]}
			}
		}
	}
	return d, nil
}

type branchInfo struct {
	ID   uuid.UUID
	Code string
	Path tenants.UUIDs
}

// batchStage is one batch's trip through an import: two batches are saved
// at once, each in its own transaction (so its own PostgreSQL backend, one
// per core), and commit in file order. A batch matches its records only
// after the batch before it has matched its own, against the catalogue and
// against the records that earlier batches not yet committed will create;
// it adds its search words, updates the job and commits only after the
// batch before it has committed (see runStage).
type batchStage struct {
	batch []pending
	// preds are the earlier batches still in flight when this one started,
	// oldest first: the catalogue this batch's queries see lacks their records.
	preds   []*batchStage
	matched chan struct{} // closed when keys, barcodes and planned are final
	done    chan struct{} // closed when err, restartAfter and counts are final

	keys     *dupIndex       // duplicate keys of the records this batch creates
	barcodes map[string]bool // barcodes of the items it creates
	planned  int             // how many records it creates

	err error // nil once committed
	// restartAfter: the batch committed, but record by record, after its
	// bulk insert failed; the batches after it matched against its plan and
	// must start again.
	restartAfter bool
	counts       batchCounts
	jerrs        []JobError
}

// errRestart rolls back a batch whose predecessor changed its plan (or
// itself restarted): the import runs it again. errAborted rolls back a
// batch whose predecessor failed; the predecessor's error is reported.
var (
	errRestart = errors.New("import batch: start again")
	errAborted = errors.New("import batch: an earlier batch failed")
)

func newBatchStage(batch []pending, preds []*batchStage) *batchStage {
	return &batchStage{batch: batch, preds: slices.Clone(preds), matched: make(chan struct{}), done: make(chan struct{}),
		keys: newDupIndex(), barcodes: map[string]bool{}}
}

func (st *batchStage) prev() *batchStage {
	if len(st.preds) == 0 {
		return nil
	}
	return st.preds[len(st.preds)-1]
}

// wait waits for ch or the end of ctx.
func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// batchPlan is what a batch saved in bulk and leaves for its end.
type batchPlan struct {
	counts   batchCounts
	jerrs    []JobError
	created  []uuid.UUID  // records inserted in bulk
	overlays []*candidate // records that replace the ones they matched
	bulkErr  error        // the bulk insert failed: save the batch one by one
}

// importBatch matches and inserts one batch inside tx: records are matched
// against the catalogue, the batches in flight before it and each other in
// a few queries, items are validated in memory, and new records and items
// go in with multi-row inserts. Overlays and the fallback when a bulk insert
// fails (a race with another writer) are left to finishBatch. It closes
// st.matched once its records are matched.
func (s *Service) importBatch(ctx context.Context, tx *gorm.DB, st *batchStage, opt ImportOptions) (*batchPlan, error) {
	defer closeOnce(st.matched)
	plan := &batchPlan{}
	fail := func(n int, msg string) {
		plan.counts.failed++
		plan.jerrs = append(plan.jerrs, JobError{Record: n, Message: msg})
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	p := tenants.PrincipalFrom(ctx)
	var branches []branchInfo
	if err := tx.Raw(`SELECT id, code, path FROM branches`).Scan(&branches).Error; err != nil {
		return nil, fmt.Errorf("branches: %w", err)
	}
	codes, paths := map[string]uuid.UUID{}, map[uuid.UUID]tenants.UUIDs{}
	for _, b := range branches {
		codes[strings.ToUpper(b.Code)], paths[b.ID] = b.ID, b.Path
	}

	var cands []*candidate
	for _, it := range st.batch {
		if it.err != nil {
			fail(it.n, it.err.Error())
			continue
		}
		if !it.prepared {
			prepare(it.rec)
			it.f = Extract(it.rec)
		}
		cands = append(cands, &candidate{pending: it, f: it.f})
	}
	dups := newDupIndex()
	if opt.Match != DupAdd {
		var err error
		if dups, err = loadDuplicates(tx, cands); err != nil {
			return nil, err
		}
	}
	var barcodes []string
	for _, c := range cands {
		for _, f := range c.rec.Get(opt.ItemsFrom) {
			barcodes = append(barcodes, strings.TrimSpace(f.Sub('p')))
		}
	}
	taken := map[string]bool{}
	if opt.ItemsFrom != "" && len(barcodes) > 0 {
		var rows []string
		if err := tx.Raw(`SELECT barcode FROM items WHERE barcode = ANY(?::text[])`, tenants.Strings(barcodes)).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("existing barcodes: %w", err)
		}
		for _, b := range rows {
			taken[b] = true
		}
	}

	// What the batches in flight before this one create is not in the
	// catalogue yet: match against their plans, once they are final.
	if prev := st.prev(); prev != nil {
		if err := wait(ctx, prev.matched); err != nil {
			return nil, err
		}
	}
	idx := []*dupIndex{dups}
	inFlight := 0
	for _, pr := range st.preds {
		idx = append(idx, pr.keys)
		for b := range pr.barcodes {
			taken[b] = true
		}
		inFlight += pr.planned
	}
	idx = append(idx, st.keys)

	var inserts []*candidate
	for _, c := range cands {
		action := "create"
		if opt.Match != DupAdd {
			if m, ok := findDuplicate(idx, &c.f); ok {
				if opt.Match == DupSkip {
					plan.counts.skipped++
					continue
				}
				action, c.id = "overlay", m.ID
			}
		}
		if action == "create" {
			if c.prepared {
				c.id, c.rec, c.f, c.row = c.newRow.ID, c.newRec, c.newF, c.newRow
			} else {
				c.id = tenants.NewID()
				c.rec = &marc.Record{Leader: c.rec.Leader, Fields: slices.Clone(c.rec.Fields)}
				setControlNumber(c.rec, c.id)
				c.f = Extract(c.rec)
			}
		}
		if opt.ItemsFrom != "" && action == "create" {
			ins, err := holdingsInputs(c.rec, opt, codes)
			if err == nil {
				err = c.buildItems(tenant, ins, p, paths, taken)
			}
			if err != nil {
				fail(c.n, recordError(err))
				continue
			}
		}
		if action == "overlay" {
			plan.overlays = append(plan.overlays, c)
		} else {
			inserts = append(inserts, c)
			for _, it := range c.items {
				st.barcodes[it.Barcode] = true
			}
		}
		// Later records, of this batch and the next, match this one.
		st.keys.add(&c.f, Duplicate{ID: c.id, Title: c.f.Title})
	}
	st.planned = len(inserts)
	closeOnce(st.matched)

	// A plan limit stops the import at this batch (the job fails with the
	// limit in its message; earlier batches stay). The records of the
	// batches in flight count as if already there (should one commit just
	// before the count, it counts twice: the import stops one batch early
	// rather than pass the limit).
	if err := s.branches.CheckLimit(ctx, tenants.ResourceBibs, inFlight+len(inserts)); err != nil {
		return nil, err
	}

	plan.bulkErr = tx.Transaction(func(tx *gorm.DB) error {
		rows := make([]*bibRow, 0, len(inserts))
		var items []Item
		for _, c := range inserts {
			row := c.row
			if row == nil {
				var err error
				if row, err = rowFrom(tenant, c.id, c.rec, c.f); err != nil {
					return err
				}
			}
			rows = append(rows, row)
			items = append(items, c.items...)
		}
		if err := insertBibs(ctx, tx, rows); err != nil {
			return err
		}
		return insertItems(ctx, tx, items)
	})
	if plan.bulkErr != nil {
		var pe *errs.Error
		if errors.As(plan.bulkErr, &pe) {
			return nil, plan.bulkErr
		}
		return plan, nil
	}
	plan.counts.created += len(inserts)
	for _, c := range inserts {
		plan.created = append(plan.created, c.id)
	}
	return plan, nil
}

// finishBatch ends a batch once every batch before it has committed: the
// search words of its new records (deferred while batches run side by
// side), its overlays, or, when its bulk insert failed, the whole batch
// record by record.
func (s *Service) finishBatch(ctx context.Context, tx *gorm.DB, st *batchStage, plan *batchPlan, opt ImportOptions) (batchCounts, []JobError, error) {
	if err := tx.Exec(`SELECT app.search_words_deferred(false)`).Error; err != nil {
		return batchCounts{}, nil, err
	}
	if plan.bulkErr != nil {
		s.log.Warn("bulk import insert failed; retrying record by record", "error", plan.bulkErr)
		st.restartAfter = true
		return s.importOneByOne(ctx, tx, st.batch, opt)
	}
	if len(plan.created) > 0 {
		if err := tx.Exec(`SELECT app.add_search_words(?::uuid[])`, tenants.UUIDs(plan.created)).Error; err != nil {
			return batchCounts{}, nil, fmt.Errorf("search words: %w", err)
		}
	}
	d, jerrs := plan.counts, plan.jerrs
	for _, c := range plan.overlays {
		if err := tx.Transaction(func(*gorm.DB) error { _, err := s.replace(ctx, c.id, c.rec, c.f); return err }); err != nil {
			d.failed++
			jerrs = append(jerrs, JobError{Record: c.n, Message: recordError(err)})
			continue
		}
		d.updated++
	}
	return d, jerrs, nil
}

// bibInsertColumns and itemInsertColumns are the columns an import fills
// (created_at and updated_at take their default, the transaction's time).
var (
	bibInsertColumns = []string{"tenant_id", "id", "marc", "title", "title_sort", "responsibility", "authors",
		"author_sort", "subjects", "isbns", "issns", "lccn", "oclc", "publisher", "pub_year", "edition", "language",
		"format", "series", "notes", "call_number", "call_number_sort", "match_key"}
	itemInsertColumns = []string{"tenant_id", "id", "bib_id", "barcode", "branch_id", "location", "call_number",
		"call_number_sort", "item_type", "price_amount", "price_currency", "status", "acquired_on", "notes"}
)

// rowsPerInsert is how many rows one INSERT of an import carries.
const rowsPerInsert = 250

// insertBibs and insertItems insert an import's rows with multi-row INSERTs
// sent straight through the transaction's connection, with values of the
// types pgx encodes as they are: ids as [16]byte, arrays as []string. GORM's
// CreateInBatches handed pgx uuid.UUID and tenants.Strings, whose
// driver.Valuer text pgx parsed back to encode it (an encoding error built
// and dropped for every id on the way): with GORM's own reflection, a
// quarter of the import's Go time.
func insertBibs(ctx context.Context, tx *gorm.DB, rows []*bibRow) error {
	arr := func(s []string) []string { // NOT NULL DEFAULT '{}': nil would be NULL
		if s == nil {
			return []string{}
		}
		return s
	}
	return insertRows(ctx, tx, "bibs", bibInsertColumns, len(rows), func(i int, args []any) []any {
		r := rows[i]
		return append(args, [16]byte(r.TenantID), [16]byte(r.ID), r.Marc, r.Title, r.TitleSort, r.Responsibility,
			arr(r.Authors), r.AuthorSort, arr(r.Subjects), arr(r.ISBNs), arr(r.ISSNs), r.LCCN, r.OCLC, r.Publisher,
			r.PubYear, r.Edition, r.Language, r.Format, arr(r.Series), r.Notes, r.CallNumber, r.CallNumberSort, r.MatchKey)
	})
}

func insertItems(ctx context.Context, tx *gorm.DB, items []Item) error {
	return insertRows(ctx, tx, "items", itemInsertColumns, len(items), func(i int, args []any) []any {
		it := &items[i]
		return append(args, [16]byte(it.TenantID), [16]byte(it.ID), [16]byte(it.BibID), it.Barcode,
			[16]byte(it.BranchID), it.Location, it.CallNumber, it.CallNumberSort, it.ItemType, it.PriceAmount,
			it.PriceCurrency, it.Status, it.AcquiredOn, it.Notes)
	})
}

// insertRows inserts n rows into table, rowsPerInsert a statement; row
// appends the values of row i, in the order of cols.
func insertRows(ctx context.Context, tx *gorm.DB, table string, cols []string, n int, row func(i int, args []any) []any) error {
	for done := 0; done < n; {
		k := min(n-done, rowsPerInsert)
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, k*len(cols))
		for i := range k {
			if i > 0 {
				q.WriteByte(',')
			}
			sep := byte('(')
			for j := range cols {
				q.WriteByte(sep)
				q.WriteByte('$')
				q.WriteString(strconv.Itoa(i*len(cols) + j + 1))
				sep = ','
			}
			q.WriteByte(')')
			args = row(done+i, args)
		}
		if _, err := tx.Statement.ConnPool.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// closeOnce closes ch unless it is closed.
func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// buildItems validates a record's items in memory: barcodes unique in the
// catalogue and in the batch, branches where the importer may catalogue.
func (c *candidate) buildItems(tenant uuid.UUID, ins []ItemInput, p *tenants.Principal, paths map[uuid.UUID]tenants.UUIDs, taken map[string]bool) error {
	for _, in := range ins {
		it, err := newItem(tenant, c.id, c.f.CallNumber, in, "")
		if err != nil {
			return err
		}
		if taken[it.Barcode] {
			return errs.E(errs.Conflict, "barcode_taken", "another item already has barcode "+it.Barcode)
		}
		if p == nil || !p.CanAt(tenants.PermCatalogWrite, paths[it.BranchID]) {
			return errs.E(errs.Forbidden, "forbidden", "the importer may not catalogue items at that branch")
		}
		c.items = append(c.items, it)
	}
	for _, it := range c.items {
		taken[it.Barcode] = true
	}
	return nil
}

// importOneByOne is the slow, sure path: each record in its own savepoint.
func (s *Service) importOneByOne(ctx context.Context, tx *gorm.DB, batch []pending, opt ImportOptions) (batchCounts, []JobError, error) {
	var d batchCounts
	var jerrs []JobError
	branches, err := branchCodes(tx)
	if err != nil {
		return d, nil, err
	}
	for _, it := range batch {
		if it.err != nil {
			d.failed++
			jerrs = append(jerrs, JobError{Record: it.n, Message: it.err.Error()})
			continue
		}
		var action string
		err := tx.Transaction(func(*gorm.DB) error {
			res, err := s.SaveRecord(ctx, it.rec, opt.Match)
			if err != nil {
				return err
			}
			action = res.Action
			if opt.ItemsFrom != "" && res.Action == "created" {
				return s.importItems(ctx, res.Bib, it.rec, opt, branches)
			}
			return nil
		})
		switch {
		case err != nil:
			d.failed++
			jerrs = append(jerrs, JobError{Record: it.n, Message: recordError(err)})
		case action == "created":
			d.created++
		case action == "updated":
			d.updated++
		default:
			d.skipped++
		}
	}
	return d, jerrs, nil
}
