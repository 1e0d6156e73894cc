-- SPDX-License-Identifier: Apache-2.0
-- Spend history: one row per model request, written by sluice-coordinator from the gateways'
-- spend events (common/spend_event.h), and daily totals per entity and model group. The
-- request id is the gateway's own call id, so replaying an event never adds a second row.

CREATE TABLE spend_logs (
    request_id            text PRIMARY KEY,
    call_type             text NOT NULL,
    api_key               text NOT NULL DEFAULT '', -- SHA-256 hex of the key, '' for the master key
    key_alias             text,
    spend                 double precision NOT NULL DEFAULT 0,
    prompt_tokens         bigint NOT NULL DEFAULT 0,
    completion_tokens     bigint NOT NULL DEFAULT 0,
    total_tokens          bigint NOT NULL DEFAULT 0,
    cached_tokens         bigint NOT NULL DEFAULT 0,
    cache_creation_tokens bigint NOT NULL DEFAULT 0,
    reasoning_tokens      bigint NOT NULL DEFAULT 0,
    usage_estimated       boolean NOT NULL DEFAULT false, -- the provider reported no usage
    priced                boolean NOT NULL DEFAULT true,  -- false: no price known, spend 0
    start_time            timestamptz NOT NULL,
    end_time              timestamptz NOT NULL,
    completion_start_time timestamptz,
    model                 text,
    model_id              text,
    model_group           text,
    custom_llm_provider   text,
    api_base              text,
    user_id               text,
    team_id               text,
    organization_id       text,
    end_user              text,
    status                text NOT NULL CHECK (status IN ('success', 'failure')),
    http_status           integer,
    cache_hit             boolean NOT NULL DEFAULT false,
    requester_ip_address  text,
    user_agent            text,
    messages              text, -- the request body, only with store_prompts_in_spend_logs
    response              text, -- the response body, idem
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spend_logs_start_time_idx ON spend_logs (start_time);
CREATE INDEX spend_logs_api_key_idx ON spend_logs (api_key, start_time);
CREATE INDEX spend_logs_user_id_idx ON spend_logs (user_id, start_time);
CREATE INDEX spend_logs_team_id_idx ON spend_logs (team_id, start_time);
CREATE INDEX spend_logs_end_user_idx ON spend_logs (end_user, start_time);

-- Totals per UTC day, entity and model group, upserted with increments by the coordinator.
CREATE TABLE daily_spend (
    date                        date NOT NULL,
    entity_type                 text NOT NULL
                                CHECK (entity_type IN ('key', 'user', 'team', 'organization',
                                                       'end_user')),
    entity_id                   text NOT NULL,
    model_group                 text NOT NULL DEFAULT '',
    custom_llm_provider         text NOT NULL DEFAULT '',
    prompt_tokens               bigint NOT NULL DEFAULT 0,
    completion_tokens           bigint NOT NULL DEFAULT 0,
    cache_read_input_tokens     bigint NOT NULL DEFAULT 0,
    cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
    spend                       double precision NOT NULL DEFAULT 0,
    api_requests                bigint NOT NULL DEFAULT 0,
    successful_requests         bigint NOT NULL DEFAULT 0,
    failed_requests             bigint NOT NULL DEFAULT 0,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (date, entity_type, entity_id, model_group, custom_llm_provider)
);
CREATE INDEX daily_spend_entity_idx ON daily_spend (entity_type, entity_id, date);
