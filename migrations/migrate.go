package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// AppRole is the login role the API and workers use: NOSUPERUSER,
// NOBYPASSRLS, owns nothing, holds only the DML grants the migrations give it.
const AppRole = "stacks_app"

// Up creates the application role when missing and applies every pending
// migration. ownerURL must name a superuser or the owner of the schema.
func Up(ctx context.Context, ownerURL string, log *slog.Logger) error {
	db, err := sql.Open("pgx", ownerURL)
	if err != nil {
		return fmt.Errorf("migrate: open: %w", err)
	}
	defer db.Close()
	if err := EnsureAppRole(ctx, db); err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate: locker: %w", err)
	}
	// The session lock lets several replicas run `stacks migrate` at once.
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, FS, opts...)
	if err != nil {
		return fmt.Errorf("migrate: provider: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: up: %w", err)
	}
	if log != nil {
		for _, r := range results {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

// EnsureAppRole creates AppRole when it does not exist. It never alters an
// existing role: production operators may have given it a password.
func EnsureAppRole(ctx context.Context, db *sql.DB) error {
	// Roles are cluster-wide; two migrators racing is harmless thanks to the
	// duplicate_object handler.
	_, err := db.ExecContext(ctx, `DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+AppRole+`') THEN
    CREATE ROLE `+AppRole+` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$`)
	if err != nil {
		return fmt.Errorf("migrate: create role %s: %w", AppRole, err)
	}
	return nil
}

// AppURL derives the application role's URL from the owner's URL: same host,
// port, database and options, user AppRole, no password. That works with
// local trust or peer authentication; production sets APP_DATABASE_URL.
func AppURL(ownerURL string) (string, error) {
	u, err := url.Parse(ownerURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL")
	}
	u.User = url.User(AppRole)
	return u.String(), nil
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver
