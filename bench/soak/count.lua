-- wrk script for bench/soak/run.sh: POSTs $BODY and counts non-2xx answers; prints
--   RESULT requests_per_s p50_ms p99_ms requests non_2xx socket_errors
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
	table.insert(threads, thread)
end

function init()
	non2xx = 0
end

function response(status)
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
	end
end

function done(summary, latency, requests)
	local n = 0
	for _, t in ipairs(threads) do
		n = n + t:get("non2xx")
	end
	local e = summary.errors
	io.write(string.format("RESULT %.1f %.3f %.3f %d %d %d\n", summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, summary.requests, n,
		e.connect + e.read + e.write + e.timeout))
end
