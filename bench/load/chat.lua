-- wrk script: POST one non-streaming chat completion per request.
-- Environment: SLUICE_BENCH_KEY (bearer key, default sk-bench), SLUICE_BENCH_MODEL (default
-- bench-chat) and SLUICE_BENCH_PROMPT_BYTES (when set, the user message is that many bytes of
-- ASCII text instead of the short default prompt).
local model = os.getenv("SLUICE_BENCH_MODEL") or "bench-chat"
local prompt = "Say hello in one sentence"
local prompt_bytes = tonumber(os.getenv("SLUICE_BENCH_PROMPT_BYTES") or "")
if prompt_bytes and prompt_bytes > 0 then
    prompt = string.sub(string.rep("lorem ipsum ", math.ceil(prompt_bytes / 12)), 1, prompt_bytes)
end
wrk.method = "POST"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"' .. prompt .. '"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_BENCH_KEY") or "sk-bench")

-- Print the latency percentiles in microseconds as one parseable line.
done = function(summary, latency, requests)
    io.write(string.format("RESULT requests=%d errors=%d duration_us=%d p50=%d p90=%d p99=%d p999=%d\n",
        summary.requests,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
            summary.errors.timeout,
        summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9)))
end
