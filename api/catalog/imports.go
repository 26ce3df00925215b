package catalog

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Job statuses.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobCompleted = "completed"
	JobFailed    = "failed"
)

// maxJobErrors caps the per-record errors a job keeps; the counts stay exact.
const maxJobErrors = 1000

// importBatch is how many records one transaction of an import commits.
const importBatch = 1000

// chunkSize is the size of the pieces an upload is stored in.
const chunkSize = 1 << 20

// ImportOptions are an import job's parameters.
type ImportOptions struct {
	Match         DuplicatePolicy `json:"match"`      // skip (default), overlay or add
	ItemsFrom     string          `json:"items_from"` // "", "852" or "952": create items from holdings fields
	DefaultBranch uuid.UUID       `json:"default_branch,omitempty"`
	Currency      string          `json:"currency"` // for 952 $g prices; default USD
	Lenient       bool            `json:"lenient"`  // repair what the reader safely can
	Filename      string          `json:"filename,omitempty"`
	// APIKeyID is the key that started the job, when a key did: the job
	// then catalogues with that key's rights, not more.
	APIKeyID uuid.UUID `json:"api_key_id,omitempty"`
}

// JobError is one record that did not go in.
type JobError struct {
	Record  int    `json:"record"`
	Message string `json:"message"`
}

// Job is a background job a user started and watches.
type Job struct {
	TenantID   uuid.UUID       `json:"-" gorm:"primaryKey"`
	ID         uuid.UUID       `json:"id" gorm:"primaryKey"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Params     json.RawMessage `json:"params" gorm:"type:jsonb"`
	Total      int             `json:"total"`
	Processed  int             `json:"processed"`
	Created    int             `json:"created"`
	Updated    int             `json:"updated"`
	Skipped    int             `json:"skipped"`
	Failed     int             `json:"failed"`
	Errors     json.RawMessage `json:"errors" gorm:"type:jsonb"`
	Message    string          `json:"message"`
	CreatedBy  *uuid.UUID      `json:"created_by"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// Enqueuer hands a job to the background workers.
type Enqueuer interface {
	EnqueueImport(ctx context.Context, tenantID, jobID uuid.UUID) error
}

func (o *ImportOptions) normalize() error {
	if o.Match == "" {
		o.Match = DupSkip
	}
	if o.Match != DupSkip && o.Match != DupOverlay && o.Match != DupAdd {
		return errs.Field("match", "invalid_match", `match must be "skip", "overlay" or "add"`)
	}
	if o.ItemsFrom != "" && o.ItemsFrom != "852" && o.ItemsFrom != "952" {
		return errs.Field("items_from", "invalid_items_from", `items_from must be "852" or "952" (or empty for no items)`)
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if !currencyRe.MatchString(o.Currency) {
		return errs.Field("currency", "invalid_currency", "currency must be an ISO 4217 code such as USD")
	}
	return nil
}

// CreateImportJob stores an uploaded MARC file (ISO 2709, MARCXML or
// MARC-in-JSON) with a new queued job, in the transaction of ctx, and
// enqueues the job once that transaction commits. maxBytes limits the file.
func (s *Service) CreateImportJob(ctx context.Context, opt ImportOptions, src io.Reader, maxBytes int64) (*Job, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if err := opt.normalize(); err != nil {
		return nil, err
	}
	if opt.DefaultBranch != uuid.Nil {
		if _, err := s.branches.GetBranch(ctx, opt.DefaultBranch); err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return nil, errs.Field("branch_id", "invalid_branch", "branch_id names no org unit of this library")
			}
			return nil, err
		}
	}
	br := bufio.NewReaderSize(src, 64<<10)
	format, err := marc.Detect(br)
	if err != nil {
		return nil, errs.E(errs.Invalid, "invalid_marc", "the file is not ISO 2709, MARCXML or MARC-in-JSON")
	}
	job, err := newImportJob(ctx, opt, JobQueued)
	if err != nil {
		return nil, err
	}
	tenant := job.TenantID
	var size int64
	buf := make([]byte, chunkSize)
	for seq := 0; ; seq++ {
		n, rerr := io.ReadFull(br, buf)
		if n > 0 {
			size += int64(n)
			if size > maxBytes {
				return nil, errs.E(errs.TooLarge, "file_too_large", fmt.Sprintf("the file is larger than the import limit of %d MB", maxBytes>>20))
			}
			job.Total += countRecords(format, buf[:n])
			if err := db.Exec(`INSERT INTO job_files (tenant_id, job_id, seq, data) VALUES (?, ?, ?, ?)`, tenant, job.ID, seq, buf[:n]).Error; err != nil {
				return nil, fmt.Errorf("store upload: %w", err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, errs.E(errs.BadRequest, "upload_failed", "the upload was interrupted: "+rerr.Error())
		}
	}
	if err := db.Model(job).Update("total", job.Total).Error; err != nil {
		return nil, fmt.Errorf("job total: %w", err)
	}
	if s.enqueue != nil {
		jobID := job.ID
		// After commit: the worker must find the job and its file.
		tenants.AfterCommit(ctx, func(ctx context.Context) {
			if err := s.enqueue.EnqueueImport(context.WithoutCancel(ctx), tenant, jobID); err != nil {
				s.log.Error("enqueue import", "tenant_id", tenant, "job_id", jobID, "error", err)
			}
		})
	}
	return job, nil
}

func newImportJob(ctx context.Context, opt ImportOptions, status string) (*Job, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	if p := tenants.PrincipalFrom(ctx); p != nil {
		opt.APIKeyID = p.APIKeyID
	}
	params, _ := json.Marshal(opt)
	job := &Job{TenantID: tenant, ID: tenants.NewID(), Kind: "import_marc", Status: status, Params: params, Errors: json.RawMessage("[]")}
	if p := tenants.PrincipalFrom(ctx); p != nil && p.UserID != uuid.Nil {
		job.CreatedBy = &p.UserID
	}
	if err := db.Create(job).Error; err != nil {
		return nil, fmt.Errorf("create job: %w", err)
	}
	return job, nil
}

// StartLocalImport records a running import job for a file the caller
// reads itself (stacks import), to be fed to ImportStream.
func (s *Service) StartLocalImport(ctx context.Context, tenantID uuid.UUID, opt ImportOptions) (*Job, error) {
	if err := opt.normalize(); err != nil {
		return nil, err
	}
	var job *Job
	err := s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		var err error
		job, err = newImportJob(ctx, opt, JobRunning)
		return err
	})
	return job, err
}

