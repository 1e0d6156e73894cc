# SPDX-License-Identifier: Apache-2.0
# Servers of bench/run: the mock, gateways, the nginx baseline and the peer gateway, each on a
# 127.0.0.1 port chosen at run time. Every start appends the PID to PIDS, which
# stop_services (deploy/lib/services.sh) stops in reverse order. Expects ROOT as the working
# directory and RUN_DIR, PIDS, MOCK_BIN and GATEWAY_BIN to be set.

# start_mock: sets MOCK_PID and MOCK_PORT.
start_mock() {
    "$MOCK_BIN" --port 0 >"$RUN_DIR/mock.log" 2>&1 &
    MOCK_PID=$!
    PIDS+=("$MOCK_PID")
    MOCK_PORT=$(wait_for_port "$RUN_DIR/mock.log" mock.listening "$MOCK_PID")
}

# make_tls_files: makes a throwaway CA and a certificate for 127.0.0.1 signed by it, valid for
# two days, in RUN_DIR/tls. Sets TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE.
make_tls_files() {
    local dir=$RUN_DIR/tls
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=Sluice bench CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>"$dir/openssl.log"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$dir/mock.key" -out "$dir/mock.csr" 2>>"$dir/openssl.log"
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$dir/mock.ext"
    openssl x509 -req -in "$dir/mock.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/mock.ext" -out "$dir/mock.pem" \
        2>>"$dir/openssl.log"
    TLS_CA_FILE=$dir/ca.pem
    TLS_CERT_FILE=$dir/mock.pem
    TLS_KEY_FILE=$dir/mock.key
}

# start_tls_mock: starts a second mock that serves HTTPS (HTTP/2 through ALPN) with the files of
# make_tls_files. Sets TLS_MOCK_PID and TLS_MOCK_PORT.
start_tls_mock() {
    "$MOCK_BIN" --port 0 --tls-cert "$TLS_CERT_FILE" --tls-key "$TLS_KEY_FILE" \
        >"$RUN_DIR/mock-tls.log" 2>&1 &
    TLS_MOCK_PID=$!
    PIDS+=("$TLS_MOCK_PID")
    TLS_MOCK_PORT=$(wait_for_port "$RUN_DIR/mock-tls.log" mock.listening "$TLS_MOCK_PID")
}

# start_gateway NAME CONFIG: starts a gateway logging to RUN_DIR/NAME.log and sets GW_PID_NAME,
# GW_PORT_NAME and GW_IDLE_RSS_KB_NAME (RSS once it listens, before any request). The access
# log stays on, as operators run it: it is part of the cost per request. When TLS_CA_FILE is
# set, the gateway trusts that CA for its upstreams (SSL_CERT_FILE) instead of the system store.
start_gateway() {
    local name=$1 config=$2 pid port
    env ${TLS_CA_FILE:+SSL_CERT_FILE="$TLS_CA_FILE"} "$GATEWAY_BIN" --config "$config" \
        --host 127.0.0.1 --port 0 --num-workers "$WORKERS" >"$RUN_DIR/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    port=$(wait_for_port "$RUN_DIR/$name.log" gateway.listening "$pid")
    printf -v "GW_PID_$name" '%s' "$pid"
    printf -v "GW_PORT_$name" '%s' "$port"
    printf -v "GW_IDLE_RSS_KB_$name" '%s' "$(mem_kb "$pid" VmRSS)"
}

# write_gateway_config FILE EXTRA: the bench model list in front of the mock, plus the YAML
# sections in EXTRA. bench-slow and bench-tiny are the models of the slow-stream and tiny-chunk
# scenarios, whose replies come from the mock scripts that bench/run queues for them.
# bench-slow goes to SLOW_API_BASE when it is set (the TLS mock of streams-open).
write_gateway_config() {
    local file=$1 extra=$2 model base
    echo "model_list:" >"$file"
    for model in bench-chat bench-slow bench-tiny; do
        base=http://127.0.0.1:$MOCK_PORT/v1
        if [ "$model" = bench-slow ] && [ -n "${SLOW_API_BASE:-}" ]; then
            base=$SLOW_API_BASE
        fi
        cat >>"$file" <<CONF
- model_name: $model
  litellm_params:
    model: openai/$model
    api_key: sk-upstream-bench
    api_base: $base
    input_cost_per_token: 0.0000001
    output_cost_per_token: 0.0000002
CONF
    done
    printf '%s\n' "$extra" >>"$file"
}

