# SPDX-License-Identifier: Apache-2.0
# Shell functions that start a private Redis and PostgreSQL 15 on free 127.0.0.1 ports, apply
# the schema and stop everything again, shared by deploy/quickstart.sh and bench/run. Source it
# after setting: SERVICES_NAME (the prefix of messages), RUN_DIR (a 711 directory for logs and
# data), PG_DIR and PG_DATA inside it, PG_STARTED=0, PIDS=() and COORDINATOR_BIN. The functions
# append the PIDs of what they start to PIDS and export REDIS_URL and DATABASE_URL.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Run a PostgreSQL 15 tool, as the postgres user when the script runs as root, because initdb
# and the server refuse to run as root.
pg_tool() {
    local tool=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$PG_BIN/$tool" "$@"
    else
        "$PG_BIN/$tool" "$@"
    fi
}

# Stop the processes in PIDS in reverse start order (the gateway before the stores it uses),
# then the PostgreSQL cluster, then remove RUN_DIR.
stop_services() {
    local i pid postmaster
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$PG_STARTED" -eq 1 ] \
        && ! pg_tool pg_ctl -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null; then
        # pg_ctl could not stop the cluster within 30 s, so send SIGQUIT, PostgreSQL's immediate
        # shutdown.
        postmaster=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
        if [ -n "$postmaster" ]; then
            echo "$SERVICES_NAME: pg_ctl stop failed, sending SIGQUIT to postmaster $postmaster" >&2
            kill -QUIT "$postmaster" 2>/dev/null || true
        fi
    fi
    rm -rf "$RUN_DIR"
}
# Print a TCP port that is free on 127.0.0.1 right now. Another process may take it before the
# caller binds it. The server then fails to start and the script stops with the server's log.
free_port() {
    node -e '
        const server = require("net").createServer();
        server.listen(0, "127.0.0.1", () => {
            console.log(server.address().port);
            server.close();
        });'
}

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
            echo "$SERVICES_NAME: the process logging to $log exited:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "$SERVICES_NAME: no $event line in $log after 10 s" >&2
    cat "$log" >&2
    return 1
}

# Print the string field $2 of the JSON object in file $1. Fails when the field is missing or is
# not a string.
json_field() {
    node -e '
        const object = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const value = object[process.argv[2]];
        if (typeof value !== "string") { process.exit(1); }
        console.log(value);' "$1" "$2"
}

start_redis() {
    local port
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$RUN_DIR" \
        --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
            # REDIS_URL ranks before every other Redis setting, so the gateway uses this server.
            export REDIS_URL="redis://127.0.0.1:$port/0"
            echo "$SERVICES_NAME: redis-server (pid ${PIDS[-1]}) listens on 127.0.0.1:$port"
            return 0
        fi
        if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "$SERVICES_NAME: redis-server did not reply to PING on 127.0.0.1:$port within 10 s:" >&2
    cat "$RUN_DIR/redis.log" >&2
    return 1
}

start_postgres() {
    local port
    port=$(free_port)
    mkdir "$PG_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$PG_DIR"
    fi
    if ! pg_tool initdb -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        >"$RUN_DIR/initdb.log" 2>&1; then
        echo "$SERVICES_NAME: initdb failed:" >&2
        cat "$RUN_DIR/initdb.log" >&2
        return 1
    fi
    # The server log goes to PG_DIR because the postgres user cannot write to RUN_DIR.
    # PG_STARTED is set before the start so that cleanup also stops a half-started cluster.
    PG_STARTED=1
    if ! pg_tool pg_ctl -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 30 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off" >/dev/null; then
        echo "$SERVICES_NAME: PostgreSQL did not start on 127.0.0.1:$port within 30 s:" >&2
        cat "$PG_DIR/server.log" >&2
        return 1
    fi
    export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "$SERVICES_NAME: PostgreSQL 15 (pid $(head -n 1 "$PG_DATA/postmaster.pid")) listens on" \
        "127.0.0.1:$port"
}

apply_migrations() {
    if ! timeout 60 "$COORDINATOR_BIN" migrate >"$RUN_DIR/migrate.log" 2>&1; then
        echo "$SERVICES_NAME: sluice-coordinator migrate failed or timed out after 60 s:" >&2
        cat "$RUN_DIR/migrate.log" >&2
        return 1
    fi
    echo "$SERVICES_NAME: sluice-coordinator migrate applied the schema"
}
