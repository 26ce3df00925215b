package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Branches is what the catalog needs of the tenants module.
type Branches interface {
	GetBranch(ctx context.Context, id uuid.UUID) (*tenants.Branch, error)
	// Pool opens tenant transactions for work outside a request (jobs, exports).
	Pool() *tenants.Pool
	// CheckLimit refuses new records beyond the library's plan.
	CheckLimit(ctx context.Context, resource string, n int) error
}

// Service is the catalog module.
type Service struct {
	branches Branches
	pool     *tenants.Pool
	enqueue  Enqueuer
	log      *slog.Logger
	now      func() time.Time
	// MaxImportBytes limits MARC uploads; 0 means DefaultMaxImportBytes.
	MaxImportBytes int64
	// SearchCap is how many matches relevance and facets consider; 0 means
	// DefaultSearchCap.
	SearchCap int
	// ProbeCatalogue is the catalogue size from which search walks the
	// records for dense queries; 0 means DefaultProbeCatalogue.
	ProbeCatalogue int
	holdings       HoldingsSource // serial holdings statements (SetHoldings)
	// catalogueSizes remembers each tenant's catalogue size estimate
	// (uuid.UUID -> catalogueSize) for search's plan choice.
	catalogueSizes sync.Map
}

// NewService builds the catalog service.
func NewService(b Branches) *Service {
	return &Service{branches: b, pool: b.Pool(), log: slog.Default(), now: time.Now}
}

// SetJobs connects the service to the background workers: imports are
// enqueued with enq, and failures to enqueue are logged to log.
func (s *Service) SetJobs(enq Enqueuer, log *slog.Logger) *Service {
	s.enqueue, s.log = enq, log
	return s
}

