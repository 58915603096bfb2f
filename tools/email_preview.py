"""Render a digest's HTML to a PNG with headless Chromium, so a person can look at it.

    python -m tools.email_preview data/outbox/<message>.eml data/outbox/preview.png
"""

from __future__ import annotations

import email
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def render_png(html: Path, png: Path, width: int = 1000, height: int = 1400) -> Path:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--screenshot={png}", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    return png


def eml_to_png(eml: Path, png: Path) -> Path:
    """The HTML part of a saved message, rendered to ``png`` (the HTML is kept beside it)."""
    msg = email.message_from_bytes(eml.read_bytes())
    part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    html = png.with_suffix(".html")
    html.write_bytes(part.get_payload(decode=True))
    return render_png(html, png)


def main(argv: list[str]) -> None:
    print(eml_to_png(Path(argv[0]), Path(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