# mock_script JSON [BASE_URL [curl options...]]: queues one scripted response in the mock at
# BASE_URL (default: the plain mock).
mock_script() {
    local json=$1 base=${2:-http://127.0.0.1:$MOCK_PORT}
    shift $(($# > 1 ? 2 : 1))
    curl -sS -f --max-time 10 "$@" "$base/_mock/responses" -d "$json" >/dev/null
}

# start_nginx: serves the mock's exact non-streaming reply bytes as a static file with one
# nginx worker, its own configuration and no master process. Sets NGINX_PID and NGINX_PORT.
start_nginx() {
    local dir=$RUN_DIR/nginx
    mkdir -p "$dir/www/v1/chat" "$dir/tmp"
    curl -sS -f --max-time 10 "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" \
        -H 'content-type: application/json' -H 'authorization: Bearer sk-bench' \
        -d '{"model":"bench-chat","messages":[{"role":"user","content":"Say hello in one sentence"}]}' \
        -o "$dir/www/v1/chat/completions"
    NGINX_PORT=$(free_port)
    # The static handler answers POST with 405; error_page turns that into an internal GET of
    # the same file with status 200, so nginx serves the POSTs wrk sends.
    cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    types { }
    default_type application/json;
    client_body_temp_path $dir/tmp;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $dir/www;
        location / { error_page 405 =200 \$uri; }
    }
}
CONF
    nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    for _ in $(seq 1 100); do
        if curl -s -f -o /dev/null --max-time 1 -X POST -d '{}' \
            "http://127.0.0.1:$NGINX_PORT/v1/chat/completions"; then
            return 0
        fi
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: nginx did not serve 127.0.0.1:$NGINX_PORT within 10 s:" >&2
    cat "$dir/error.log" >&2
    return 1
}

# install_peer: installs the peer gateway (bench/peer/package.json, with its pinned versions)
# into BUILD_DIR/peer once.
install_peer() {
    local dir=$BUILD_DIR/peer
    mkdir -p "$dir"
    if ! cmp -s bench/peer/package.json "$dir/package.json" \
        || [ ! -f "$dir/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
        cp bench/peer/package.json "$dir/package.json"
        (cd "$dir" && timeout 600 npm install --no-audit --no-fund --loglevel=error)
    fi
}

# start_peer: starts the peer gateway on 127.0.0.1 (bench/peer/loopback.cjs) and sets PEER_PID,
# PEER_PORT and PEER_IDLE_RSS_KB. It refuses to go on if the process listens anywhere else.
start_peer() {
    local dir=$BUILD_DIR/peer
    PEER_PORT=$(free_port)
    (cd "$dir" && NODE_ENV=production exec node --require "$ROOT/bench/peer/loopback.cjs" \
        node_modules/@portkey-ai/gateway/build/start-server.js --port="$PEER_PORT" --headless) \
        >"$RUN_DIR/peer.log" 2>&1 &
    PEER_PID=$!
    PIDS+=("$PEER_PID")
    for _ in $(seq 1 150); do
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PEER_PORT/"; then
            if ss -Hltnp | grep "pid=$PEER_PID," | grep -v -q "127.0.0.1:"; then
                echo "bench: the peer gateway listens beyond 127.0.0.1; stopping" >&2
                return 1
            fi
            PEER_IDLE_RSS_KB=$(mem_kb "$PEER_PID" VmRSS)
            return 0
        fi
        kill -0 "$PEER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: the peer gateway did not listen on 127.0.0.1:$PEER_PORT within 15 s:" >&2
    cat "$RUN_DIR/peer.log" >&2
    return 1
}

# POST JSON $2 to management route $1 of the pipeline gateway and print field $3 of the reply.
mgmt() {
    curl -sS -f --max-time 30 -X POST "http://127.0.0.1:$GW_PORT_pipeline$1" \
        -H 'Authorization: Bearer sk-bench' -H 'content-type: application/json' -d "$2" \
        >"$RUN_DIR/mgmt.json"
    json_field "$RUN_DIR/mgmt.json" "$3"
}

# create_bench_key: a team, a user in it and a virtual key of both, all with RPM, TPM and budget
# limits high enough that nothing is rejected. Sets BENCH_KEY.
create_bench_key() {
    local limits team
    limits='"rpm_limit": 100000000, "tpm_limit": 1000000000000, "max_budget": 1000000000,
        "budget_duration": "30d"'
    team=$(mgmt /team/new "{\"team_alias\": \"bench\", $limits}" team_id)
    mgmt /user/new "{\"user_id\": \"bench-user\", \"auto_create_key\": false, $limits}" \
        user_id >/dev/null
    mgmt /team/member_add "{\"team_id\": \"$team\", \"member\": {\"role\": \"user\",
        \"user_id\": \"bench-user\"}}" team_id >/dev/null
    BENCH_KEY=$(mgmt /key/generate "{\"team_id\": \"$team\", \"user_id\": \"bench-user\",
        \"max_parallel_requests\": 100000, $limits}" key)
}
