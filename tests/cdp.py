"""Screenshots with Debian's headless Chromium over the DevTools protocol (so a login cookie can be set)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def screenshot(url: str, png: Path, cookies: dict[str, str] | None = None, settle: float = 4.0) -> Path:
    from websockets.sync.client import connect

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:   # chromium may still be flushing
        proc = subprocess.Popen(["chromium", *FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                                 "--window-size=1400,1000", "about:blank"],
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
                ids = iter(range(1, 10_000))

                def send(method, params=None, until=None):
                    i = next(ids)
                    ws.send(json.dumps({"id": i, "method": method, "params": params or {}}))
                    while True:
                        msg = json.loads(ws.recv(timeout=60))
                        if msg.get("id") == i and until is None:
                            return msg.get("result", {})
                        if until and msg.get("method") == until:
                            return msg

                send("Network.enable")
                send("Page.enable")
                for name, value in (cookies or {}).items():
                    send("Network.setCookie", {"name": name, "value": value, "url": url})
                send("Page.navigate", {"url": url}, until="Page.loadEventFired")
                time.sleep(settle)   # let the single-page app render
                data = send("Page.captureScreenshot", {"format": "png"})["data"]
            png.parent.mkdir(parents=True, exist_ok=True)
            png.write_bytes(base64.b64decode(data))
            return png
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
