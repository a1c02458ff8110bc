-- wrk script: random vector tiles over the demo city's extent.
--
--   wrk -t2 -c32 -d20s --latency -s scripts/load/tiles.lua http://127.0.0.1:8080 -- ZOOM [LAYERS] [ENCODING]
--
-- ZOOM      tile zoom (default 14)
-- LAYERS    layer list as in the URL (default roads,parcels)
-- ENCODING  Accept-Encoding to send (e.g. gzip); default none
-- Tiles are drawn uniformly from those covering 140.31–140.62 E, 38.44–38.72 N; every thread
-- seeds its own generator so threads do not repeat each other.

local z, layers, xmin, xmax, ymin, ymax
local thread_no = 0

function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end

local function tile_x(lon, zoom) return math.floor((lon + 180) / 360 * 2 ^ zoom) end
local function tile_y(lat, zoom)
  local r = math.rad(lat)
  return math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * 2 ^ zoom)
end

function init(args)
  z = tonumber(args[1] or "14")
  layers = args[2] or "roads,parcels"
  if args[3] and args[3] ~= "none" then wrk.headers["Accept-Encoding"] = args[3] end
  xmin, xmax = tile_x(140.31, z), tile_x(140.62, z)
  ymin, ymax = tile_y(38.72, z), tile_y(38.44, z)
  math.randomseed(1000 + 7 * (thread_no or 0))
end

function request()
  local x, y = math.random(xmin, xmax), math.random(ymin, ymax)
  return wrk.format("GET", string.format("/tiles/%s/%d/%d/%d.mvt", layers, z, x, y))
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("RESULT req_per_s=%.0f p50_ms=%.2f p99_ms=%.2f mean_bytes=%.0f non2xx=%d errors=%d\n",
    summary.requests / s, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests > 0 and summary.bytes / summary.requests or 0, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
