"""Data Docs that work without the internet: GX's pages load their scripts, styles and logo from the web,
which a district network may not reach (they then render unstyled, with empty tables). After
each build, every CDN address in the site's pages is replaced by a copy, in the site's own
``vendor/`` folder, of the same file from its npm package (``assets/package.json``, locked by
``assets/package-lock.json``, installed by ``make venv`` with ``npm ci``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
MODULES = ASSETS / "node_modules"
# Every address GX's templates name (great_expectations/render/view/templates), and the package file
# that is the same asset. A version the lock holds newer than GX asks (popper.js 1.16.1 for 1.12.9,
# bootstrap-table 1.19.1 for 1.19.0) is the one bootstrap 4.3.1 and bootstrap-table accept.
CDN = {
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "@fortawesome/fontawesome-free/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
}
EXTRA = ("@fortawesome/fontawesome-free/webfonts",)   # what a vendored stylesheet refers to (../webfonts/)
_ADDRESS = re.compile("|".join(re.escape(k) for k in sorted(CDN, key=len, reverse=True)))
# GX's pages take their logo from its S3 bucket; the site ships the same images in static/images
_GX_IMAGES = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([A-Za-z0-9_.-]+)(\?[^\"']*)?")
_REMOTE = re.compile(r"""(?:src=|<link[^>]*href=)["'](https?://[^"']+)""")   # loads, not links


def _rewrite(text: str, site: Path, page: Path) -> str:
    """The page with every CDN address and GX image address made relative to the page."""
    up = os.path.relpath(site / "vendor", page.parent).replace(os.sep, "/")
    images = os.path.relpath(site / "static" / "images", page.parent).replace(os.sep, "/")
    text = _ADDRESS.sub(lambda m: f"{up}/{CDN[m.group(0)]}", text)
    # an image the site lacks (the footer's full_logo_dark.png) becomes the logo it has
    return _GX_IMAGES.sub(lambda m: f"{images}/{m.group(1)}" if (site / "static" / "images" / m.group(1)).exists()
                          else f"{images}/logo-long.png", text)


def available() -> bool:
    return all((MODULES / p).exists() for p in (*CDN.values(), *EXTRA))


def localize(site: Path) -> int:
    """Copy the assets into ``site/vendor/`` and point every page of the site at them; returns the
    number of pages changed. Without the installed packages the pages keep their CDN addresses
    (a warning says so): the Data Docs still work where the internet is reachable."""
    if not available():
        log.warning("Data Docs assets not installed (%s): the Data Docs load them from CDNs; run make venv",
                    MODULES)
        return 0
    vendor = site / "vendor"
    for rel in (*CDN.values(), *EXTRA):
        src, dst = MODULES / rel, vendor / rel
        if dst.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    changed = 0
    for page in site.rglob("*.html"):
        if vendor in page.parents:
            continue
        text = page.read_text(encoding="utf-8")
        new = _rewrite(text, site, page)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
        left = _REMOTE.findall(new)
        if left:
            log.warning("Data Docs page %s still loads %s from the internet", page.name, ", ".join(sorted(set(left))))
    return changed
