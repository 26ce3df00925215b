-- Import speed (issue 3: 2,000 records/s end to end).
--
-- 1. Duplicate matching looks up a whole import batch's ISBNs (and ISSNs) in
--    one query, `isbns && $keys` with about a thousand keys. With GIN's fast
--    update on, every new record's ISBNs wait in the index's unsorted
--    pending list until a vacuum or a 4 MB list merges them, and every
--    search compares each pending entry with each key: the query took 60 ms
--    a batch during a 5,000-record import and a second against a pending
--    list of 20,000 entries. A record has one or two ISBNs, so inserting
--    them straight into the entry tree costs little; fast update stays on
--    for the full-text indexes, where a record adds a hundred entries.
--
-- 2. The headings trigger folded every heading of a statement with
--    app.heading_key (NFC, unaccent, ICU lower case, a regular expression:
--    about 10 us each), although a batch of records repeats its authors and
--    subjects ("United States -- History"): it now folds each distinct
--    heading once.
--
-- 3. New MARC records and search vectors are compressed with LZ4 instead of
--    PostgreSQL's own pglz: compressing the record took a tenth of the
--    backend's time in an import, and LZ4 does it in half the time at about
--    the same size (and decompresses faster for exports and record views).
--    Stored values keep their compression until rewritten; both read alike.
--
-- 4. Search words can be added by the statement's own transaction later:
--    app.search_words_deferred() tells the trigger to leave them, and the
--    import adds the words of its records with app.add_search_words() just
--    before it commits. Two import transactions of one library then run side
--    by side (one backend per core) without waiting on each other's
--    uncommitted words, which is the only row two batches of an import both
--    write (besides the job's counters, also written just before commit).

-- +goose Up
ALTER INDEX bibs_isbns_idx SET (fastupdate = off);
ALTER INDEX bibs_issns_idx SET (fastupdate = off);
-- Entries already pending move into the tree now, not at the next vacuum.
SELECT gin_clean_pending_list('bibs_isbns_idx'::regclass);
SELECT gin_clean_pending_list('bibs_issns_idx'::regclass);

ALTER TABLE bibs ALTER COLUMN marc SET COMPRESSION lz4, ALTER COLUMN search SET COMPRESSION lz4;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app.bib_headings_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.bib_headings (tenant_id, bib_id, kind, heading, sort_key)
    WITH h AS (
        SELECT DISTINCT n.tenant_id, n.id, x.kind, x.heading
        FROM new_rows n, LATERAL (SELECT 'subject' AS kind, s AS heading FROM unnest(n.subjects) s
              UNION ALL
              SELECT 'author', a FROM unnest(n.authors) a) x
        WHERE x.heading IS NOT NULL AND btrim(x.heading) <> ''
    ), k AS (
        SELECT heading, app.heading_key(heading) AS sort_key FROM (SELECT DISTINCT heading FROM h) d
    )
    SELECT h.tenant_id, h.id, h.kind, h.heading, k.sort_key FROM h JOIN k USING (heading);
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- The words of a record for "did you mean": its title, authors and subjects
-- folded by the simple search configuration, 3 to 40 characters, not all
-- digits. One definition for the trigger and the import.
-- +goose StatementBegin
CREATE FUNCTION app.catalog_words(title text, authors text[], subjects text[]) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT w FROM unnest(tsvector_to_array(to_tsvector('app.stacks_simple',
              concat_ws(' ', title, array_to_string(authors, ' '), array_to_string(subjects, ' '))))) w
          WHERE length(w) BETWEEN 3 AND 40 AND w !~ '^[0-9]+$' $$;
-- +goose StatementEnd

-- The transaction's inserts and updates of bibs leave search_words to
-- app.add_search_words (transaction-local, like app.tenant_id).
-- +goose StatementBegin
CREATE FUNCTION app.search_words_deferred(deferred boolean) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$ SELECT set_config('app.search_words', CASE WHEN deferred THEN 'deferred' ELSE '' END, true) $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app.search_words_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('app.search_words', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.search_words (tenant_id, word)
    SELECT DISTINCT n.tenant_id, w
    FROM new_rows n, app.catalog_words(n.title, n.authors, n.subjects) w
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- The words of the given records of the current library (RLS picks the
-- library's rows; runs as the invoker).
-- +goose StatementBegin
CREATE FUNCTION app.add_search_words(bib_ids uuid[]) RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO public.search_words (tenant_id, word)
    SELECT DISTINCT b.tenant_id, w
    FROM public.bibs b, app.catalog_words(b.title, b.authors, b.subjects) w
    WHERE b.id = ANY(bib_ids)
    ON CONFLICT DO NOTHING
$$;
-- +goose StatementEnd
