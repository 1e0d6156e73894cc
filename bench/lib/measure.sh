# SPDX-License-Identifier: Apache-2.0
# Measurement functions of bench/run. Each load function (wrk, h2load, the Node stream clients)
# prints one JSON object. `measure` runs one of them and appends a result row with the server's
# CPU time, peak RSS and Redis work to ROWS. Expects ROOT as the working directory and DURATION,
# RUN_DIR and ROWS to be set. Every load step is bounded by DURATION plus a margin.

# Prints the CPU time of process $1 in microseconds: the sum over its threads of the run time in
# /proc/PID/task/TID/schedstat, which counts nanoseconds where /proc/PID/stat counts 10 ms
# ticks. Threads that exited no longer count, which is fine for servers whose threads live as
# long as the process.
cpu_us() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ns += $1} END {printf "%d\n", ns / 1000}'
}

# Prints field $2 (kB) of /proc/$1/status, e.g. VmRSS or VmHWM.
mem_kb() {
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

# require_nofile PID NEEDED NAME: fails the run when the soft open-files limit of process PID
# (from /proc/PID/limits) is below NEEDED descriptors.
require_nofile() {
    local limit
    limit=$(awk '/^Max open files/ {print $4}' "/proc/$1/limits")
    if [ "$limit" != unlimited ] && [ "$limit" -lt "$2" ]; then
        echo "bench: the $3 (PID $1) may open $limit files, the run needs $2; raise the" \
            "hard limit (ulimit -Hn, as root) or lower STREAMS_CONCURRENT" >&2
        return 1
    fi
}

# Resets the peak RSS (VmHWM) of process $1 to its current RSS (Linux 4.0 and later), so that
# each row reports the peak of its own load step. Without permission the peak stays cumulative.
reset_peak_rss() {
    echo 5 2>/dev/null >"/proc/$1/clear_refs" || true
}

# Prints the Redis commands run so far, those inside scripts included, and the script calls
# (EVAL and EVALSHA, the gateway's round trips), as "commands calls".
redis_counts() {
    local total calls
    total=$(redis-cli -u "$REDIS_URL" info stats | awk -F: '/^total_commands_processed/ {print $2+0}')
    calls=$(redis-cli -u "$REDIS_URL" info commandstats |
        awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ {n += $3} END {print n+0}')
    echo "$total $calls"
}

# wrk_load PORT CONNECTIONS [wrk options...]: non-streaming chat over HTTP/1.1 for DURATION s.
# SLUICE_BENCH_KEY, SLUICE_BENCH_MODEL and SLUICE_BENCH_PROMPT_BYTES reach bench/load/chat.lua.
wrk_load() {
    local port=$1 conns=$2
    shift 2
    timeout $((DURATION + 30)) wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 10s \
        -s bench/load/chat.lua "$@" "http://127.0.0.1:$port/v1/chat/completions" |
        awk '/^RESULT / {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            s = v["duration_us"] / 1e6
            printf "{\"requests\":%d,\"errors\":%d,\"duration_s\":%.3f,\"rps\":%.0f,", \
                v["requests"], v["errors"], s, v["requests"] / s
            printf "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"p999_us\":%d}\n", \
                v["p50"], v["p90"], v["p99"], v["p999"]
            found = 1
        }
        END { if (!found) exit 1 }'
}

# wrk_pair PORT_A PORT_B CONNECTIONS: wrk_load against two servers at the same time. Requests,
# errors and rates add up; the percentiles are those of the slower server, so they are an
# upper bound of the combined distribution.
wrk_pair() {
    wrk_load "$1" "$3" >"$RUN_DIR/wrk-a.json" &
    local first=$!
    wrk_load "$2" "$3" >"$RUN_DIR/wrk-b.json" || return 1
    wait "$first" || return 1
    node -e '
        const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f)));
        const out = { requests: a.requests + b.requests, errors: a.errors + b.errors,
            duration_s: Math.max(a.duration_s, b.duration_s), rps: a.rps + b.rps };
        for (const k of ["p50_us", "p90_us", "p99_us", "p999_us"]) out[k] = Math.max(a[k], b[k]);
        console.log(JSON.stringify(out));' "$RUN_DIR/wrk-a.json" "$RUN_DIR/wrk-b.json"
}

