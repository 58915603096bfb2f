"""Headless Chromium for the screenshot tests (Debian's package): installed under CI as root, else optional."""

import os
import shutil
import subprocess
import sys

if shutil.which("chromium"):
    sys.exit(0)
if os.environ.get("CI") == "true" and os.geteuid() == 0 and shutil.which("apt-get"):
    print("installing Debian's chromium for the screenshot tests")
    with open("/tmp/iepwatch-apt.log", "w") as log:
        ok = all(subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}).returncode == 0
                 for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]))
    if not ok:
        print("could not install chromium (see /tmp/iepwatch-apt.log): the screenshot tests are skipped")
else:
    print("chromium not found: the screenshot tests are skipped (apt-get install chromium)")
