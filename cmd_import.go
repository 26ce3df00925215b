package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
)

const importUsage = `usage: stacks import marc FILE --tenant SLUG [--match skip|overlay|add] [--items-from 852|952]
                   [--branch CODE] [--currency USD] [--lenient]
`

// importMARC loads a MARC file (ISO 2709, MARCXML or MARC-in-JSON) into a
// tenant's catalogue from the command line, with a progress line.
func importMARC(ctx context.Context, cfg config, log *slog.Logger, args []string) error {
	if len(args) < 1 || args[0] != "marc" {
		fmt.Fprint(os.Stderr, importUsage)
		return errors.New("unknown import kind; only marc is supported")
	}
	fs := flag.NewFlagSet("import marc", flag.ContinueOnError)
	slug := fs.String("tenant", "", "tenant slug (required)")
	match := fs.String("match", "skip", "what to do with duplicates: skip, overlay or add")
	itemsFrom := fs.String("items-from", "", "create items from holdings fields: 852 or 952")
	branch := fs.String("branch", "", "branch code for items whose holdings name no known branch")
	currency := fs.String("currency", "USD", "currency of 952 $g prices")
	lenient := fs.Bool("lenient", false, "repair what can safely be repaired instead of rejecting records")
	// Flags may come before or after the file name.
	var file string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" || *slug == "" {
		fmt.Fprint(os.Stderr, importUsage)
		return errors.New("a FILE and --tenant are required")
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	svc, t, err := openTenant(ctx, cfg, *slug)
	if err != nil {
		return err
	}
	defer svc.close()
	cat := catalog.NewService(svc.tenants).SetJobs(nil, log)
	opt := catalog.ImportOptions{Match: catalog.DuplicatePolicy(*match), ItemsFrom: *itemsFrom, Currency: strings.ToUpper(*currency),
		Lenient: *lenient, Filename: file}
	if *branch != "" {
		id, err := branchByCode(ctx, svc, t.ID, *branch)
		if err != nil {
			return err
		}
		opt.DefaultBranch = id
	}
	job, err := cat.StartLocalImport(ctx, t.ID, opt)
	if err != nil {
		return err
	}
	cr := &countingReader{r: f}
	start := time.Now()
	progress := func(j *catalog.Job) {
		el := time.Since(start).Seconds()
		rate := float64(j.Processed) / el
		eta := "?"
		if done := cr.n.Load(); done > 0 {
			left := time.Duration(float64(st.Size()-done) / (float64(done) / el) * float64(time.Second))
			eta = left.Round(time.Second).String()
		}
		fmt.Fprintf(os.Stderr, "\r%s %5.1f%%  %d records  %.0f records/s  ETA %s   ",
			bar(float64(cr.n.Load())/float64(max(st.Size(), 1))), 100*float64(cr.n.Load())/float64(max(st.Size(), 1)), j.Processed, rate, eta)
	}
	if err := cat.ImportStream(ctx, t.ID, job, cr, progress); err != nil {
		fmt.Fprintln(os.Stderr)
		return err
	}
	fmt.Fprintf(os.Stderr, "\r%s 100.0%%\n", bar(1))
	el := time.Since(start)
	fmt.Printf("import %s: %s in %s (%.0f records/s): %d created, %d updated, %d skipped, %d failed\n",
		job.ID, job.Status, el.Round(time.Millisecond), float64(job.Processed)/el.Seconds(), job.Created, job.Updated, job.Skipped, job.Failed)
	var errs []catalog.JobError
	if err := json.Unmarshal(job.Errors, &errs); err == nil {
		for i, e := range errs {
			if i == 20 {
				fmt.Printf("  ... and %d more (GET /api/v1/jobs/%s)\n", job.Failed-20, job.ID)
				break
			}
			fmt.Printf("  record %d: %s\n", e.Record, e.Message)
		}
	}
	return nil
}

func bar(frac float64) string {
	n := int(frac * 30)
	n = min(max(n, 0), 30)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 30-n) + "]"
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func branchByCode(ctx context.Context, svc *services, tenantID uuid.UUID, code string) (uuid.UUID, error) {
	var id uuid.UUID
	err := svc.pool.Tx(ctx, tenantID, func(ctx context.Context, _ *gorm.DB) error {
		b, err := svc.tenants.BranchByCode(ctx, code)
		if err != nil {
			return err
		}
		id = b.ID
		return nil
	})
	return id, err
}