# h2load_load PORT CLIENTS STREAMS [h2load options...]: non-streaming chat for DURATION s, over
# HTTP/2 with prior knowledge unless the options say --h1. With --rps it sends at a fixed rate
# per client. Latency percentiles come from h2load's per-request log.
h2load_load() {
    local port=$1 clients=$2 streams=$3 out log
    shift 3
    out="$RUN_DIR/h2load.out"
    log="$RUN_DIR/h2load.requests"
    printf '{"model":"%s","messages":[{"role":"user","content":"Say hello in one sentence"}]}' \
        "${SLUICE_BENCH_MODEL:-bench-chat}" >"$RUN_DIR/h2load.body"
    rm -f "$log"
    timeout $((DURATION + 30)) h2load -c"$clients" -m"$streams" -D"$DURATION" \
        --log-file="$log" -d "$RUN_DIR/h2load.body" -H 'content-type: application/json' \
        -H "authorization: Bearer ${SLUICE_BENCH_KEY:-sk-bench}" "$@" \
        "http://127.0.0.1:$port/v1/chat/completions" >"$out" 2>&1 || true
    # Log columns: start time (us since the epoch), HTTP status (-1 on failure), duration (us).
    # Requests still in flight when DURATION ends are cancelled; they are neither logged nor
    # counted as errors. The errors are h2load's failed (non-2xx or broken) and timed-out ones.
    sort -n -k3,3 "$log" | awk -v out="$out" '
        { d[NR] = $3; if ($2 != 200) bad++; if (NR == 1 || $1 < t0) t0 = $1
          if ($1 + $3 > t1) t1 = $1 + $3 }
        function pct(p) { i = int(p / 100 * NR) + 1; return d[i > NR ? NR : i] }
        END {
            failed = -1
            while ((getline line < out) > 0)
                if (line ~ /^requests: /) { split(line, f, " "); failed = f[10] + f[14] }
            if (NR == 0 || failed < 0) {
                print "h2load: no request finished:" > "/dev/stderr"
                close(out)
                while ((getline line < out) > 0) print line > "/dev/stderr"
                exit 1
            }
            s = (t1 - t0) / 1e6
            printf "{\"requests\":%d,\"errors\":%d,\"duration_s\":%.3f,\"rps\":%.0f,", \
                NR, (failed > bad ? failed : bad), s, (NR - bad) / s
            printf "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"p999_us\":%d}\n", \
                pct(50), pct(90), pct(99), pct(99.9)
        }'
}

# stream_load PORT CONNECTIONS [streams.mjs options...]: streaming chat for DURATION s.
stream_load() {
    local port=$1 conns=$2
    shift 2
    node bench/load/streams.mjs --url "http://127.0.0.1:$port/v1/chat/completions" --mode load \
        --conns "$conns" --duration "$DURATION" --timeout $((DURATION + 30)) "$@"
}

# sequential_streams PORT [KEY]: STREAMS streaming requests one after the other.
sequential_streams() {
    timeout 120 node bench/load/ttfb.mjs "http://127.0.0.1:$1/v1/chat/completions" "$STREAMS" \
        "${2:-sk-bench}"
}

# measure SCENARIO TARGET CONNECTIONS "PIDS" COMMAND...: runs COMMAND (a load function above) and
# appends its JSON object to ROWS, with the scenario, the target, the CPU time and peak RSS of
# the server processes PIDS (space-separated) and, when MEASURE_REDIS=1, the Redis commands
# and script calls per request. A failed command fails the run.
measure() {
    local scenario=$1 target=$2 conns=$3 pids=$4 pid json cpu_before=0 cpu_after=0 peak=0
    local redis_before redis_after requests extra=""
    shift 4
    for pid in $pids; do
        reset_peak_rss "$pid"
        cpu_before=$((cpu_before + $(cpu_us "$pid")))
    done
    if [ "${MEASURE_REDIS:-0}" = 1 ]; then
        redis_before=$(redis_counts)
    fi

    if ! json=$("$@"); then
        echo "bench: $scenario/$target at $conns connections failed: $*" >&2
        return 1
    fi
    for pid in $pids; do
        cpu_after=$((cpu_after + $(cpu_us "$pid")))
        peak=$((peak + $(mem_kb "$pid" VmHWM)))
    done
    requests=$(echo "$json" | grep -o '"requests":[0-9]*' | cut -d: -f2)
    requests=$((requests > 0 ? requests : 1))

    if [ "${MEASURE_REDIS:-0}" = 1 ]; then
        redis_after=$(redis_counts)
        extra=$(awk -v b="$redis_before" -v a="$redis_after" -v n="$requests" 'BEGIN {
            split(b, x, " "); split(a, y, " ")
            printf ",\"redis_commands_per_request\":%.2f,\"redis_round_trips_per_request\":%.2f", \
                (y[1] - x[1]) / n, (y[2] - x[2]) / n }')
    fi

    printf '{"scenario":"%s","target":"%s","connections":%s,"cpu_us_per_request":%s,' \
        "$scenario" "$target" "$conns" \
        "$(awk -v c=$((cpu_after - cpu_before)) -v n="$requests" 'BEGIN {printf "%.1f", c / n}')" \
        >>"$ROWS"
    printf '"peak_rss_kb":%s%s,%s\n' "$peak" "$extra" "${json#\{}" >>"$ROWS"
    echo "bench: $scenario $target c=$conns $json" >&2
}
