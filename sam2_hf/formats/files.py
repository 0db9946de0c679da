"""Atomic file writing: a reader sees the old file or the new one, never half of one.

Every file the package writes (mask PNGs, COCO JSON, overlays, reports) goes through
``atomic_write``, or ``atomic_write_all`` for a group of files that belong together. The
data is written to a temporary file in the target's folder and renamed over the target, so a
failed or interrupted write leaves any existing file untouched and no temporary behind.

A new file gets the permissions a plain ``open(path, "wb")`` would give it (``0o666`` minus
the process umask; the temporary is created with that mode, so the kernel applies the umask
and any default ACL); a file that is replaced keeps its permission bits, as it would when
overwritten in place.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

Writer = Callable[[IO[bytes]], object]
"""Writes a file's content into the binary handle it is given (it must not close it)."""

_TEMP_ATTEMPTS = 100


def _open_temporary(path: Path) -> tuple[IO[bytes], Path]:
    """Create a fresh temporary file beside ``path``, mode 0o666 before the umask."""
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist"
        )
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a folder")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_TEMP_ATTEMPTS):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            descriptor = os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
        return os.fdopen(descriptor, "wb"), temporary
    raise FileExistsError(f"could not create a temporary file beside {str(path)!r}")


def _stage(path: Path, write: Writer) -> Path:
    """Write ``path``'s content into a temporary file beside it; return the temporary."""
    handle, temporary = _open_temporary(path)
    try:
        with handle:
            write(handle)
        try:
            # Overwriting in place keeps a file's permissions; so does replacing it.
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def atomic_write(path: str | os.PathLike[str], write: Writer) -> Path:
    """Write a file atomically: through a temporary file in the same folder, then a rename.

    Args:
        path: the file to write; its folder must exist. An existing file is replaced only
            once ``write`` has succeeded.
        write: called once with a binary file handle open for writing.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        FileNotFoundError: the folder does not exist.
        IsADirectoryError: ``path`` is a folder.
        Exception: whatever ``write`` raises, after the temporary file is removed.

    Example:
        >>> atomic_write(tmp / "note.txt", lambda f: f.write(b"done"))  # doctest: +SKIP
        PosixPath('.../note.txt')
    """
    target = Path(path)
    temporary = _stage(target, write)
    try:
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def atomic_write_all(files: Iterable[tuple[str | os.PathLike[str], Writer]]) -> list[Path]:
    """Write several files as one step: all of them are written, or none is changed.

    Every file is first written to a temporary file beside it; only when all have been
    written are they renamed into place, in the order given. A failure while writing
    removes every temporary and leaves all existing files as they were. (The renames
    themselves are not one transaction; a rename fails only when the file system does.)

    Args:
        files: ``(path, write)`` pairs as for ``atomic_write``; the folders must exist.

    Returns:
        The paths written, in the order given.

    Raises:
        ValueError: the same path is given twice.
    """
    pairs = [(Path(path), write) for path, write in files]
    targets = [path for path, _ in pairs]
    if len({os.path.abspath(path) for path in targets}) != len(targets):
        raise ValueError("files must name each path once, got a path twice")
    staged: list[Path] = []
    try:
        for path, write in pairs:
            staged.append(_stage(path, write))
        for index, (temporary, target) in enumerate(zip(staged, targets, strict=True)):
            os.replace(temporary, target)
            staged[index] = target
    except BaseException:
        for temporary, target in zip(staged, targets, strict=False):
            if temporary != target:
                temporary.unlink(missing_ok=True)
        raise
    return targets
