-- SPDX-License-Identifier: Apache-2.0
-- One row per change made through the management API: who changed which object, and the
-- values before and after. Rows are only inserted, never updated.

CREATE TABLE audit_log (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at         timestamptz NOT NULL DEFAULT now(),
    changed_by         text,          -- user id, or the litellm-changed-by header when sent
    changed_by_api_key text,          -- hash of the key that made the request
    action             text NOT NULL
                       CHECK (action IN ('created', 'updated', 'deleted', 'blocked',
                                         'unblocked', 'rotated')),
    table_name         text NOT NULL, -- 'keys', 'teams', 'users', ...
    object_id          text NOT NULL,
    before_value       jsonb,         -- NULL for 'created'
    updated_values     jsonb          -- NULL for 'deleted'
);
CREATE INDEX audit_log_object_idx ON audit_log (table_name, object_id);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);
