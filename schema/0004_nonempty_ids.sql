-- SPDX-License-Identifier: Apache-2.0
-- Ids that clients choose must not be empty strings: an empty id cannot be named in a query
-- string or a path, and it reads as "no value" in every tool. Each constraint is named
-- <table>_<column>_not_empty, which the management API turns into a 400 naming the column.

ALTER TABLE budgets ADD CONSTRAINT budgets_budget_id_not_empty CHECK (budget_id <> '');
ALTER TABLE organizations
    ADD CONSTRAINT organizations_organization_id_not_empty CHECK (organization_id <> '');
ALTER TABLE teams ADD CONSTRAINT teams_team_id_not_empty CHECK (team_id <> '');
ALTER TABLE users ADD CONSTRAINT users_user_id_not_empty CHECK (user_id <> '');
ALTER TABLE end_users ADD CONSTRAINT end_users_end_user_id_not_empty CHECK (end_user_id <> '');
ALTER TABLE models ADD CONSTRAINT models_model_id_not_empty CHECK (model_id <> '');
ALTER TABLE credentials
    ADD CONSTRAINT credentials_credential_name_not_empty CHECK (credential_name <> '');
ALTER TABLE keys ADD CONSTRAINT keys_key_alias_not_empty CHECK (key_alias <> '');
