-- Background jobs that users start and watch (MARC imports first), and the
-- uploaded files they read, stored in Postgres so any worker can reach them.

-- +goose Up
CREATE TABLE jobs (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('import_marc')),
    status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    params       jsonb NOT NULL DEFAULT '{}',
    total        integer NOT NULL DEFAULT 0,
    processed    integer NOT NULL DEFAULT 0,
    created      integer NOT NULL DEFAULT 0,
    updated      integer NOT NULL DEFAULT 0,
    skipped      integer NOT NULL DEFAULT 0,
    failed       integer NOT NULL DEFAULT 0,
    errors       jsonb NOT NULL DEFAULT '[]',
    message      text NOT NULL DEFAULT '',
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES staff_users (tenant_id, id)
);

-- An uploaded file in 1 MiB chunks, deleted when its job finishes.
CREATE TABLE job_files (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    job_id     uuid NOT NULL,
    seq        integer NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (tenant_id, job_id, seq),
    FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, UPDATE ON jobs TO stacks_app;

ALTER TABLE job_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_files FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON job_files
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT, DELETE ON job_files TO stacks_app;
