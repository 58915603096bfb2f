"""Talking to a real Airflow's REST API (standalone or the cluster): the tests and the bench."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


def call(url: str, token: str | None = None, body: dict | None = None, method: str | None = None):
    req = urllib.request.Request(url, method=method or ("POST" if body is not None else "GET"),
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if r.headers.get_content_type() == "application/json" else raw.decode())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError) as e:   # not listening yet
        return 0, str(e)


def wait(what: str, probe, seconds: float, every: float = 2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"timed out waiting for {what}")


def token(base: str, user: str, passwords_file) -> str:
    status, body = call(f"{base}/auth/token", body={"username": user,
                                                    "password": json.loads(passwords_file.read_text())[user]})
    assert status in (200, 201), body
    return body["access_token"]
