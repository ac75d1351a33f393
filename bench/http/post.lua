-- wrk script for bench/http/run.sh: POSTs the JSON file named by $BODY to the URL path given on
-- the wrk command line, and prints one parseable line at the end:
--   RESULT requests_per_s p50_ms p99_ms requests errors
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
	local s = summary.duration / 1e6
	local e = summary.errors
	local errors = e.connect + e.read + e.write + e.status + e.timeout
	io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / s,
		latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, summary.requests, errors))
end
