"""JupyterHub's proxy for its test (tests/test_jupyterhub.py): find one, or install it from npm.

    python scripts/hub_proxy.py            # print its path, or say why there is none (exit 1)
    python scripts/hub_proxy.py --install  # the same, installing it first where it can

JupyterHub routes every request through ``configurable-http-proxy``, a Node.js program from npm,
not PyPI, so the lock cannot pin it. ``make test`` runs this with ``--install``: where no proxy is
found, npm installs the pinned version into ``build/hub-proxy/`` (this checkout's, never global)
and checks that it runs; where npm or a recent enough Node.js is missing, or the registry cannot
be reached, it says so, and the hub's test skips with that reason. It never fails the run.
``$DIPTYCH_HUB_PROXY`` names one explicitly. Standard library only: it runs on Windows too
(``scripts/make.py test``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV = "DIPTYCH_HUB_PROXY"
PACKAGE = "configurable-http-proxy"
#: the version npm installs (it needs Node.js 20.19 or later)
VERSION = "5.3.0"
#: this checkout's own npm prefix (build/ is ignored by git)
PREFIX = Path(__file__).resolve().parents[1] / "build" / "hub-proxy"
HOW = (
    f"install Node.js 20.19 or later with npm (make test then installs {PACKAGE} {VERSION} into "
    f"build/hub-proxy/), or set {ENV} to a {PACKAGE}"
)


def local() -> Path:
    """Where ``--install`` puts the proxy's command."""
    name = f"{PACKAGE}.cmd" if os.name == "nt" else PACKAGE
    return PREFIX / "node_modules" / ".bin" / name


def find() -> str | None:
    """The proxy to start: ``$DIPTYCH_HUB_PROXY``, this checkout's (at the pinned version), or
    one on PATH."""
    if os.environ.get(ENV):
        return os.environ[ENV] if Path(os.environ[ENV]).is_file() else None
    if local().is_file() and installed_version() == VERSION:
        return str(local())
    return shutil.which(PACKAGE)


def installed_version() -> str | None:
    """The version of this checkout's proxy, from its package.json (no Node.js started)."""
    manifest = PREFIX / "node_modules" / PACKAGE / "package.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


def why_missing() -> str:
    """One sentence: why there is no proxy, and what to do."""
    if os.environ.get(ENV):
        return f"{ENV} is {os.environ[ENV]}, which is not a file"
    return f"no {PACKAGE} found: {HOW}"


def install() -> str | None:
    """Install the pinned proxy into ``PREFIX`` with npm; None, having said why, where it cannot."""
    npm = shutil.which("npm")
    if npm is None:
        print("hub_proxy: npm not found", file=sys.stderr)
        return None
    PREFIX.mkdir(parents=True, exist_ok=True)
    command = [
        npm,
        "install",
        "--prefix",
        str(PREFIX),
        "--save-exact",  # its package.json names the version, not a range
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        f"{PACKAGE}@{VERSION}",
    ]
    print(f"hub_proxy: installing {PACKAGE} {VERSION} into {PREFIX}", file=sys.stderr)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"hub_proxy: npm did not finish ({error})", file=sys.stderr)
        return None
    if result.returncode or not local().is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"hub_proxy: npm failed ({last})", file=sys.stderr)
        return None
    return str(local()) if runs(local()) else None


def runs(proxy: Path) -> bool:
    """Whether the proxy starts on this Node.js: npm installs it on any version with a warning
    (5.3's commander declares Node.js 22.12, yet runs on 20.19 and later, which load its ES
    module), so a proxy that cannot run is removed here, and the test skips rather than fails."""
    try:
        done = subprocess.run([str(proxy), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        done = subprocess.CompletedProcess([], 1, "", str(error))
    if done.returncode == 0 and done.stdout.strip() == VERSION:
        return True
    last = ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
    print(f"hub_proxy: {PACKAGE} {VERSION} does not run here ({last})", file=sys.stderr)
    shutil.rmtree(PREFIX, ignore_errors=True)
    return False


def main(argv: list[str]) -> int:
    found = find()
    if found is None and "--install" in argv and not os.environ.get(ENV):
        found = install()
    if found is not None:
        print(f"proxy for the JupyterHub test: {found}")
        return 0
    print(f"{why_missing()}; the JupyterHub test will be skipped")
    return 0 if "--install" in argv else 1  # --install never fails `make test`


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
