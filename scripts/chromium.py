"""The browser for the site's tests (tests/test_site.py): find one installed, or install Debian's.

    python scripts/chromium.py            # print its path, or say why there is none (exit 1)
    python scripts/chromium.py --install  # the same, installing Chromium first where it can

Playwright drives the system's Chromium (``executable_path``): a browser build of Playwright's own
is a download that many machines refuse, and these tests need only a Chromium-family browser.
``$DIPTYCH_CHROMIUM`` names one explicitly. ``make test`` runs this with ``--install``: on Debian,
as root (CI, a container), a missing browser is installed from Debian's ``chromium`` package;
anywhere else it only says what to install, and the browser tests skip with that reason. It
never fails the run. Standard library only: it runs on Windows too (``scripts/make.py test``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV = "DIPTYCH_CHROMIUM"
COMMANDS = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "msedge",
)
PLACES = (
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Microsoft\Edge\Application\msedge.exe",
)
HOW = (
    "install Chromium (Debian: apt-get install chromium), Google Chrome or Microsoft Edge, "
    f"or set {ENV} to a Chromium-family browser"
)


def find() -> str | None:
    """The browser to drive: ``$DIPTYCH_CHROMIUM``, a command on PATH, or a usual install."""
    if os.environ.get(ENV):
        return os.environ[ENV] if Path(os.environ[ENV]).is_file() else None
    for command in COMMANDS:
        found = shutil.which(command)
        if found:
            return found
    return next((place for place in PLACES if Path(place).is_file()), None)


def why_missing() -> str:
    """One sentence: why there is no browser, and what to do."""
    if os.environ.get(ENV):
        return f"{ENV} is {os.environ[ENV]}, which is not a file"
    return f"no Chromium-family browser found: {HOW}"


def can_install() -> bool:
    """Debian's chromium package is a real browser (Ubuntu's is a stub for a snap)."""
    return (
        sys.platform == "linux"
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
        and _os_id() == "debian"
    )


def install() -> bool:
    """apt-get install chromium, quietly; True when it succeeded."""
    print("installing Chromium from Debian's packages for the site's browser tests", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium"],
    ):
        done = subprocess.run(command, env=environment, stdout=subprocess.DEVNULL)
        if done.returncode:
            print(f"'{' '.join(command)}' failed (exit {done.returncode})")
            return False
    return True


def _os_id() -> str:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return ""
    fields = dict(line.split("=", 1) for line in lines if "=" in line)
    return fields.get("ID", "").strip('"')


def main(argv: list[str]) -> int:
    found = find()
    if found is None and "--install" in argv and not os.environ.get(ENV) and can_install():
        install()
        found = find()
    if found is not None:
        print(f"browser for the site's tests: {found}")
        return 0
    print(f"{why_missing()}; the site's browser tests will be skipped")
    return 0 if "--install" in argv else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
