"""A Web Push service on loopback for machizu's tests, with independent code: it plays both the
push service (RFC 8030) and the browsers subscribed to it. Each push is checked as a push service
and a user agent would: the VAPID JWT (RFC 8292) verified by py_vapid and its claims checked, the
body decrypted (RFC 8291, aes128gcm) by http_ece with the subscription's private key.

    push_service.py   # prints {"port": N} once it listens

Control routes (JSON):
    POST /_subscriptions {"names": [...]}  -> [{"name", "endpoint", "keys": {"p256dh", "auth"}}]
    GET  /_received                        -> {"messages": [...], "errors": [...], "answers": {...}}

A push to /push/NAME is answered by NAME's prefix: ok → 201; gone → 410; missing → 404;
busy → 429 with Retry-After: 1, then 201; flaky → 500, then 201; slow → 201 after 50 ms.
"""

import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

LOCK = threading.Lock()
SUBSCRIPTIONS = {}  # name -> (private key, auth secret)
MESSAGES = []
ERRORS = []
ANSWERS = {}  # name -> [status, ...]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_vapid(header, origin):
    """The VAPID Authorization header: signature by its key k, audience, expiry, subject."""
    if not header.lower().startswith("vapid "):
        raise ValueError(f"not a vapid Authorization: {header[:40]}")
    parts = dict(p.strip().split("=", 1) for p in header[6:].split(","))
    # py_vapid reads the parameters without the optional space after the comma.
    if not Vapid02.verify(f"vapid t={parts['t']},k={parts['k']}"):
        raise ValueError("the VAPID signature does not verify")
    claims = json.loads(unb64(parts["t"].split(".")[1]))
    now = time.time()
    if claims.get("aud") != origin:
        raise ValueError(f"aud {claims.get('aud')!r} is not the push resource's origin {origin!r}")
    if not now < claims.get("exp", 0) <= now + 24 * 3600:
        raise ValueError(f"exp {claims.get('exp')} is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError(f"sub {claims.get('sub')!r} is not a mailto: or https: contact")
    return parts["k"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=None, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        if data:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_GET(self):
        if self.path == "/_received":
            with LOCK:
                return self.answer(200, {"messages": MESSAGES, "errors": ERRORS, "answers": ANSWERS})
        self.answer(404)

    def do_POST(self):
        if self.path == "/_subscriptions":
            out = []
            for name in json.loads(self.body())["names"]:
                key = ec.generate_private_key(ec.SECP256R1())
                auth = os.urandom(16)
                public = key.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
                with LOCK:
                    SUBSCRIPTIONS[name] = (key, auth)
                out.append({"name": name, "endpoint": f"{ORIGIN}/push/{name}",
                            "keys": {"p256dh": b64(public), "auth": b64(auth)}})
            return self.answer(200, out)
        if not self.path.startswith("/push/"):
            return self.answer(404)
        name = self.path[len("/push/"):]
        body = self.body()
        with LOCK:
            sub = SUBSCRIPTIONS.get(name)
            answers = ANSWERS.setdefault(name, [])
        if sub is None:
            return self.answer(404)
        try:
            if self.headers.get("Content-Encoding") != "aes128gcm":
                raise ValueError(f"Content-Encoding {self.headers.get('Content-Encoding')!r}")
            if self.headers.get("TTL") is None:
                raise ValueError("no TTL header")
            check_vapid(self.headers.get("Authorization", ""), ORIGIN)
            text = http_ece.decrypt(body, private_key=sub[0], auth_secret=sub[1], version="aes128gcm")
            payload = json.loads(text)
        except Exception as e:  # a push that does not check out is an error the test reports
            with LOCK:
                ERRORS.append({"name": name, "error": f"{type(e).__name__}: {e}"})
            return self.answer(400, {"error": str(e)})
        prefix = name.split("-")[0]
        first = not answers
        status = {"ok": 201, "slow": 201, "gone": 410, "missing": 404}.get(prefix)
        if prefix == "busy":
            status = 429 if first else 201
        if prefix == "flaky":
            status = 500 if first else 201
        if prefix == "slow":
            time.sleep(0.05)
        with LOCK:
            answers.append(status)
            if status == 201:
                MESSAGES.append({"name": name, "payload": payload, "ttl": self.headers.get("TTL"),
                                 "urgency": self.headers.get("Urgency"), "topic": self.headers.get("Topic"),
                                 "bytes": len(body)})
        headers = [("Retry-After", "1")] if status == 429 else []
        if status == 201:
            headers.append(("Location", f"{ORIGIN}/message/{len(MESSAGES)}"))
        self.answer(status, None, headers)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    server.daemon_threads = True
    ORIGIN = f"http://127.0.0.1:{server.server_address[1]}"
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()
