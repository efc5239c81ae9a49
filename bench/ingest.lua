-- wrk script for bench_ingest.py: every request is a new check-in batch of one sample.
-- Each wrk thread owns a disjoint slice of the agents, and every pass over its slice moves
-- the sample time back a minute, so no (series, second) is ever written twice.
local tokens = {}
for line in io.lines(os.getenv("FW_TOKENS")) do tokens[#tokens + 1] = line end
local points = io.open(os.getenv("FW_POINTS")):read("*a")
local threads_total = tonumber(os.getenv("FW_THREADS"))
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  counter = 0
  local per = math.floor(#tokens / threads_total)
  first = tid * per
  slice = per
  base = os.time()
  math.randomseed(base + tid * 7919)
end

function request()
  local i = counter % slice
  local round = math.floor(counter / slice)
  counter = counter + 1
  local ts = base - round * 60
  local id = string.format("%08x%08x%08x%08x", tid, counter, math.random(0, 0x7fffffff),
                           math.random(0, 0x7fffffff))
  local body = '{"v":1,"batch_id":"' .. id .. '","seq":' .. counter ..
      ',"agent_version":"bench","sent_at":' .. base .. ',"samples":[{"ts":' .. ts ..
      ',"points":' .. points .. '}]}'
  return wrk.format("POST", "/api/v1/agent/checkin",
    {["Authorization"] = "Bearer " .. tokens[first + i + 1],
     ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("FW_RESULT %d %d %d %.3f %.3f %.3f\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
