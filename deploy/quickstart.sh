#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install, build and try sluice-gateway in one command on Debian 12. The script installs the
# packages (deploy/install-deps.sh) and builds sluice-gateway and sluice-mock in build/. It starts
# the gateway with deploy/examples/config.yaml on a free 127.0.0.1 port and a generated master key
# and sends one chat completion through it with curl. It prints the reply and the token usage,
# then stops every process it started.
# Upstream: when OPENAI_API_KEY is set, the request goes to OpenAI (OPENAI_API_BASE, default
# https://api.openai.com/v1) and is billed to that key. Otherwise sluice-mock, the project's
# mock provider, listens on another 127.0.0.1 port and no request leaves the machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PROMPT="Say hello in one sentence"

bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target sluice-gateway sluice-mock

GATEWAY_BIN=build/gateway/sluice-gateway
MOCK_BIN=build/bench/sluice-mock
RUN_DIR=$(mktemp -d /tmp/sluice-quickstart.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

# Print the `port` field of the first JSON log line in file $1 whose event is $2, waiting up
# to 10 s for it. Fails if process $3 exits first.
wait_for_port() {
    local log=$1 event=$2 pid=$3 port
    for _ in $(seq 1 100); do
        port=$(node -e '
            const fs = require("fs");
            for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
                try {
                    const entry = JSON.parse(line);
                    if (entry.event === process.argv[2]) { console.log(entry.port); process.exit(0); }
                } catch (err) { /* not a JSON line */ }
            }
            process.exit(1);' "$log" "$event") && { echo "$port"; return 0; }
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "quickstart: the process logging to $log exited:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "quickstart: no $event line in $log after 10 s" >&2
    cat "$log" >&2
    return 1
}

if [ -n "${OPENAI_API_KEY:-}" ]; then
    export OPENAI_API_BASE=${OPENAI_API_BASE:-https://api.openai.com/v1}
    echo "quickstart: upstream is $OPENAI_API_BASE with your OPENAI_API_KEY"
else
    "$MOCK_BIN" --host 127.0.0.1 --port 0 >"$RUN_DIR/mock.log" 2>&1 &
    PIDS+=($!)
    MOCK_PORT=$(wait_for_port "$RUN_DIR/mock.log" mock.listening "${PIDS[-1]}")
    MOCK_URL="http://127.0.0.1:$MOCK_PORT"
    # Script the mock's next chat completion so the output reads like a model's greeting.
    curl -sS -f -X POST "$MOCK_URL/_mock/responses" -H 'content-type: application/json' \
        -d '{"text": "Hello, and welcome to Sluice, your gateway to language models!"}' >/dev/null
    export OPENAI_API_KEY=sk-quickstart-mock
    export OPENAI_API_BASE="$MOCK_URL/v1"
    echo "quickstart: upstream is sluice-mock at $MOCK_URL (set OPENAI_API_KEY to use OpenAI)"
fi

LITELLM_MASTER_KEY="sk-$(openssl rand -hex 16)"
export LITELLM_MASTER_KEY
"$GATEWAY_BIN" --config deploy/examples/config.yaml --host 127.0.0.1 --port 0 \
    >"$RUN_DIR/gateway.log" 2>&1 &
PIDS+=($!)
GATEWAY_PORT=$(wait_for_port "$RUN_DIR/gateway.log" gateway.listening "${PIDS[-1]}")
GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"
echo "quickstart: sluice-gateway listens on $GATEWAY_URL"
echo "quickstart: POST $GATEWAY_URL/v1/chat/completions  \"$PROMPT\""

STATUS=$(curl -sS -o "$RUN_DIR/answer.json" -w '%{http_code}' "$GATEWAY_URL/v1/chat/completions" \
    -H "Authorization: Bearer $LITELLM_MASTER_KEY" -H 'content-type: application/json' \
    -d "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"$PROMPT\"}]}")

if [ "$STATUS" != 200 ]; then
    echo "quickstart: the gateway returned HTTP $STATUS:" >&2
    cat "$RUN_DIR/answer.json" >&2
    echo >&2
    echo "--- gateway log ---" >&2
    cat "$RUN_DIR/gateway.log" >&2
    exit 1
fi

node -e '
    const reply = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const usage = reply.usage || {};
    console.log("");
    console.log("answer: " + reply.choices[0].message.content);
    console.log("model:  " + reply.model);
    console.log("usage:  prompt_tokens=" + usage.prompt_tokens + " completion_tokens="
        + usage.completion_tokens + " total_tokens=" + usage.total_tokens);' "$RUN_DIR/answer.json"
echo ""
echo "quickstart: done, stopping the processes it started"