// countRecords estimates records in a chunk: record terminators for ISO
// 2709, record start tags for XML. It only feeds the progress total.
func countRecords(f marc.Format, b []byte) int {
	switch f {
	case marc.ISO2709:
		return bytes.Count(b, []byte{0x1D})
	case marc.MARCXML:
		return bytes.Count(b, []byte("<record>")) + bytes.Count(b, []byte("<record ")) +
			bytes.Count(b, []byte(":record>")) + bytes.Count(b, []byte(":record "))
	}
	return 0
}

// GetJob returns one job.
func (s *Service) GetJob(ctx context.Context, id uuid.UUID) (*Job, error) {
	return tenants.Find[Job](ctx, "no such job", "id = ?", id)
}

// chunkReader streams a stored upload one chunk (and one short
// transaction) at a time.
type chunkReader struct {
	ctx    context.Context
	pool   *tenants.Pool
	tenant uuid.UUID
	job    uuid.UUID
	seq    int
	buf    []byte
	done   bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		var data []byte
		err := r.pool.Tx(r.ctx, r.tenant, func(ctx context.Context, tx *gorm.DB) error {
			return tx.Raw(`SELECT data FROM job_files WHERE job_id = ? AND seq = ?`, r.job, r.seq).Row().Scan(&data)
		})
		if errors.Is(err, sql.ErrNoRows) {
			r.done = true
			continue
		}
		if err != nil {
			return 0, err
		}
		r.buf, r.seq = data, r.seq+1
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// RunImportJob is the worker's entry point: it processes a queued (or
// interrupted) import job, resuming after the records already committed,
// so a retried task never imports a record twice.
func (s *Service) RunImportJob(ctx context.Context, tenantID, jobID uuid.UUID) error {
	var job *Job
	err := s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		var err error
		if job, err = s.GetJob(ctx, jobID); err != nil {
			return err
		}
		if job.Status == JobCompleted || job.Status == JobFailed {
			return nil
		}
		return tx.Exec(`UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now() WHERE id = ?`, jobID).Error
	})
	if err != nil || job.Status == JobCompleted || job.Status == JobFailed {
		return err
	}
	src := &chunkReader{ctx: ctx, pool: s.pool, tenant: tenantID, job: jobID}
	return s.ImportStream(ctx, tenantID, job, src, nil)
}

