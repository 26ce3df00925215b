package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// pipelineFile is a three-batch import file (importBatch = 1000): records
// 1-2000 are distinct, 2001-2500 repeat records 1001-1500 (the batch before
// theirs, in flight beside them) with barcodes of their own, 2501-2800 are
// new again; record 2501 reuses record 1601's barcode. With poison, record
// 1700 has a title too long for the title index: only PostgreSQL finds that
// out, so its batch's bulk insert fails, the batch goes in record by
// record, and the batch after it, matched against the failed plan, must
// start again.
func pipelineFile(t *testing.T, poison bool) []byte {
	t.Helper()
	src := readRecords(t, importCorpus(t, 2300))
	setBarcode := func(rec *marc.Record, barcode string) *marc.Record {
		rec = &marc.Record{Leader: rec.Leader, Fields: slices.Clone(rec.Fields)}
		for i, f := range rec.Fields {
			if f.Tag == "952" {
				f.Subfields = slices.Clone(f.Subfields)
				for j := range f.Subfields {
					if f.Subfields[j].Code == 'p' {
						f.Subfields[j].Value = barcode
					}
				}
				rec.Fields[i] = f
			}
		}
		return rec
	}
	var recs []*marc.Record
	recs = append(recs, src[:2000]...)
	for i, rec := range src[1000:1500] {
		recs = append(recs, setBarcode(rec, fmt.Sprintf("D%08d", i)))
	}
	recs = append(recs, src[2000:]...)
	recs[2500] = setBarcode(recs[2500], "B00001600") // record 1601's
	if poison {
		var title strings.Builder
		x := uint32(1)
		for title.Len() < 6000 {
			x = x*1664525 + 1013904223
			title.WriteByte(byte('a' + x>>24%26))
			if x%7 == 0 {
				title.WriteByte(' ')
			}
		}
		rec := &marc.Record{Leader: recs[1699].Leader, Fields: slices.Clone(recs[1699].Fields)}
		for i, f := range rec.Fields {
			if f.Tag == "245" {
				rec.Fields[i] = marc.Field{Tag: "245", Ind1: '0', Ind2: '0', Subfields: []marc.Subfield{{Code: 'a', Value: title.String()}}}
			}
		}
		recs[1699] = rec
	}
	var buf bytes.Buffer
	w := marc.NewWriter(&buf)
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// Batches saved side by side match each other's records, never share a
// barcode, commit in order, and give the same outcome as one batch at a
// time; a batch whose bulk insert fails makes the next one start again.
func TestImportStream_BatchesInFlight(t *testing.T) {
	env := tenanttest.Get(t)
	s := NewService(env.Tenants)
	files := map[bool][]byte{false: pipelineFile(t, false), true: pipelineFile(t, true)}
	for _, tc := range []struct {
		match                            DuplicatePolicy
		poison                           bool
		workers                          int // importWorkers, when not the default
		created, updated, skipped, fails int
		failedRecords                    []int
	}{
		{match: DupSkip, created: 2299, skipped: 500, fails: 1, failedRecords: []int{2501}},
		{match: DupSkip, workers: 1, created: 2299, skipped: 500, fails: 1, failedRecords: []int{2501}},
		{match: DupSkip, poison: true, workers: 1, created: 2298, skipped: 500, fails: 2, failedRecords: []int{1700, 2501}},
		{match: DupSkip, poison: true, created: 2298, skipped: 500, fails: 2, failedRecords: []int{1700, 2501}},
		{match: DupAdd, created: 2799, fails: 1, failedRecords: []int{2501}},
		{match: DupAdd, poison: true, created: 2798, fails: 2, failedRecords: []int{1700, 2501}},
		{match: DupOverlay, created: 2299, updated: 500, fails: 1, failedRecords: []int{2501}},
	} {
		t.Run(fmt.Sprintf("%s,poison=%v,workers=%d", tc.match, tc.poison, tc.workers), func(t *testing.T) {
			if tc.workers > 0 {
				defer func(w int) { importWorkers = w }(importWorkers)
				importWorkers = tc.workers
			}
			tenant, ctx := genTenant(t, env, 1)
			run := func(match DuplicatePolicy) *Job {
				job, err := s.StartLocalImport(ctx, tenant, ImportOptions{Match: match, ItemsFrom: "952"})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.ImportStream(context.Background(), tenant, job, bytes.NewReader(files[tc.poison]), nil); err != nil {
					t.Fatal(err)
				}
				return job
			}
			job := run(tc.match)
			var errs []JobError
			json.Unmarshal(job.Errors, &errs)
			var failed []int
			for _, e := range errs {
				failed = append(failed, e.Record)
			}
			if job.Status != JobCompleted || job.Processed != 2800 || job.Created != tc.created || job.Updated != tc.updated ||
				job.Skipped != tc.skipped || job.Failed != tc.fails || !slices.Equal(failed, tc.failedRecords) {
				t.Fatalf("job %s: processed %d, created %d, updated %d, skipped %d, failed %d %v; want 2800, %d, %d, %d, %d %v",
					job.Status, job.Processed, job.Created, job.Updated, job.Skipped, job.Failed, failed,
					tc.created, tc.updated, tc.skipped, tc.fails, tc.failedRecords)
			}

			// The catalogue holds what the job says, with every record's
			// headings and search words (deferred while batches ran side by
			// side) as the triggers make them.
			var bibs, items, sharedBarcodes, headings, wantHeadings, words, wantWords int64
			env.Pool.Tx(ctx, tenant, func(ctx context.Context, tx *gorm.DB) error {
				tx.Raw(`SELECT count(*) FROM bibs`).Scan(&bibs)
				tx.Raw(`SELECT count(*) FROM items`).Scan(&items)
				tx.Raw(`SELECT count(*) FROM (SELECT barcode FROM items GROUP BY barcode HAVING count(*) > 1) d`).Scan(&sharedBarcodes)
				tx.Raw(`SELECT count(*) FROM bib_headings`).Scan(&headings)
				tx.Raw(`SELECT count(*) FROM (SELECT DISTINCT b.id, h.kind, h.heading FROM bibs b,
					LATERAL (SELECT 'subject' AS kind, s AS heading FROM unnest(b.subjects) s UNION ALL
					         SELECT 'author', a FROM unnest(b.authors) a) h WHERE btrim(h.heading) <> '') x`).Scan(&wantHeadings)
				tx.Raw(`SELECT count(*) FROM search_words`).Scan(&words)
				return tx.Raw(`SELECT count(DISTINCT w) FROM bibs b, app.catalog_words(b.title, b.authors, b.subjects) w`).Scan(&wantWords).Error
			})
			if bibs != int64(tc.created) || items != int64(tc.created) || sharedBarcodes != 0 {
				t.Errorf("%d bibs and %d items (want %d each), %d barcodes shared", bibs, items, tc.created, sharedBarcodes)
			}
			if headings != wantHeadings || words != wantWords || words == 0 {
				t.Errorf("%d headings (want %d), %d search words (want %d)", headings, wantHeadings, words, wantWords)
			}

			// The same file again with skip creates nothing.
			again := run(DupSkip)
			if again.Created != 0 || again.Skipped+again.Failed != 2800 || again.Failed != tc.fails {
				t.Errorf("again with skip: created %d, skipped %d, failed %d", again.Created, again.Skipped, again.Failed)
			}
		})
	}
}
