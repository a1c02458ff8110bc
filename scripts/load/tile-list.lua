-- wrk script: walks a fixed list of tiles, so that two servers get exactly the same requests.
--
--   wrk -t2 -c32 -d10s --latency -s scripts/load/tile-list.lua URL -- LIST TEMPLATE [ENCODING]
--
-- LIST      file with one "z x y" per line
-- TEMPLATE  request path with {z}, {x}, {y} (e.g. /tiles/roads,parcels/{z}/{x}/{y}.mvt)
-- ENCODING  Accept-Encoding to send (e.g. gzip); default none
-- Each thread starts at its own offset in the list and cycles through it.

local tiles, template, next_index
local thread_no, threads = 0, 0

function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
  threads = thread_no
end

function init(args)
  tiles = {}
  for line in io.lines(args[1]) do
    local z, x, y = line:match("(%d+) (%d+) (%d+)")
    if z then tiles[#tiles + 1] = { z, x, y } end
  end
  template = args[2]
  if args[3] and args[3] ~= "none" then wrk.headers["Accept-Encoding"] = args[3] end
  next_index = ((thread_no or 0) * 7919) % #tiles + 1
end

function request()
  local t = tiles[next_index]
  next_index = next_index % #tiles + 1
  local path = template:gsub("{z}", t[1]):gsub("{x}", t[2]):gsub("{y}", t[3])
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("RESULT req_per_s=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d errors=%d\n",
    summary.requests / s, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
