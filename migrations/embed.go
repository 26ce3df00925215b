// Package migrations holds the forward-only SQL migrations (goose format) and
// applies them as the database owner, creating the restricted application
// role first.
package migrations

import "embed"

// FS holds every NNNN_name.sql migration.
//
//go:embed *.sql
var FS embed.FS
