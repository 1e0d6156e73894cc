-- SPDX-License-Identifier: Apache-2.0
-- Deployments and reusable provider credentials added through the management API (config.yaml
-- deployments are not stored here).
--
-- Secrets are never stored in clear. The application moves every secret parameter (api_key,
-- aws_secret_access_key and the like) into one JSON object, encrypts it with AES-256-GCM under
-- a key from the environment, and stores the ciphertext with its 16-byte tag appended, and the
-- 12-byte nonce. The jsonb columns hold only the parameters that are not secret.

CREATE TABLE models (
    model_id           text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    model_name         text NOT NULL, -- the public model group name
    litellm_params     jsonb NOT NULL DEFAULT '{}',
    secret_ciphertext  bytea,
    secret_nonce       bytea CHECK (octet_length(secret_nonce) = 12),
    model_info         jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text,
    CHECK ((secret_ciphertext IS NULL) = (secret_nonce IS NULL)),
    CHECK (secret_ciphertext IS NULL OR octet_length(secret_ciphertext) >= 16)
);
CREATE INDEX models_model_name_idx ON models (model_name);

CREATE TABLE credentials (
    credential_name   text PRIMARY KEY,
    credential_info   jsonb NOT NULL DEFAULT '{}',
    secret_ciphertext bytea NOT NULL CHECK (octet_length(secret_ciphertext) >= 16),
    secret_nonce      bytea NOT NULL CHECK (octet_length(secret_nonce) = 12),
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        text
);