// FailJob marks a job failed with a message (the worker gave up on it).
func (s *Service) FailJob(ctx context.Context, tenantID, jobID uuid.UUID, message string) error {
	return s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE jobs SET status = 'failed', message = ?, finished_at = now(), updated_at = now()
			WHERE id = ? AND status <> 'completed'`, message, jobID).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM job_files WHERE job_id = ?`, jobID).Error
	})
}

// ImportStream reads records from src and saves them in batches of
// importBatch, each batch one transaction that also advances the job's
// counters. A record that cannot be read or saved is counted and reported
// with its number; the rest go in. progress, when set, sees the job after
// every batch.
func (s *Service) ImportStream(ctx context.Context, tenantID uuid.UUID, job *Job, src io.Reader, progress func(*Job)) error {
	var opt ImportOptions
	if err := json.Unmarshal(job.Params, &opt); err != nil {
		return fmt.Errorf("job %s params: %w", job.ID, err)
	}
	br := bufio.NewReaderSize(src, 256<<10)
	format, err := marc.Detect(br)
	if err != nil {
		return s.finishJob(ctx, tenantID, job, "the file is not ISO 2709, MARCXML or MARC-in-JSON")
	}
	rd := marc.NewFormatReader(br, format, marc.ReadOptions{Lenient: opt.Lenient})
	// The next batch is read, parsed and extracted (pure CPU work) while the
	// database saves this one: on two cores that overlap is a third of the
	// import's time.
	batches := make(chan readBatch, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go readBatches(readCtx, rd, tenantID, job.Processed, batches)

	// importWorkers batches are saved at once (see batchStage). An overlay
	// updates records the catalogue already has: two batches could overlay
	// the same one and wait on each other's row lock, so overlays go one
	// batch at a time.
	workers := importWorkers
	if opt.Match == DupOverlay {
		workers = 1
	}
	var (
		inflight []*batchStage // in file order
		redo     [][]pending   // batches rolled back to run again, in file order
		failure  error
		eof      bool
		drain    bool // let every batch in flight end before the next starts
	)
	// end waits for the oldest batch in flight and takes its outcome.
	end := func() {
		st := inflight[0]
		<-st.done
		inflight = inflight[1:]
		st.preds = nil // else each batch would keep every batch before it alive
		switch {
		case st.err == nil:
			job.Processed += len(st.batch)
			if progress != nil {
				progress(job)
			}
			drain = drain || st.restartAfter
		case errors.Is(st.err, errRestart):
			s.log.Info("import batch starts again after the one before it went in record by record", "job", job.ID,
				"first_record", st.batch[0].n)
			redo = append(redo, st.batch)
		case errors.Is(st.err, errAborted):
		case failure == nil:
			failure = fmt.Errorf("import batch of job %s: %w", job.ID, st.err)
		}
	}
	for {
		for len(inflight) > 0 && (len(inflight) >= workers || drain || failure != nil || (eof && len(redo) == 0)) {
			end()
		}
		drain = false
		if failure != nil || (eof && len(redo) == 0) {
			break
		}
		var batch []pending
		if len(redo) > 0 {
			batch, redo = redo[0], redo[1:]
		} else {
			rb, ok := <-batches
			if !ok {
				eof = true
				continue
			}
			if rb.err != nil {
				failure = fmt.Errorf("read import %s: %w", job.ID, rb.err)
				continue
			}
			batch = rb.batch
		}
		st := newBatchStage(batch, inflight)
		inflight = append(inflight, st)
		go s.runStage(ctx, tenantID, job, opt, st)
	}
	if failure != nil {
		return failure
	}
	return s.finishJob(ctx, tenantID, job, "")
}

// importWorkers is how many batches of an import are saved at once: one
// PostgreSQL backend per core of the two-core machines Stacks is sized for.
// (A variable so that tests compare the outcome with one at a time.)
var importWorkers = 2

// runStage saves one batch in its own transaction (see batchStage) and
// closes st.done with the outcome.
func (s *Service) runStage(ctx context.Context, tenantID uuid.UUID, job *Job, opt ImportOptions, st *batchStage) {
	defer close(st.done)
	defer closeOnce(st.matched)
	defer func() {
		// A panic here would end the process: no caller's recover sees
		// this goroutine. It fails the import instead.
		if r := recover(); r != nil {
			st.err = fmt.Errorf("import batch panicked: %v", r)
		}
	}()
	st.err = s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		// A first import fills an empty catalogue faster than autovacuum
		// analyses it: generic plans cached while bibs was nearly empty (the
		// foreign-key checks of items and headings among them, which a
		// backend keeps until bibs changes) can pick any index that leads
		// with tenant_id and then scan the whole, growing catalogue on
		// every check. DISCARD PLANS drops them: this batch's checks are
		// planned after its records are in, when bibs's real size makes
		// the primary key the cheap path. (Custom plans for everything were
		// the earlier cure: planning each foreign-key check of each row
		// took a sixth of the backend's time.) Search words wait for
		// finishBatch: batches in flight side by side would otherwise wait
		// on each other's new words.
		if err := tx.Exec(`DISCARD PLANS; SELECT app.search_words_deferred(true)`).Error; err != nil {
			return err
		}
		p, err := s.importPrincipal(ctx, job)
		if err != nil {
			return err
		}
		ctx = tenants.WithPrincipal(ctx, p)
		plan, err := s.importBatch(ctx, tx, st, opt)
		if err != nil {
			return err
		}
		// Commit in file order: a job resumes after the records it counts as
		// processed, and the job's row is written by one batch at a time.
		if prev := st.prev(); prev != nil {
			if err := wait(ctx, prev.done); err != nil {
				return err
			}
			switch {
			case errors.Is(prev.err, errRestart) || (prev.err == nil && prev.restartAfter):
				return errRestart
			case prev.err != nil:
				return errAborted
			}
		}
		d, jerrs, err := s.finishBatch(ctx, tx, st, plan, opt)
		if err != nil {
			return err
		}
		errJSON, _ := json.Marshal(jerrs)
		if jerrs == nil {
			errJSON = []byte("[]")
		}
		return tx.Exec(`UPDATE jobs SET processed = processed + ?, created = created + ?, updated = updated + ?,
			skipped = skipped + ?, failed = failed + ?, updated_at = now(),
			errors = CASE WHEN jsonb_array_length(errors) < ? THEN errors || ?::jsonb ELSE errors END
			WHERE id = ?`, len(st.batch), d.created, d.updated, d.skipped, d.failed, maxJobErrors, string(errJSON), job.ID).Error
	})
}

