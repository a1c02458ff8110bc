-- wrk script: spatial questions and 地番 search over the demo city.
--
--   wrk -t2 -c32 -d20s --latency -s scripts/load/query.lua http://127.0.0.1:8080 -- KIND
--
-- KIND  point    GET /query/point at a random position in 140.31–140.62 E, 38.44–38.72 N
--       nearest  GET /query/nearest?layer=hazardous_buildings&k=5 at a random position
--       chiban   GET /search for a random 地番 (1–2500, half of them with a branch number),
--                written the ways people type it: 123-4, １２３番地の４, 大字尾花沢123番4
-- Every thread seeds its own generator.

local kind
local thread_no = 0

function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end

function init(args)
  kind = args[1] or "point"
  math.randomseed(2000 + 13 * (thread_no or 0))
end

local function enc(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function fullwidth(s)
  return (s:gsub("%d", function(d) return "\239\188" .. string.char(0x90 + tonumber(d)) end))
end

function request()
  local lon, lat = 140.31 + math.random() * 0.31, 38.44 + math.random() * 0.28
  if kind == "point" then
    return wrk.format("GET", string.format("/query/point?lon=%.6f&lat=%.6f", lon, lat))
  elseif kind == "nearest" then
    return wrk.format("GET", string.format("/query/nearest?layer=hazardous_buildings&k=5&lon=%.6f&lat=%.6f", lon, lat))
  end
  local n = tostring(math.random(1, 2500))
  local branch = math.random(1, 2) == 1 and tostring(math.random(1, 9)) or nil
  local style = math.random(1, 3)
  local q
  if style == 1 then
    q = branch and (n .. "-" .. branch) or n
  elseif style == 2 then
    q = fullwidth(n) .. "番地" .. (branch and ("の" .. fullwidth(branch)) or "")
  else
    q = "大字尾花沢" .. n .. "番" .. (branch or "")
  end
  return wrk.format("GET", "/search?layers=parcels&q=" .. enc(q))
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("RESULT req_per_s=%.0f p50_ms=%.2f p99_ms=%.2f mean_bytes=%.0f non2xx=%d errors=%d\n",
    summary.requests / s, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests > 0 and summary.bytes / summary.requests or 0, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
