-- SPDX-License-Identifier: Apache-2.0
-- Identities and their limits: budgets, organizations, teams, users, memberships, end users and
-- virtual keys. Money is in USD as double precision and limits are bigint, as LiteLLM stores
-- them. Ids are text because clients may choose them; generated ids are UUIDs.
--
-- Limits live in budget rows that entities point at (budget_id). A budget may be shared (every
-- membership of a team can point at the team's member budget), so a budget in use cannot be
-- deleted (ON DELETE RESTRICT). Live spend is counted in Redis; the spend columns here are the
-- reconciled totals that the coordinator writes.

-- Limits of one entity, or of a group of entities that share them.
CREATE TABLE budgets (
    budget_id             text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    max_budget            double precision CHECK (max_budget >= 0),
    soft_budget           double precision CHECK (soft_budget >= 0),
    max_parallel_requests integer CHECK (max_parallel_requests >= 0),
    tpm_limit             bigint CHECK (tpm_limit >= 0),
    rpm_limit             bigint CHECK (rpm_limit >= 0),
    -- {"<model>": {"budget_limit": 0.5, "time_period": "1d"}, ...}
    model_max_budget      jsonb NOT NULL DEFAULT '{}',
    budget_duration       text,
    -- Start of the current budget period; live spend in Redis is keyed by it.
    budget_period_start   timestamptz,
    budget_reset_at       timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    created_by            text,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    updated_by            text
);
-- The coordinator's reset job scans for budgets whose period has ended.
CREATE INDEX budgets_reset_at_idx ON budgets (budget_reset_at)
    WHERE budget_reset_at IS NOT NULL;

CREATE TABLE organizations (
    organization_id    text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_alias text NOT NULL,
    budget_id          text REFERENCES budgets ON DELETE RESTRICT,
    models             text[] NOT NULL DEFAULT '{}',
    metadata           jsonb NOT NULL DEFAULT '{}',
    spend              double precision NOT NULL DEFAULT 0,
    model_spend        jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text
);

CREATE TABLE teams (
    team_id                 text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    team_alias              text,
    organization_id         text REFERENCES organizations ON DELETE RESTRICT,
    budget_id               text REFERENCES budgets ON DELETE RESTRICT,
    -- Budget row shared by every membership that has no budget of its own.
    member_budget_id        text REFERENCES budgets ON DELETE RESTRICT,
    models                  text[] NOT NULL DEFAULT '{}',
    model_aliases           jsonb NOT NULL DEFAULT '{}',
    -- Routes that members with role 'user' may call.
    team_member_permissions text[] NOT NULL DEFAULT '{}',
    metadata                jsonb NOT NULL DEFAULT '{}',
    router_settings         jsonb,
    blocked                 boolean NOT NULL DEFAULT false,
    spend                   double precision NOT NULL DEFAULT 0,
    model_spend             jsonb NOT NULL DEFAULT '{}',
    created_at              timestamptz NOT NULL DEFAULT now(),
    created_by              text,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    updated_by              text
);
CREATE INDEX teams_organization_id_idx ON teams (organization_id);

CREATE TABLE users (
    user_id         text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    user_alias      text,
    user_email      text,
    user_role       text NOT NULL DEFAULT 'internal_user'
                    CHECK (user_role IN ('proxy_admin', 'proxy_admin_viewer', 'org_admin',
                                         'internal_user', 'internal_user_viewer', 'team',
                                         'customer')),
    sso_user_id     text UNIQUE,
    organization_id text REFERENCES organizations ON DELETE SET NULL,
    budget_id       text REFERENCES budgets ON DELETE RESTRICT,
    models          text[] NOT NULL DEFAULT '{}',
    metadata        jsonb NOT NULL DEFAULT '{}',
    spend           double precision NOT NULL DEFAULT 0,
    model_spend     jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text
);
CREATE INDEX users_email_idx ON users (lower(user_email));
CREATE INDEX users_organization_id_idx ON users (organization_id);

-- A user's place in a team, with the spend and limits of that user inside that team.
CREATE TABLE team_memberships (
    team_id    text NOT NULL REFERENCES teams ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users ON DELETE CASCADE,
    role       text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    budget_id  text REFERENCES budgets ON DELETE RESTRICT,
    spend      double precision NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_memberships_user_id_idx ON team_memberships (user_id);

CREATE TABLE organization_memberships (
    organization_id text NOT NULL REFERENCES organizations ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users ON DELETE CASCADE,
    user_role       text,
    budget_id       text REFERENCES budgets ON DELETE RESTRICT,
    spend           double precision NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_memberships_user_id_idx ON organization_memberships (user_id);

-- End users (LiteLLM's customers): the `user` field of a request body.
CREATE TABLE end_users (
    end_user_id          text PRIMARY KEY,
    alias                text,
    blocked              boolean NOT NULL DEFAULT false,
    allowed_model_region text CHECK (allowed_model_region IN ('eu', 'us')),
    default_model        text,
    budget_id            text REFERENCES budgets ON DELETE RESTRICT,
    spend                double precision NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Virtual keys. `token` is the lowercase hex SHA-256 of the key, the same value LiteLLM
-- stores, so keys issued by either product hash alike. The key itself is never stored.
-- A user, team or organization that still has keys cannot be deleted (RESTRICT), so that
-- every removed key is first copied to deleted_keys by the management API.
CREATE TABLE keys (
    token                  text PRIMARY KEY CHECK (token ~ '^[0-9a-f]{64}$'),
    key_name               text, -- 'sk-...' followed by the key's last 4 characters
    key_alias              text UNIQUE,
    user_id                text REFERENCES users ON DELETE RESTRICT,
    team_id                text REFERENCES teams ON DELETE RESTRICT,
    organization_id        text REFERENCES organizations ON DELETE RESTRICT,
    budget_id              text REFERENCES budgets ON DELETE RESTRICT,
    models                 text[] NOT NULL DEFAULT '{}',
    aliases                jsonb NOT NULL DEFAULT '{}',
    config                 jsonb NOT NULL DEFAULT '{}',
    permissions            jsonb NOT NULL DEFAULT '{}',
    metadata               jsonb NOT NULL DEFAULT '{}',
    router_settings        jsonb,
    allowed_cache_controls text[] NOT NULL DEFAULT '{}',
    allowed_routes         text[] NOT NULL DEFAULT '{}',
    spend                  double precision NOT NULL DEFAULT 0,
    model_spend            jsonb NOT NULL DEFAULT '{}',
    soft_budget_cooldown   boolean NOT NULL DEFAULT false,
    expires                timestamptz, -- NULL: never expires
    blocked                boolean NOT NULL DEFAULT false,
    auto_rotate            boolean NOT NULL DEFAULT false,
    rotation_interval      text,
    rotation_count         integer NOT NULL DEFAULT 0,
    last_rotation_at       timestamptz,
    key_rotation_at        timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    created_by             text,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             text
);
CREATE INDEX keys_user_id_team_id_idx ON keys (user_id, team_id);
CREATE INDEX keys_team_id_idx ON keys (team_id);
CREATE INDEX keys_organization_id_idx ON keys (organization_id);
CREATE INDEX keys_budget_id_idx ON keys (budget_id);
CREATE INDEX keys_expires_idx ON keys (expires) WHERE expires IS NOT NULL;

-- Deleted keys, kept for audit: the row as it was (`key_row`, every column of keys) and who
-- deleted it. No foreign keys, so the copy outlives the owners. A token can appear more than
-- once if a custom key is created again after deletion.
CREATE TABLE deleted_keys (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token              text NOT NULL,
    key_alias          text,
    user_id            text,
    team_id            text,
    organization_id    text,
    key_row            jsonb NOT NULL,
    deleted_at         timestamptz NOT NULL DEFAULT now(),
    deleted_by         text,
    deleted_by_api_key text, -- hash of the key that made the request
    changed_by         text  -- the litellm-changed-by header, if sent
);
CREATE INDEX deleted_keys_token_idx ON deleted_keys (token);
CREATE INDEX deleted_keys_deleted_at_idx ON deleted_keys (deleted_at);
