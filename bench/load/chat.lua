-- wrk script: POST one small non-streaming chat completion per request.
wrk.method = "POST"
wrk.body = '{"model":"bench-chat","messages":[{"role":"user","content":"Say hello in one sentence"}]}'
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
