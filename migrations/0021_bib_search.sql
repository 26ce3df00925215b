-- A narrow table for search: what ranking, facets and the search
-- conditions read of each record, apart from the wide bibs row.
--
-- Relevance ranks the first 2,000 matches and counts facets over them. From
-- bibs that read 2,000 rows of about 1.8 kB each (the MARC record, notes,
-- call numbers and the rest ride along): ≈1,200 pages per search, mostly
-- from the OS cache because a catalogue does not fit in shared buffers, and
-- that read was most of a search's time. bib_search holds the search vector
-- and the facet values only (≈0.7 kB a record), so the same candidates take
-- a third of the pages; EXPLAIN (ANALYZE, BUFFERS) of "history" in a library
-- of 10k among 100: 1,214 pages and 25-60 ms from bibs, about half the time
-- from this table. The page of results (20 rows) still comes from bibs.
--
-- The search vector moves here (bibs.search and its GIN indexes go), so an
-- import maintains the GIN indexes once, as before. A statement trigger
-- fills the table from each INSERT or UPDATE of bibs (one INSERT per
-- statement, as search_words does); deleting a record deletes its row
-- through the foreign key.

-- +goose Up
SET LOCAL maintenance_work_mem = '256MB';

CREATE TABLE bib_search (
    tenant_id  uuid NOT NULL,
    id         uuid NOT NULL,
    pub_year   integer,
    format     text NOT NULL,
    language   text NOT NULL,
    subjects   text[] NOT NULL,
    authors    text[] NOT NULL,
    search     tsvector NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, id) REFERENCES bibs (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE bib_search ENABLE ROW LEVEL SECURITY;
ALTER TABLE bib_search FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bib_search
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON bib_search TO stacks_app;

-- The vector as app.bibs_search_vector (0002) built it: title A, authors B,
-- subjects C, everything else D, each stemmed English and as written.
-- +goose StatementBegin
CREATE FUNCTION app.bib_search_vector(title text, authors text[], subjects text[], series text[], notes text,
    publisher text, edition text, isbns text[], issns text[], lccn text, call_number text, responsibility text)
RETURNS tsvector LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('app.stacks_english', title), 'A') ||
        setweight(to_tsvector('app.stacks_simple', title), 'A') ||
        setweight(to_tsvector('app.stacks_english', array_to_string(authors, ' ')), 'B') ||
        setweight(to_tsvector('app.stacks_simple', array_to_string(authors, ' ')), 'B') ||
        setweight(to_tsvector('app.stacks_english', array_to_string(subjects, ' ')), 'C') ||
        setweight(to_tsvector('app.stacks_simple', array_to_string(subjects, ' ')), 'C') ||
        setweight(to_tsvector('app.stacks_english', o), 'D') ||
        setweight(to_tsvector('app.stacks_simple', o), 'D')
    FROM (SELECT concat_ws(' ', array_to_string(series, ' '), notes, publisher, edition, array_to_string(isbns, ' '),
        array_to_string(issns, ' '), lccn, call_number, responsibility) AS o) other
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app.bib_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.bib_search (tenant_id, id, pub_year, format, language, subjects, authors, search)
    SELECT n.tenant_id, n.id, n.pub_year, n.format, n.language, n.subjects, n.authors,
        app.bib_search_vector(n.title, n.authors, n.subjects, n.series, n.notes, n.publisher, n.edition,
            n.isbns, n.issns, n.lccn, n.call_number, n.responsibility)
    FROM new_rows n
    ON CONFLICT (tenant_id, id) DO UPDATE SET pub_year = EXCLUDED.pub_year, format = EXCLUDED.format,
        language = EXCLUDED.language, subjects = EXCLUDED.subjects, authors = EXCLUDED.authors, search = EXCLUDED.search;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- Existing records, one tenant at a time (works under FORCE for a plain
-- owner too); the vectors bibs already holds are copied, not rebuilt.
-- +goose StatementBegin
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        INSERT INTO bib_search (tenant_id, id, pub_year, format, language, subjects, authors, search)
        SELECT b.tenant_id, b.id, b.pub_year, b.format, b.language, b.subjects, b.authors,
            coalesce(b.search, app.bib_search_vector(b.title, b.authors, b.subjects, b.series, b.notes, b.publisher,
                b.edition, b.isbns, b.issns, b.lccn, b.call_number, b.responsibility))
        FROM bibs b WHERE b.tenant_id = t;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
-- +goose StatementEnd

-- As 0019: the tenant-led index for libraries that share a server, the
-- value-only one for a rare word in a very large library.
CREATE INDEX bib_search_tenant_idx ON bib_search USING gin (tenant_id, search);
CREATE INDEX bib_search_search_idx ON bib_search USING gin (search);

CREATE TRIGGER bib_search_insert AFTER INSERT ON bibs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.bib_search_sync();
CREATE TRIGGER bib_search_update AFTER UPDATE ON bibs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.bib_search_sync();

DROP TRIGGER bibs_search_vector ON bibs;
DROP FUNCTION app.bibs_search_vector();
DROP INDEX bibs_search_tenant_idx;
DROP INDEX bibs_search_idx;
ALTER TABLE bibs DROP COLUMN search;

ANALYZE bib_search;