// Bib is a bibliographic record as the API shows it.
type Bib struct {
	ID uuid.UUID `json:"id"`
	Fields
	Marc      *marc.Record `json:"marc,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Warnings  []string     `json:"warnings,omitempty"`
	// Holdings of a serial: one statement per subscription (serials).
	Holdings []string `json:"holdings,omitempty"`
}

// bibRow is the bibs table.
type bibRow struct {
	TenantID       uuid.UUID
	ID             uuid.UUID
	Marc           []byte
	Title          string
	TitleSort      string
	Responsibility string
	Authors        tenants.Strings
	AuthorSort     string
	Subjects       tenants.Strings
	ISBNs          tenants.Strings `gorm:"column:isbns"`
	ISSNs          tenants.Strings `gorm:"column:issns"`
	LCCN           string          `gorm:"column:lccn"`
	OCLC           string          `gorm:"column:oclc"`
	Publisher      string
	PubYear        *int
	Edition        string
	Language       string
	Format         string
	Series         tenants.Strings
	Notes          string
	CallNumber     string
	CallNumberSort string
	MatchKey       string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (bibRow) TableName() string { return "bibs" }

func rowFrom(tenant, id uuid.UUID, rec *marc.Record, f Fields) (*bibRow, error) {
	// EncodeJSON, not json.Marshal: that would run the encoder's output
	// through a second, validating pass (a tenth of an import's Go time).
	raw, err := marc.EncodeJSON(rec)
	if err != nil {
		return nil, fmt.Errorf("encode marc: %w", err)
	}
	return &bibRow{TenantID: tenant, ID: id, Marc: raw, Title: f.Title, TitleSort: f.TitleSort,
		Responsibility: f.Responsibility, Authors: f.Authors, AuthorSort: f.AuthorSort, Subjects: f.Subjects,
		ISBNs: f.ISBNs, ISSNs: f.ISSNs, LCCN: f.LCCN, OCLC: f.OCLC, Publisher: f.Publisher, PubYear: f.Year,
		Edition: f.Edition, Language: f.Language, Format: f.Format, Series: f.Series, Notes: f.Notes,
		CallNumber: f.CallNumber, CallNumberSort: f.CallNumberSort, MatchKey: f.MatchKey}, nil
}

func (r *bibRow) bib(withMarc bool) (*Bib, error) {
	b := &Bib{ID: r.ID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Fields: Fields{
		Title: r.Title, Responsibility: r.Responsibility, Authors: r.Authors, Subjects: r.Subjects,
		ISBNs: r.ISBNs, ISSNs: r.ISSNs, LCCN: r.LCCN, OCLC: r.OCLC, Publisher: r.Publisher, Year: r.PubYear,
		Edition: r.Edition, Language: r.Language, Format: r.Format, Series: r.Series, Notes: r.Notes,
		CallNumber: r.CallNumber}}
	if withMarc {
		b.Marc = &marc.Record{}
		if err := json.Unmarshal(r.Marc, b.Marc); err != nil {
			return nil, fmt.Errorf("decode stored marc of %s: %w", r.ID, err)
		}
	}
	return b, nil
}

// Duplicate is an existing record that matches a new one.
type Duplicate struct {
	ID    uuid.UUID `json:"id"`
	Title string    `json:"title"`
	On    string    `json:"on"` // isbn, issn, lccn, oclc or title_author_year
}

// FindDuplicates looks for records matching f by ISBN, ISSN, LCCN, OCLC
// number and finally the title/author/year match key, strongest first;
// it returns the matches of the first rule that finds any.
func FindDuplicates(ctx context.Context, f Fields, except uuid.UUID) ([]Duplicate, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	rules := []struct {
		on    string
		where string
		arg   any
		use   bool
	}{
		{"isbn", "isbns && ?::text[]", tenants.Strings(f.ISBNs), len(f.ISBNs) > 0},
		{"issn", "issns && ?::text[]", tenants.Strings(f.ISSNs), len(f.ISSNs) > 0},
		{"lccn", "lccn = ?", f.LCCN, f.LCCN != ""},
		{"oclc", "oclc = ?", f.OCLC, f.OCLC != ""},
		{"title_author_year", "match_key = ?", f.MatchKey, f.MatchKey != ""},
	}
	for _, r := range rules {
		if !r.use {
			continue
		}
		var out []Duplicate
		// No ORDER BY: with it the planner may walk the primary key looking
		// for matches instead of using the rule's index.
		err := db.Raw(`SELECT id, title, ? AS "on" FROM bibs WHERE `+r.where+` AND id <> ? LIMIT 10`,
			r.on, r.arg, except).Scan(&out).Error
		if err != nil {
			return nil, fmt.Errorf("find duplicates by %s: %w", r.on, err)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, nil
}

// DuplicatePolicy says what a create or import does with a match.
type DuplicatePolicy string

const (
	DupRefuse  DuplicatePolicy = "refuse"  // API default: 409 naming the matches
	DupSkip    DuplicatePolicy = "skip"    // keep the existing record, create nothing
	DupOverlay DuplicatePolicy = "overlay" // replace the matched record's MARC, keep its items
	DupAdd     DuplicatePolicy = "add"     // add anyway
)

// SaveResult is the outcome of SaveRecord.
type SaveResult struct {
	Bib        *Bib        `json:"bib"`
	Action     string      `json:"action"` // created, updated, skipped
	Duplicates []Duplicate `json:"duplicates,omitempty"`
}

// SaveRecord creates a bib from rec, applying the duplicate policy.
func (s *Service) SaveRecord(ctx context.Context, rec *marc.Record, policy DuplicatePolicy) (*SaveResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	warnings := prepare(rec)
	f := Extract(rec)
	var dups []Duplicate
	if policy != DupAdd {
		if dups, err = FindDuplicates(ctx, f, uuid.Nil); err != nil {
			return nil, err
		}
	}
	if len(dups) > 0 {
		switch policy {
		case DupRefuse:
			return nil, errs.E(errs.Conflict, "duplicate",
				fmt.Sprintf("this record matches %d existing record(s) by %s; send ?duplicates=add to add it anyway", len(dups), dups[0].On)).
				WithDetails(map[string]any{"duplicates": dups})
		case DupSkip:
			b, err := s.GetBib(ctx, dups[0].ID, false)
			if err != nil {
				return nil, err
			}
			return &SaveResult{Bib: b, Action: "skipped", Duplicates: dups}, nil
		case DupOverlay:
			b, err := s.replace(ctx, dups[0].ID, rec, f)
			if err != nil {
				return nil, err
			}
			b.Warnings = warnings
			return &SaveResult{Bib: b, Action: "updated", Duplicates: dups}, nil
		}
	}
	if err := s.branches.CheckLimit(ctx, tenants.ResourceBibs, 1); err != nil {
		return nil, err
	}
	id := tenants.NewID()
	setControlNumber(rec, id)
	f = Extract(rec)
	row, err := rowFrom(tenant, id, rec, f)
	if err != nil {
		return nil, err
	}
	if err := db.Create(row).Error; err != nil {
		return nil, fmt.Errorf("insert bib: %w", err)
	}
	b, err := row.bib(false)
	if err != nil {
		return nil, err
	}
	b.Warnings = warnings
	return &SaveResult{Bib: b, Action: "created", Duplicates: dups}, nil
}

// prepare normalises a record before it is stored: identifiers validated
// (invalid ones to $z) and the leader marked Unicode.
func prepare(rec *marc.Record) []string {
	if len(rec.Leader) != 24 {
		rec.Leader = (rec.Leader + "                        ")[:24]
	}
	l := []byte(rec.Leader)
	l[9] = 'a'
	rec.Leader = string(l)
	return NormalizeIdentifiers(rec)
}

// setControlNumber makes 001 the record's Stacks id; an incoming 001 from
// another system moves to 035 so it is not lost.
func setControlNumber(rec *marc.Record, id uuid.UUID) {
	for i := range rec.Fields {
		if rec.Fields[i].Tag == "001" {
			old := rec.Fields[i].Value
			if old != id.String() && old != "" {
				src := rec.Control("003")
				if src != "" {
					old = "(" + src + ")" + old
				}
				rec.Fields = append(rec.Fields, marc.Field{Tag: "035", Ind1: ' ', Ind2: ' ',
					Subfields: []marc.Subfield{{Code: 'a', Value: old}}})
			}
			rec.Fields[i].Value = id.String()
			return
		}
	}
	rec.Fields = append([]marc.Field{{Tag: "001", Value: id.String()}}, rec.Fields...)
}

func (s *Service) replace(ctx context.Context, id uuid.UUID, rec *marc.Record, f Fields) (*Bib, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	setControlNumber(rec, id)
	f = Extract(rec)
	row, err := rowFrom(tenant, id, rec, f)
	if err != nil {
		return nil, err
	}
	res := db.Model(&bibRow{}).Where("id = ?", id).
		Updates(map[string]any{"marc": row.Marc, "title": row.Title, "title_sort": row.TitleSort,
			"responsibility": row.Responsibility, "authors": row.Authors, "author_sort": row.AuthorSort,
			"subjects": row.Subjects, "isbns": row.ISBNs, "issns": row.ISSNs, "lccn": row.LCCN, "oclc": row.OCLC,
			"publisher": row.Publisher, "pub_year": row.PubYear, "edition": row.Edition, "language": row.Language,
			"format": row.Format, "series": row.Series, "notes": row.Notes, "call_number": row.CallNumber,
			"call_number_sort": row.CallNumberSort, "match_key": row.MatchKey,
			"updated_at": gorm.Expr("now()")})
	if res.Error != nil {
		return nil, fmt.Errorf("update bib %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, errs.NotFoundf("no such bibliographic record")
	}
	return s.GetBib(ctx, id, false)
}

// UpdateRecord replaces a bib's MARC record; its items stay.
func (s *Service) UpdateRecord(ctx context.Context, id uuid.UUID, rec *marc.Record) (*Bib, error) {
	warnings := prepare(rec)
	b, err := s.replace(ctx, id, rec, Extract(rec))
	if err != nil {
		return nil, err
	}
	b.Warnings = warnings
	return b, nil
}

// GetBib returns one bib, with its MARC record when withMarc.
func (s *Service) GetBib(ctx context.Context, id uuid.UUID, withMarc bool) (*Bib, error) {
	row, err := tenants.Find[bibRow](ctx, "no such bibliographic record", "id = ?", id)
	if err != nil {
		return nil, err
	}
	return row.bib(withMarc)
}

// ListBibs lists bibs in id order (Limit+1 rows at most).
func (s *Service) ListBibs(ctx context.Context, after uuid.UUID, limit int) ([]Bib, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []bibRow
	if err := db.Omit("marc").Where("id > ?", after).Order("id").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list bibs: %w", err)
	}
	out := make([]Bib, len(rows))
	for i := range rows {
		b, _ := rows[i].bib(false)
		out[i] = *b
	}
	return out, nil
}

// DeleteBib deletes a bib that has no items; with items it is a 409, since
// items carry circulation history.
func (s *Service) DeleteBib(ctx context.Context, id uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	var n int64
	if err := db.Raw(`SELECT count(*) FROM items WHERE bib_id = ?`, id).Scan(&n).Error; err != nil {
		return fmt.Errorf("count items: %w", err)
	}
	if n > 0 {
		return errs.E(errs.Conflict, "bib_has_items",
			fmt.Sprintf("this record has %d item(s); withdraw or move them to another record first", n))
	}
	r := db.Exec(`DELETE FROM bibs WHERE id = ?`, id)
	if r.Error != nil {
		if code, _ := tenants.PgCode(r.Error); code == tenants.PgForeignKeyViolation {
			return errs.E(errs.Conflict, "bib_in_use", "this record is still referenced (items, orders or holds)")
		}
		return fmt.Errorf("delete bib %s: %w", id, r.Error)
	}
	if r.RowsAffected == 0 {
		return errs.NotFoundf("no such bibliographic record")
	}
	return nil
}

// ParseDuplicatePolicy reads ?duplicates=.
func ParseDuplicatePolicy(s string, def DuplicatePolicy) (DuplicatePolicy, error) {
	switch p := DuplicatePolicy(strings.ToLower(s)); p {
	case "":
		return def, nil
	case DupRefuse, DupSkip, DupOverlay, DupAdd:
		return p, nil
	}
	return "", errs.E(errs.BadRequest, "bad_query", `duplicates must be "refuse", "skip", "overlay" or "add"`).
		WithDetails(map[string]any{"field": "duplicates"})
}
