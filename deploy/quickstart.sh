#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install, build and try sluice-gateway in one command on Debian 12. The script installs the
# packages (deploy/install-deps.sh), builds the gateway, sluice-coordinator and sluice-mock in
# build/, starts a private redis-server and PostgreSQL 15 cluster on free 127.0.0.1 ports and
# applies the schema with `sluice-coordinator migrate`. It then starts the gateway and the
# coordinator on them with deploy/examples/config.yaml, creates a virtual key with the master key
# and sends one chat completion with that virtual key. It prints the reply and the token usage,
# waits for the request's row in GET /spend/logs and prints it, then stops every process it
# started and removes its temporary directory, also when a step fails.
# Upstream: when OPENAI_API_KEY is set, the request goes to OpenAI (OPENAI_API_BASE, default
# https://api.openai.com/v1) and is billed to that key. Otherwise sluice-mock, the project's
# mock provider, listens on another 127.0.0.1 port and no request leaves the machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PROMPT="Say hello in one sentence"
MODEL=gpt-4o-mini

bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target sluice-gateway sluice-coordinator sluice-mock

GATEWAY_BIN=build/gateway/sluice-gateway
COORDINATOR_BIN=build/coordinator/sluice-coordinator
MOCK_BIN=build/bench/sluice-mock

# Files in RUN_DIR contain the virtual key and the service logs, so only the owner may read them.
# The directory itself is 711 so that the postgres user, when the script runs as root, can reach
# its own data directory inside it.
umask 077
RUN_DIR=$(mktemp -d /tmp/sluice-quickstart.XXXXXX)
chmod 711 "$RUN_DIR"
PG_DIR="$RUN_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_STARTED=0
PIDS=()

SERVICES_NAME=quickstart
# shellcheck source=deploy/lib/services.sh
. deploy/lib/services.sh

