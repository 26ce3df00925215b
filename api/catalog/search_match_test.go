package catalog

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// The condition search filters with (tsMatchSQL: the English query alone
// when no word was a stop word) must match exactly the records the full
// query (tsQuerySQL: English OR as written) matches, which ranking uses.
func TestSearchMatch_SameRecordsAsFullQuery(t *testing.T) {
	env := tenanttest.Get(t)
	tenant, ctx := genTenant(t, env, 1)
	titles := []string{
		"A history of the world war", "Histories of American cities", "The historic chamber of secrets",
		"Chamber in secrets", "World-war memories", "Running and runners", "Gödel, Escher, Bach",
		"Of mice and men", "The the", "Wars of the worlds",
	}
	svc := NewService(env.Tenants)
	err := env.Pool.Tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		for _, title := range titles {
			rec, err := BibForm{Title: title, Authors: []string{"Smith, Jo"}, Subjects: []string{"World War, 1939-1945"}}.Build(time.Now())
			if err != nil {
				return err
			}
			if _, err := svc.SaveRecord(ctx, rec, DupAdd); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"history", "histories", "historic", "world war", `"world war"`, `"chamber of secrets"`, "the world",
		"of", "the OR wars", "american OR chamber", "godel", "gödel", "running", "runners", "world-war",
		"author:smith", "title:history", "wars -history", "histor*", "the the",
	} {
		t.Run(q, func(t *testing.T) {
			tree, err := ParseQuery(q)
			if err != nil || tree == nil {
				t.Fatalf("parse %q: %v", q, err)
			}
			e := (&compiler{}).compile(tree, false)
			if e.ts == "" {
				t.Fatalf("%q did not compile to a text query", q)
			}
			var full, match []uuid.UUID
			err = env.Pool.Tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
				ts := e.ts
				args := []any{ts, ts, ts, ts, ts}
				if err := db.Raw(`SELECT id FROM bib_search WHERE search @@ `+tsQuerySQL+` ORDER BY id`, args...).Scan(&full).Error; err != nil {
					return err
				}
				return db.Raw(`SELECT id FROM bib_search WHERE `+tsSQL(ts).sql+` ORDER BY id`, args...).Scan(&match).Error
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%q: %d records", q, len(full))
			if !slices.Equal(full, match) {
				t.Fatalf("%q: full query matched %d records, the search condition %d", q, len(full), len(match))
			}
		})
	}
}
