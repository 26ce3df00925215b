-- Words of each tenant's catalogue (titles, names, subjects), folded as the
-- search configuration folds them, for "did you mean" suggestions: a typo
-- is corrected against this small dictionary with trigram similarity
-- instead of comparing trigrams against every title.

-- +goose Up
CREATE TABLE search_words (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    word       text NOT NULL,
    PRIMARY KEY (tenant_id, word)
);
-- A GIN index over values: not led by tenant_id (see 0002).
CREATE INDEX search_words_trgm_idx ON search_words USING gin (word gin_trgm_ops);

ALTER TABLE search_words ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_words FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON search_words
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON search_words TO stacks_app;

-- Words are only added: a word no record uses any more can still be
-- suggested, and then simply finds nothing.
-- +goose StatementBegin
CREATE FUNCTION app.search_words_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.search_words (tenant_id, word)
    SELECT DISTINCT n.tenant_id, w
    FROM new_rows n, unnest(tsvector_to_array(to_tsvector('app.stacks_simple',
        concat_ws(' ', n.title, array_to_string(n.authors, ' '), array_to_string(n.subjects, ' '))))) w
    WHERE length(w) BETWEEN 3 AND 40 AND w !~ '^[0-9]+$'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER search_words_insert AFTER INSERT ON bibs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.search_words_add();
CREATE TRIGGER search_words_update AFTER UPDATE ON bibs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app.search_words_add();

-- Existing records, one tenant at a time (works under FORCE for a plain owner too).
-- +goose StatementBegin
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        INSERT INTO search_words (tenant_id, word)
        SELECT DISTINCT b.tenant_id, w
        FROM bibs b, unnest(tsvector_to_array(to_tsvector('app.stacks_simple',
            concat_ws(' ', b.title, array_to_string(b.authors, ' '), array_to_string(b.subjects, ' '))))) w
        WHERE b.tenant_id = t AND length(w) BETWEEN 3 AND 40 AND w !~ '^[0-9]+$'
        ON CONFLICT DO NOTHING;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
-- +goose StatementEnd
