-- Per-copy destinations of an order line: "3 copies: 2 to Main as books,
-- 1 to East as reference". A line without rows here sends every copy to
-- its own branch and item type. Copy n is the n-th copy received.

-- +goose Up
CREATE TABLE po_line_copies (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    po_line_id uuid NOT NULL,
    copy_no    integer NOT NULL CHECK (copy_no >= 1),
    branch_id  uuid NOT NULL,
    item_type  text NOT NULL,
    PRIMARY KEY (tenant_id, po_line_id, copy_no),
    FOREIGN KEY (tenant_id, po_line_id) REFERENCES po_lines (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches (tenant_id, id)
);
CREATE INDEX po_line_copies_branch_idx ON po_line_copies (tenant_id, branch_id);
ALTER TABLE po_line_copies ENABLE ROW LEVEL SECURITY;
ALTER TABLE po_line_copies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON po_line_copies
    USING (tenant_id = app.current_tenant_id()) WITH CHECK (tenant_id = app.current_tenant_id());
GRANT SELECT, INSERT ON po_line_copies TO stacks_app;
