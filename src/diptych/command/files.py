"""Writing files without losing any: atomic replacement, placement that never overwrites, taking a
file aside before deciding about it, unique verified copies, and output paths checked up front.

A learner's notebook can be saved by JupyterLab at any moment and two commands can run at once,
so every write here either happens whole or not at all, and nothing here overwrites bytes it has
not read first. Temporary names are hidden siblings (``.NAME.tmp-…``) in the target's folder, so
that the final rename stays on one filesystem and is atomic.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path

_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate line endings


class OutputError(Exception):
    """A path the command must write to cannot be written; one line, exit status 2."""


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace ``path`` by ``data`` in one step: a reader sees the old file or the new, never half
    of one, and an interrupted write leaves the old file as it was."""
    path = Path(path)
    temporary = _sibling(path, "tmp")
    try:
        _write_new(temporary, _bytes(data))
        if _exists(path):
            _copy_mode(path, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def place_new(path: Path, data: bytes | str) -> bool:
    """Write ``data`` at ``path`` only if no file is there; False, with nothing written, if one is.

    The content is written beside the target and hard-linked into place (a link never replaces
    an existing file), so the file appears whole or not at all.
    """
    path = Path(path)
    temporary = _sibling(path, "tmp")
    try:
        _write_new(temporary, _bytes(data))
        return _link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def take(path: Path) -> Path | None:
    """Move ``path`` aside, to a hidden name beside it, and return that name (None: no file).

    From then on the bytes are this process's alone: nobody else's save can change them before
    they are judged. ``put_back`` returns them; otherwise the caller deletes the taken file.
    """
    path = Path(path)
    aside = _sibling(path, "aside")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None
    return aside


def put_back(aside: Path, path: Path) -> bool:
    """Return a taken file to ``path``; False (and ``aside`` kept) if a new file is there now."""
    if not _link(aside, path):
        return False
    aside.unlink()
    return True


def copy_unique(source: Path, folder: Path, stem: str, suffix: str) -> Path:
    """Copy ``source`` into ``folder`` as ``stem+suffix``, or ``stem-2+suffix``… when that name is
    taken, never over an existing file; the copy is read back and compared before it is trusted."""
    data = Path(source).read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        target = folder / (f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}")
        if _create_exclusive(target, data):
            break
        number += 1
    if target.read_bytes() != data:
        raise OSError(f"the copy {target} differs from {source}")
    return target


def validate_output_file(path: Path, option: str) -> None:
    """Raise OutputError unless a file can be written at ``path``, without writing it.

    Writability is tried, not inferred from permission bits: a read-only disk, a missing folder
    under a file or a privileged user all count as they will when the file is written.
    """
    path = Path(path)
    if _is_dir(path):
        raise OutputError(f"{option} {path}: that is a folder; give a file name")
    folder = _nearest_existing(path.parent)
    if not _is_dir(folder):
        raise OutputError(f"{option} {path}: {folder} is a file, not a folder")
    if _exists(path):
        try:
            with open(path, "ab"):
                pass
        except OSError as error:
            raise OutputError(f"{option} {path}: cannot be written ({_reason(error)})") from None
    else:
        _probe(folder, option, path)


def validate_output_folder(path: Path, option: str) -> None:
    """Raise OutputError unless ``path`` is, or can be made, a folder that files can be written in."""
    path = Path(path)
    if _exists(path) and not _is_dir(path):
        raise OutputError(f"{option} {path}: that is a file, not a folder")
    folder = _nearest_existing(path)
    if not _is_dir(folder):
        raise OutputError(f"{option} {path}: {folder} is a file, not a folder")
    _probe(folder, option, path)


def _bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def _sibling(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{kind}-{uuid.uuid4().hex[:12]}")


def _write_new(path: Path, data: bytes) -> None:
    if not _create_exclusive(path, data):
        raise FileExistsError(f"{path} exists")


def _create_exclusive(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` (flushed to disk); False if a file is already there."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o666)
    except FileExistsError:  # exclusive: never opens an existing file
        return False
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def _link(source: Path, target: Path) -> bool:
    """Give ``source``'s file the name ``target`` too, unless a file is there; True if it worked."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links: create exclusively and copy instead
        return _create_exclusive(target, source.read_bytes())
    return True


def _copy_mode(source: Path, target: Path) -> None:
    with contextlib.suppress(OSError):  # the umask's default is a fine second choice
        os.chmod(target, os.stat(source).st_mode & 0o7777)


def _probe(folder: Path, option: str, path: Path) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{option} {path}: cannot write in {folder} ({_reason(error)})") from None


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not _exists(path) and path != path.parent:
        path = path.parent
    return path


def _exists(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _is_dir(path: Path) -> bool:
    try:
        return os.path.isdir(path)
    except OSError:
        return False


def _reason(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__
