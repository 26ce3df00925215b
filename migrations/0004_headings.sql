-- Heading browse: every subject and author heading of every bib, one row per
-- (bib, kind, heading), with a folded sort key, so browsing an index like a
-- card catalogue ("Cats -- Fiction  12") reads a few index pages instead of
-- unnesting the arrays of every bib. A trigger on bibs keeps it in step;
-- deleting a bib cascades.

-- +goose Up

-- The folded sort key of a heading: Unicode NFC (so decomposed input folds
-- like precomposed), accents and ligatures removed by unaccent, lower case,
-- every run of characters that are not letters or digits collapsed to one
-- space, trimmed. Browse computes the key of ?from= with this same function,
-- so the stored keys and the start key always agree.
--
-- The ICU root collation makes lower() and [[:alnum:]] Unicode-aware
-- whatever the database's default locale is (under "C" they would only know
-- ASCII and would fold "Достоевский" to nothing).
--
-- unaccent() is only STABLE (its dictionary could be changed); naming the
-- dictionary explicitly and declaring the wrapper IMMUTABLE is the usual
-- idiom. Were the unaccent rules ever changed, the stored keys would need
-- recomputing: UPDATE bib_headings SET sort_key = app.heading_key(heading).
-- +goose StatementBegin
CREATE FUNCTION app.heading_key(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT btrim(regexp_replace(
        lower(public.unaccent('public.unaccent'::regdictionary, normalize($1, NFC)) COLLATE "und-x-icu"),
        '[^[:alnum:]]+', ' ', 'g')) $$;
-- +goose StatementEnd

CREATE TABLE bib_headings (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    bib_id     uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('subject', 'author')),
    heading    text NOT NULL COLLATE "C",
    sort_key   text NOT NULL COLLATE "C",
    PRIMARY KEY (tenant_id, bib_id, kind, heading),
    FOREIGN KEY (tenant_id, bib_id) REFERENCES bibs (tenant_id, id) ON DELETE CASCADE
);
-- Browse: WHERE kind = ? AND (sort_key, heading) >= (?, ?) ORDER BY sort_key, heading.
CREATE INDEX bib_headings_browse_idx ON bib_headings (tenant_id, kind, sort_key, heading);

ALTER TABLE bib_headings ENABLE ROW LEVEL SECURITY;
ALTER TABLE bib_headings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bib_headings
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON bib_headings TO stacks_app;

-- Runs as the invoker (stacks_app under RLS in the API and workers): it only
-- touches rows of the statement's own bibs, which belong to the
-- transaction's tenant. Statement-level with transition tables, so a
-- multi-row insert (imports) maintains headings in one INSERT, not one per
-- record; updates that leave both arrays as they were (every PUT sets every
-- column) change nothing.
-- +goose StatementBegin
CREATE FUNCTION app.bib_headings_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.bib_headings (tenant_id, bib_id, kind, heading, sort_key)
    SELECT DISTINCT n.tenant_id, n.id, h.kind, h.heading, app.heading_key(h.heading)
    FROM new_rows n, LATERAL (SELECT 'subject' AS kind, s AS heading FROM unnest(n.subjects) s
          UNION ALL
          SELECT 'author', a FROM unnest(n.authors) a) h
    WHERE h.heading IS NOT NULL AND btrim(h.heading) <> '';
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.bib_headings_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM public.bib_headings h
    USING new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
    WHERE h.tenant_id = n.tenant_id AND h.bib_id = n.id
      AND (n.subjects IS DISTINCT FROM o.subjects OR n.authors IS DISTINCT FROM o.authors);
    INSERT INTO public.bib_headings (tenant_id, bib_id, kind, heading, sort_key)
    SELECT DISTINCT n.tenant_id, n.id, h.kind, h.heading, app.heading_key(h.heading)
    FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id,
         LATERAL (SELECT 'subject' AS kind, s AS heading FROM unnest(n.subjects) s
                  UNION ALL
                  SELECT 'author', a FROM unnest(n.authors) a) h
    WHERE (n.subjects IS DISTINCT FROM o.subjects OR n.authors IS DISTINCT FROM o.authors)
      AND h.heading IS NOT NULL AND btrim(h.heading) <> '';
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER bib_headings_insert AFTER INSERT ON bibs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.bib_headings_insert();
CREATE TRIGGER bib_headings_update AFTER UPDATE ON bibs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.bib_headings_update();

-- Existing records, one tenant at a time so that it works whether the
-- migrating role bypasses RLS (a superuser) or not (a plain owner, which
-- FORCE subjects to the policy).
-- +goose StatementBegin
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        INSERT INTO bib_headings (tenant_id, bib_id, kind, heading, sort_key)
        SELECT DISTINCT b.tenant_id, b.id, h.kind, h.heading, app.heading_key(h.heading)
        FROM bibs b
        CROSS JOIN LATERAL (SELECT 'subject' AS kind, s AS heading FROM unnest(b.subjects) s
                            UNION ALL
                            SELECT 'author', a FROM unnest(b.authors) a) h
        WHERE b.tenant_id = t AND h.heading IS NOT NULL AND btrim(h.heading) <> '';
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
-- +goose StatementEnd
