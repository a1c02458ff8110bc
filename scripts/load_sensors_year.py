"""The client half of scripts/load-sensors-year: stations, a year of readings, then chart latency.

Standard library only. Readings are synthetic: a daily wave plus noise, one a minute.
"""
import http.client
import json
import math
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

base, key, stations, days, requests = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
url = urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def call(method, path, body=None, headers=auth):
    conn.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return data


reuse = len(sys.argv) > 6 and sys.argv[6] == "1"
for s in range(1, stations + 1) if not reuse else []:
    call("POST", "/sta/v1.1/Things", {
        "name": f"負荷試験 観測所 {s} (synthetic)", "description": "synthetic",
        "Locations": [{"name": "x", "description": "x", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [140.3 + s / 500, 38.6]}}],
        "Datastreams": [{"name": f"水位 {s}", "description": "synthetic", "unitOfMeasurement": {"symbol": "m"},
                         "observationType": "OM_Measurement",
                         "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "-"},
                         "ObservedProperty": {"name": "水位", "definition": "-", "description": "-"}}]})

now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
start = now - timedelta(days=days)
minutes = days * 24 * 60
batch = 10_000
total, t0 = 0, time.perf_counter()
for d in range(1, stations + 1) if not reuse else []:
    for first in range(0, minutes, batch):
        rows = []
        for m in range(first, min(first + batch, minutes)):
            t = start + timedelta(minutes=m + 1)
            v = 1.0 + 0.5 * math.sin(2 * math.pi * m / 1440 + d) + random.random() * 0.05
            rows.append([t.strftime("%Y-%m-%dT%H:%M:%SZ"), round(v, 3)])
        call("POST", "/sta/v1.1/CreateObservations",
             [{"Datastream": {"@iot.id": d}, "components": ["phenomenonTime", "result"], "dataArray": rows}])
        total += len(rows)
    elapsed = time.perf_counter() - t0
    print(f"station {d}/{stations}: {total:,} observations in {elapsed:.0f} s ({total / elapsed:,.0f}/s)", flush=True)

stored = json.loads(call("GET", "/sta/v1.1/Observations?$count=true&$top=0"))["@iot.count"]
print(f"stored: {stored:,} observations (posted {total:,})")
assert reuse or stored == total, "not every observation was stored"

# The aggregates are made every minute in the background: wait until the last station's season
# chart reaches the last complete hour.
t1 = time.perf_counter()
last_hour = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:00:00.000Z")
while not reuse:
    season = json.loads(call("GET", f"/sensors/datastreams/{stations}/series?period=season"))
    if season["hours"] and season["hours"][-1]["hour"] >= last_hour:
        break
    time.sleep(5)
if not reuse:
    print(f"hourly aggregates ready {time.perf_counter() - t1:.0f} s after the last post "
          f"({len(season['hours'])} hours in the season chart)")


def measure(period, headers):
    times, sizes = [], []
    for _ in range(requests):
        path = f"/sensors/datastreams/{random.randint(1, stations)}/series?period={period}"
        t = time.perf_counter()
        body = call("GET", path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(body))
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"{period} chart: {requests} requests, p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {times[-1]:.2f} ms, "
          f"{sum(sizes) / len(sizes) / 1024:.0f} KiB each")


measure("day", {})
measure("season", {"Authorization": f"Bearer {key}"})