// readBatch is a batch of records ready for importBatch, or the error that
// stopped the reading.
type readBatch struct {
	batch []pending
	err   error
}

// readBatches reads records into batches of importBatch and prepares each
// readable one (prepare, Extract, and its row as a new record) until the
// file ends, an error that is not one record's stops it, or ctx ends.
// Records up to resumeAfter were committed by an earlier run of the job.
func readBatches(ctx context.Context, rd marc.RecordReader, tenant uuid.UUID, resumeAfter int, out chan<- readBatch) {
	defer close(out)
	number := 0
	for eof := false; !eof; {
		var batch []pending
		for len(batch) < importBatch {
			rec, err := rd.Read()
			if err == io.EOF {
				eof = true
				break
			}
			var pe *marc.ParseError
			if err != nil && !errors.As(err, &pe) {
				select {
				case out <- readBatch{err: err}:
				case <-ctx.Done():
				}
				return
			}
			number++
			if number <= resumeAfter {
				continue // committed by an earlier run of this job
			}
			p := pending{n: number, rec: rec, err: err}
			if err == nil {
				p.prepareNew(tenant)
			}
			batch = append(batch, p)
		}
		if len(batch) == 0 {
			continue
		}
		select {
		case out <- readBatch{batch: batch}:
		case <-ctx.Done():
			return
		}
	}
}

func (s *Service) finishJob(ctx context.Context, tenantID uuid.UUID, job *Job, failure string) error {
	return s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		status := JobCompleted
		if failure != "" {
			status = JobFailed
		}
		if err := tx.Raw(`UPDATE jobs SET status = ?, message = ?, total = processed, finished_at = now(), updated_at = now()
			WHERE id = ? RETURNING *`, status, failure, job.ID).Scan(job).Error; err != nil {
			return err
		}
		// The upload is not needed once the job has ended.
		return tx.Exec(`DELETE FROM job_files WHERE job_id = ?`, job.ID).Error
	})
}

func recordError(err error) string {
	if e := errs.As(err); e != nil {
		return e.Message
	}
	return "could not be saved: " + err.Error()
}

