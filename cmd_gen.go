package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
)

// genCatalog fills a tenant's catalogue with generated records for
// benchmarks and demos: stacks gen --tenant SLUG --bibs N.
func genCatalog(ctx context.Context, cfg config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	slug := fs.String("tenant", "", "tenant slug (required)")
	n := fs.Int("bibs", 10000, "how many records to generate")
	seed := fs.Int64("seed", 1, "random seed (the same seed gives the same records)")
	marcPath := fs.String("marc", "", "MARC file or directory whose words are mixed into the vocabularies")
	noItems := fs.Bool("no-items", false, "generate records without items")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *slug == "" || *n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: stacks gen --tenant SLUG --bibs N [--seed S] [--marc PATH] [--no-items]")
		return errors.New("--tenant and a positive --bibs are required")
	}
	svc, t, err := openTenant(ctx, cfg, *slug)
	if err != nil {
		return err
	}
	defer svc.close()
	start := time.Now()
	const chunk = 10000 // one transaction each, so a long run commits as it goes
	for done := 0; done < *n; done += chunk {
		size := min(chunk, *n-done)
		err := svc.pool.Tx(ctx, t.ID, func(ctx context.Context, _ *gorm.DB) error {
			return catalog.Generate(ctx, size, *seed+int64(done), catalog.GenOptions{MarcPath: *marcPath, NoItems: *noItems})
		})
		if err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		el := time.Since(start).Seconds()
		fmt.Fprintf(os.Stderr, "\r%d of %d records (%.0f/s)   ", done+size, *n, float64(done+size)/el)
	}
	fmt.Fprintln(os.Stderr)
	log.Info("generated", "tenant", *slug, "bibs", *n, "seconds", time.Since(start).Seconds())
	return nil
}
