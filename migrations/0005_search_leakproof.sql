-- Let search use its indexes under row-level security.
--
-- With RLS, PostgreSQL evaluates the policy (tenant_id = app.current_tenant_id())
-- before any query condition whose function is not LEAKPROOF, so such a
-- condition can never be an index condition: full-text (@@), array overlap
-- and containment (&& @>, ISBN/ISSN lookups and duplicate detection) and
-- trigram similarity (% <%) fell back to reading every row of the tenant.
-- These functions cannot leak row data: they raise no errors that depend on
-- the values they compare and have no side effects, so we mark them
-- LEAKPROOF. That needs a superuser; under a non-superuser owner this
-- migration only warns, and search stays correct but slower (tell the DBA to
-- run these statements once).

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
        ALTER FUNCTION pg_catalog.arrayoverlap(anyarray, anyarray) LEAKPROOF;
        ALTER FUNCTION pg_catalog.arraycontains(anyarray, anyarray) LEAKPROOF;
        ALTER FUNCTION public.similarity_op(text, text) LEAKPROOF;
        ALTER FUNCTION public.word_similarity_op(text, text) LEAKPROOF;
        ALTER FUNCTION public.word_similarity_commutator_op(text, text) LEAKPROOF;
    ELSE
        RAISE WARNING 'stacks: not a superuser, so search functions stay non-LEAKPROOF and search indexes go unused under RLS; see migrations/0005_search_leakproof.sql';
    END IF;
END $$;
-- +goose StatementEnd