cleanup() {
    stop_services
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_upstream() {
    local mock_url
    if [ -n "${OPENAI_API_KEY:-}" ]; then
        export OPENAI_API_BASE=${OPENAI_API_BASE:-https://api.openai.com/v1}
        echo "quickstart: upstream is $OPENAI_API_BASE with your OPENAI_API_KEY"
        return 0
    fi
    "$MOCK_BIN" --host 127.0.0.1 --port 0 >"$RUN_DIR/mock.log" 2>&1 &
    PIDS+=($!)
    mock_url="http://127.0.0.1:$(wait_for_port "$RUN_DIR/mock.log" mock.listening "${PIDS[-1]}")"
    # Script the mock's next chat completion so the output reads like a model's greeting.
    curl -sS -f --max-time 10 -X POST "$mock_url/_mock/responses" \
        -H 'content-type: application/json' \
        -d '{"text": "Hello, and welcome to Sluice, your gateway to language models!"}' >/dev/null
    export OPENAI_API_KEY=sk-quickstart-mock
    export OPENAI_API_BASE="$mock_url/v1"
    echo "quickstart: upstream is sluice-mock (pid ${PIDS[-1]}) at $mock_url" \
        "(set OPENAI_API_KEY to use OpenAI)"
}

start_coordinator() {
    "$COORDINATOR_BIN" run --config deploy/examples/config.yaml --metrics-port 0 \
        >"$RUN_DIR/coordinator.log" 2>&1 &
    PIDS+=($!)
    echo "quickstart: sluice-coordinator (pid ${PIDS[-1]}) moves spend events into PostgreSQL"
}

start_gateway() {
    LITELLM_MASTER_KEY="sk-$(openssl rand -hex 16)"
    export LITELLM_MASTER_KEY
    "$GATEWAY_BIN" --config deploy/examples/config.yaml --host 127.0.0.1 --port 0 \
        >"$RUN_DIR/gateway.log" 2>&1 &
    PIDS+=($!)
    GATEWAY_URL="http://127.0.0.1:$(wait_for_port "$RUN_DIR/gateway.log" gateway.listening \
        "${PIDS[-1]}")"
    echo "quickstart: sluice-gateway (pid ${PIDS[-1]}) listens on $GATEWAY_URL"
}

# POST the JSON body $2 to the management route $1 with the master key and store the response
# in file $3. Fails, printing the response and the gateway log, unless the status is 200.
mgmt_post() {
    local route=$1 body=$2 out=$3 status
    status=$(curl -sS --max-time 30 -o "$out" -w '%{http_code}' -X POST "$GATEWAY_URL$route" \
        -H "Authorization: Bearer $LITELLM_MASTER_KEY" -H 'content-type: application/json' \
        -d "$body")
    if [ "$status" != 200 ]; then
        echo "quickstart: POST $route returned HTTP $status:" >&2
        cat "$out" >&2
        echo >&2
        echo "--- gateway log ---" >&2
        cat "$RUN_DIR/gateway.log" >&2
        return 1
    fi
}

# Create what the demo request uses through the management API, as an operator would: a team
# with a monthly budget and a requests-per-minute limit, a user, the user's membership, and a
# key of that user in that team. Sets VIRTUAL_KEY.
seed() {
    local team_id key_name body
    body="{\"team_alias\": \"quickstart-team\", \"models\": [\"$MODEL\"], "
    body+="\"max_budget\": 50, \"budget_duration\": \"30d\", \"rpm_limit\": 100}"
    mgmt_post /team/new "$body" "$RUN_DIR/team.json"
    team_id=$(json_field "$RUN_DIR/team.json" team_id)
    echo "quickstart: POST /team/new created team $team_id (max_budget 50 per 30d, rpm_limit 100)"

    body='{"user_id": "alice", "user_email": "alice@example.com", "auto_create_key": false}'
    mgmt_post /user/new "$body" "$RUN_DIR/user.json"
    echo "quickstart: POST /user/new created user alice"

    body="{\"team_id\": \"$team_id\", \"member\": {\"role\": \"user\", \"user_id\": \"alice\"}}"
    mgmt_post /team/member_add "$body" "$RUN_DIR/member.json"
    echo "quickstart: POST /team/member_add added alice to the team"

    body="{\"team_id\": \"$team_id\", \"user_id\": \"alice\", \"key_alias\": \"alice-quickstart\"}"
    mgmt_post /key/generate "$body" "$RUN_DIR/key.json"
    VIRTUAL_KEY=$(json_field "$RUN_DIR/key.json" key)
    key_name=$(json_field "$RUN_DIR/key.json" key_name)
    echo "quickstart: POST /key/generate created virtual key $key_name for alice in the team"
}

chat_completion() {
    local status request
    request="{\"model\": \"$MODEL\", "
    request+="\"messages\": [{\"role\": \"user\", \"content\": \"$PROMPT\"}]}"
    echo "quickstart: POST $GATEWAY_URL/v1/chat/completions with the virtual key  \"$PROMPT\""
    status=$(curl -sS --max-time 60 -o "$RUN_DIR/answer.json" -w '%{http_code}' \
        -D "$RUN_DIR/answer.headers" "$GATEWAY_URL/v1/chat/completions" \
        -H "Authorization: Bearer $VIRTUAL_KEY" -H 'content-type: application/json' \
        -d "$request")
    if [ "$status" != 200 ]; then
        echo "quickstart: the gateway returned HTTP $status:" >&2
        cat "$RUN_DIR/answer.json" >&2
        echo >&2
        echo "--- gateway log ---" >&2
        cat "$RUN_DIR/gateway.log" >&2
        return 1
    fi
    node -e '
        const reply = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const usage = reply.usage || {};
        console.log("");
        console.log("response: " + reply.choices[0].message.content);
        console.log("model:    " + reply.model);
        console.log("usage:    prompt_tokens=" + usage.prompt_tokens + " completion_tokens="
            + usage.completion_tokens + " total_tokens=" + usage.total_tokens);' \
        "$RUN_DIR/answer.json"
    echo ""
}

# Wait until the coordinator has written the demo request's spend log row, then print it as
# GET /spend/logs returns it.
show_spend_log() {
    local request_id=$1
    for _ in $(seq 1 100); do
        curl -sS --max-time 10 -o "$RUN_DIR/spend.json" \
            "$GATEWAY_URL/spend/logs?request_id=$request_id" \
            -H "Authorization: Bearer $LITELLM_MASTER_KEY"
        if node -e '
            const rows = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            if (!Array.isArray(rows) || rows.length === 0) { process.exit(1); }
            const row = rows[0];
            console.log("spend log: request_id=" + row.request_id + " model=" + row.model
                + " prompt_tokens=" + row.prompt_tokens + " completion_tokens="
                + row.completion_tokens + " spend=" + row.spend + " team_id=" + row.team_id);' \
            "$RUN_DIR/spend.json" 2>/dev/null; then
            echo "quickstart: GET /spend/logs?request_id=$request_id returned the row above"
            return 0
        fi
        sleep 0.2
    done
    echo "quickstart: no spend log row for $request_id after 20 s:" >&2
    cat "$RUN_DIR/spend.json" >&2
    echo "--- coordinator log ---" >&2
    cat "$RUN_DIR/coordinator.log" >&2
    return 1
}

# The steps run as plain commands, not as the condition of `if` or `||`, because `set -e` is off
# inside a function called that way. So the first step that fails ends the script.
start_redis
start_postgres
apply_migrations
start_upstream
start_gateway
start_coordinator
seed
chat_completion
REQUEST_ID=$(awk -F': ' 'tolower($1) == "x-litellm-call-id" {print $2}' "$RUN_DIR/answer.headers" |
    tr -d '\r')
show_spend_log "$REQUEST_ID"
echo "quickstart: done, stopping the processes it started"
