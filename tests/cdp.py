"""Debian's headless Chromium over the DevTools protocol: pages opened at a chosen width (with a
login cookie when needed), their DOM queried, every request they make recorded, screenshots."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


class Page:
    def __init__(self, ws) -> None:
        self.ws, self.ids, self.requests = ws, iter(range(1, 100_000)), []

    def send(self, method: str, params: dict | None = None, until: str | None = None) -> dict:
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("method") == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
            if msg.get("id") == i and until is None:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if until and msg.get("method") == until:
                return msg

    def open(self, url: str, cookies: dict[str, str] | None = None, settle: float = 1.0) -> Page:
        for name, value in (cookies or {}).items():
            self.send("Network.setCookie", {"name": name, "value": value, "url": url})
        self.send("Page.navigate", {"url": url}, until="Page.loadEventFired")
        time.sleep(settle)   # let scripts (a single-page app, the Data Docs' tables) render
        self.evaluate("1")   # drains the events the page sent meanwhile (its requests)
        return self

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def screenshot(self, png: Path, full_page: bool = False) -> Path:
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params)["data"]
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(base64.b64decode(data))
        return png


@contextmanager
def browser(width: int = 1400, height: int = 1000, offline: bool = False):
    """A fresh headless Chromium (its own profile) with one page of ``width`` CSS pixels; with
    ``offline`` no host name resolves and no proxy answers: the network is cut but for files
    and 127.0.0.1 (every request is still recorded in ``page.requests``)."""
    from websockets.sync.client import connect

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:   # chromium may still be flushing
        proc = subprocess.Popen(["chromium", *FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                                 f"--window-size={width},{height}",
                                 *(["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                                    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
                                   if offline else []), "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2))
                    ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
                    break
                except (OSError, StopIteration):
                    time.sleep(0.2)
            else:
                raise RuntimeError("chromium did not start")
            with connect(ws_url, max_size=None) as ws:
                page = Page(ws)
                page.send("Network.enable")
                page.send("Page.enable")
                page.send("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
                yield page
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def screenshot(url: str, png: Path, cookies: dict[str, str] | None = None, settle: float = 4.0) -> Path:
    with browser() as page:
        return page.open(url, cookies, settle).screenshot(png)
