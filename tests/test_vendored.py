"""The vendored MathJax is what ``scripts/vendor-mathjax`` copied, file for file (offline).

``VENDORED.txt`` names the two npm packages with their versions and the registry's integrities,
then every file copied with its sha256. A hand edit, a file left over from an older copy, a file
missing, or an upgrade done halfway (new files, old list; a version changed in one place) fails
here, before the browser tests of the site would have to find it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import diptych

from helpers import REPO

MATHJAX = Path(diptych.__file__).resolve().parent / "site_assets" / "_static" / "mathjax"
SCRIPT = REPO / "scripts" / "vendor-mathjax"
LISTING = "VENDORED.txt"


def listed(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(npm package -> version, file -> sha256) as ``VENDORED.txt`` in ``folder`` lists them."""
    text = (folder / LISTING).read_text(encoding="utf-8")
    packages = dict(re.findall(r"^(@?[\w./-]+?)@([\w.-]+) sha512-\S+$", text, re.MULTILINE))
    files = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (.+)$", text, re.M)}
    return packages, files


def differences(folder: Path) -> list[str]:
    """Every way the files in ``folder`` differ from the hashes its listing gives."""
    _, files = listed(folder)
    found = {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file() and path.name != LISTING
    }
    return sorted(
        [f"{name}: not listed" for name in found.keys() - files.keys()]
        + [f"{name}: listed, missing" for name in files.keys() - found.keys()]
        + [f"{name}: changed" for name in found.keys() & files.keys() if found[name] != files[name]]
    )


def test_every_vendored_file_is_the_one_listed():
    assert len(listed(MATHJAX)[1]) > 100  # the listing holds the files, not only the packages
    assert differences(MATHJAX) == []


def test_a_hand_edit_a_stray_file_and_a_missing_one_are_each_named(tmp_path):
    copy = tmp_path / "mathjax"
    shutil.copytree(MATHJAX, copy)
    (copy / "LICENSE").write_text("edited by hand\n", encoding="utf-8")
    (copy / "input" / "tex" / "extensions" / "stray.js").write_text("//\n", encoding="utf-8")
    (copy / "a11y" / "assistive-mml.js").unlink()
    assert differences(copy) == [
        "LICENSE: changed",
        "a11y/assistive-mml.js: listed, missing",
        "input/tex/extensions/stray.js: not listed",
    ]


def test_the_versions_agree_with_the_script_and_the_code():
    packages, _ = listed(MATHJAX)
    script = SCRIPT.read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^(MATHJAX|FONT)=(\S+)$", script, re.MULTILINE))
    assert packages == {"mathjax": pinned["MATHJAX"], "@mathjax/mathjax-newcm-font": pinned["FONT"]}
    # the version MathJax reports about itself, in its combined component
    code = (MATHJAX / "tex-chtml.js").read_text(encoding="utf-8")
    assert f'="{pinned["MATHJAX"]}"' in code
