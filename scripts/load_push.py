"""The client half of scripts/load-push: one notice to SUBSCRIPTIONS browsers, with tile latency
measured while machizu encrypts and sends.

    load_push.py BASE STAFF_KEY SUBSCRIPTIONS PROCESSES SAMPLE

A loopback push service (RFC 8030) runs in PROCESSES forked processes sharing one listening
socket; it plays the browsers too. Keys are made for every subscription before the fork, so any
process can decrypt any push. Every push is counted and checked for duplicates; every SAMPLE-th
is checked in full by independent code, as tests/notices/push_service.py does: VAPID JWT verified
by py_vapid, body decrypted by http_ece with the subscription's private key, text compared with
the notice. Meanwhile one client asks for random z14 tiles of the demo city, one at a time over a
kept-alive connection, before the notice (idle) and during the fan-out.
"""
import base64
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "notices"))
from push_service import b64, check_vapid  # noqa: E402

base, key = sys.argv[1], sys.argv[2]
n, processes, sample = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
TITLE = "負荷試験の通知 (synthetic load test)"

print(f"making {n:,} browser keys…", flush=True)
KEYS = [(ec.generate_private_key(ec.SECP256R1()), os.urandom(16)) for _ in range(n)]
SEEN = mp.RawArray("B", n)  # pushes received per subscription
COUNTS = mp.RawArray("q", 4)  # received, duplicates, checked, errors
LOCK = mp.Lock()
FIRST_ERROR = mp.Array("c", 500)


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        i = int(self.path.rsplit("/", 1)[1])
        error = None
        if i % sample == 0:
            try:
                check_vapid(self.headers.get("Authorization", ""), ORIGIN)
                text = http_ece.decrypt(body, private_key=KEYS[i][0], auth_secret=KEYS[i][1], version="aes128gcm")
                if json.loads(text)["title"] != TITLE:
                    raise ValueError(f"another text: {text[:80]!r}")
            except Exception as e:
                error = f"push {i}: {type(e).__name__}: {e}"
        with LOCK:
            COUNTS[0] += 1
            COUNTS[1] += SEEN[i] > 0
            SEEN[i] += 1
            COUNTS[2] += i % sample == 0
            if error:
                COUNTS[3] += 1
                FIRST_ERROR.value = FIRST_ERROR.value or error.encode()[:499]
        self.send_response(400 if error else 201)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
server.daemon_threads = True
ORIGIN = f"http://127.0.0.1:{server.server_address[1]}"
workers = [mp.get_context("fork").Process(target=server.serve_forever, daemon=True) for _ in range(processes)]
for w in workers:
    w.start()

url = urlparse(base)


def connect():
    return http.client.HTTPConnection(url.hostname, url.port, timeout=120)


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                 headers={"Content-Type": "application/json", **(headers or {})})
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return data


# Subscriptions: one place each, spread over the town around the district of the notice.
def subscribe(part):
    conn = connect()
    rng = random.Random(part)
    for i in range(part, n, 4):
        public = KEYS[i][0].public_key().public_bytes(serialization.Encoding.X962,
                                                      serialization.PublicFormat.UncompressedPoint)
        call(conn, "POST", "/push/subscriptions", {
            "subscription": {"endpoint": f"{ORIGIN}/push/{i}", "keys": {"p256dh": b64(public), "auth": b64(KEYS[i][1])}},
            "places": [{"lon": 140.38 + rng.random() * 0.05, "lat": 38.58 + rng.random() * 0.04, "radius_m": 300}],
            "categories": ["snow"], "lang": "ja"})


t0 = time.perf_counter()
threads = [threading.Thread(target=subscribe, args=(p,)) for p in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"subscribed {n:,} browsers in {time.perf_counter() - t0:.0f} s", flush=True)


def tile_x(lon, z):
    return int((lon + 180) / 360 * 2**z)


def tile_y(lat, z):
    r = math.radians(lat)
    return int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * 2**z)


def tiles(stop, out):
    """Random uncached z14 tiles of the town until `stop` is set; latencies (ms) into `out`."""
    conn = connect()
    x0, x1, y0, y1 = tile_x(140.31, 14), tile_x(140.62, 14), tile_y(38.72, 14), tile_y(38.44, 14)
    while not stop.is_set():
        path = f"/tiles/roads,parcels/14/{random.randint(x0, x1)}/{random.randint(y0, y1)}.mvt"
        s = time.perf_counter()
        call(conn, "GET", path)
        out.append((time.perf_counter() - s) * 1000)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def measure_tiles(seconds):
    stop, out = threading.Event(), []
    t = threading.Thread(target=tiles, args=(stop, out))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join()
    return out


idle = measure_tiles(10)
stop, during = threading.Event(), []
sampler = threading.Thread(target=tiles, args=(stop, during))
sampler.start()
ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))
area = {"type": "Polygon", "coordinates": [[[140.37, 38.57], [140.44, 38.57], [140.44, 38.63], [140.37, 38.63], [140.37, 38.57]]]}
t0 = time.perf_counter()
notice = json.loads(call(connect(), "POST", "/notices", {
    "title": TITLE, "body": "市内全域で除雪作業を行います。(synthetic)", "category": "snow", "severity": "Moderate",
    "urgency": "Expected", "certainty": "Likely", "ends_at": ends, "area": area,
}, {"Authorization": f"Bearer {key}"}))
first = None
while COUNTS[0] < n and time.perf_counter() - t0 < 600:
    if first is None and COUNTS[0] > 0:
        first = time.perf_counter() - t0
    time.sleep(0.05)
elapsed = time.perf_counter() - t0
stop.set()
sampler.join()
time.sleep(2)  # anything sent twice arrives
received, duplicates, checked, errors = COUNTS[:]
print(json.dumps({
    "notice": notice.get("id"), "subscriptions": n, "received": received, "duplicates": duplicates,
    "checked_in_full": checked, "errors": errors, "first_error": FIRST_ERROR.value.decode(errors="replace") or None,
    "first_push_s": round(first or float("nan"), 2), "all_pushes_s": round(elapsed, 1),
    "pushes_per_s": round(received / elapsed),
    "tiles_idle": {"n": len(idle), "p50_ms": round(percentile(idle, 0.5), 2), "p99_ms": round(percentile(idle, 0.99), 2)},
    "tiles_during": {"n": len(during), "p50_ms": round(percentile(during, 0.5), 2),
                     "p99_ms": round(percentile(during, 0.99), 2), "max_ms": round(max(during, default=0), 2)},
}, ensure_ascii=False, indent=1))
sys.exit(0 if received == n and duplicates == 0 and errors == 0 else 1)