// importPrincipal is who a job acts as: its starter (user or API key, with
// their rights as they are now), or the operator for `stacks import`.
func (s *Service) importPrincipal(ctx context.Context, job *Job) (*tenants.Principal, error) {
	var opt ImportOptions
	if err := json.Unmarshal(job.Params, &opt); err != nil {
		return nil, fmt.Errorf("job %s params: %w", job.ID, err)
	}
	switch {
	case job.CreatedBy != nil:
		return tenants.PrincipalForUser(ctx, *job.CreatedBy)
	case opt.APIKeyID != uuid.Nil:
		return tenants.PrincipalForAPIKey(ctx, opt.APIKeyID)
	}
	return tenants.SystemPrincipal(ctx)
}

// branchCodes maps branch codes to ids for holdings fields.
func branchCodes(tx *gorm.DB) (map[string]uuid.UUID, error) {
	var rows []struct {
		ID   uuid.UUID
		Code string
	}
	if err := tx.Raw(`SELECT id, code FROM branches`).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("branch codes: %w", err)
	}
	m := make(map[string]uuid.UUID, len(rows))
	for _, r := range rows {
		m[strings.ToUpper(r.Code)] = r.ID
	}
	return m, nil
}

// importItems creates a saved record's items from its holdings fields, one
// record at a time (the fallback path of importBatch).
func (s *Service) importItems(ctx context.Context, bib *Bib, rec *marc.Record, opt ImportOptions, branches map[string]uuid.UUID) error {
	ins, err := holdingsInputs(rec, opt, branches)
	if err != nil || len(ins) == 0 {
		return err
	}
	_, err = s.CreateItems(ctx, bib.ID, ins)
	return err
}

// holdingsInputs reads items from a record's holdings fields: 852 (MARC
// holdings: $b branch code, $h/$i call number, $p barcode, $z note) or 952
// (Koha: $a home branch, $o call number, $p barcode, $y item type, $g price,
// $c shelving location).
func holdingsInputs(rec *marc.Record, opt ImportOptions, branches map[string]uuid.UUID) ([]ItemInput, error) {
	var ins []ItemInput
	for _, f := range rec.Get(opt.ItemsFrom) {
		var in ItemInput
		str := func(v string) *string { v = strings.TrimSpace(v); return &v }
		code, barcode := f.Sub('b'), f.Sub('p')
		if opt.ItemsFrom == "852" {
			if cn := strings.TrimSpace(f.Sub('h') + " " + f.Sub('i')); cn != "" {
				in.CallNumber = str(cn)
			}
			if z := f.Sub('z'); z != "" {
				in.Notes = str(z)
			}
		} else {
			code = f.Sub('a')
			if cn := f.Sub('o'); cn != "" {
				in.CallNumber = str(cn)
			}
			if t := strings.ToLower(f.Sub('y')); t != "" {
				in.ItemType = str(t)
			}
			if loc := f.Sub('c'); loc != "" {
				in.Location = str(loc)
			}
			if g := f.Sub('g'); g != "" {
				amount, ok := parseMinorUnits(g)
				if !ok {
					return nil, errs.E(errs.Invalid, "invalid_price", fmt.Sprintf("952 $g %q is not a price", g))
				}
				in.Price = &Money{Amount: amount, Currency: opt.Currency}
			}
		}
		if strings.TrimSpace(barcode) == "" {
			// A holdings statement without a barcode (LoC records carry
			// location-only 852s) describes no item: keep the record, add none.
			continue
		}
		in.Barcode = str(barcode)
		branch, ok := branches[strings.ToUpper(strings.TrimSpace(code))]
		if !ok {
			if opt.DefaultBranch == uuid.Nil {
				return nil, errs.E(errs.Invalid, "unknown_branch", fmt.Sprintf("%s branch code %q matches no branch; pass a default branch", opt.ItemsFrom, code))
			}
			branch = opt.DefaultBranch
		}
		in.BranchID = &branch
		ins = append(ins, in)
	}
	return ins, nil
}

// parseMinorUnits reads a decimal price such as "19.99" or "5" into cents
// without floating point.
func parseMinorUnits(s string) (int64, bool) {
	s = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(s), "$€£"))
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(frac) > 2 {
		return 0, false
	}
	frac = (frac + "00")[:2]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || w > 1e12 {
		return 0, false
	}
	return w*100 + f, true
}
