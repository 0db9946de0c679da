"""Atomic writing: whole files or none, with the permissions a plain open() gives."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from sam2_hf.formats import masks
from sam2_hf.formats.files import atomic_write, atomic_write_all

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _fail(handle: IO[bytes]) -> None:
    handle.write(b"partial")
    raise OSError("disk full")


def test_writes_the_content_and_returns_the_path(tmp_path: Path) -> None:
    path = atomic_write(str(tmp_path / "a.txt"), lambda f: f.write(b"hello"))
    assert path == tmp_path / "a.txt"
    assert path.read_bytes() == b"hello"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@posix_only
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_file_mode_is_what_open_gives(tmp_path: Path, mask: int) -> None:
    previous = os.umask(mask)
    try:
        written = atomic_write(tmp_path / "atomic", lambda f: f.write(b"x"))
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(previous)
    assert _mode(written) == _mode(tmp_path / "plain") == 0o666 & ~mask


@posix_only
def test_replaced_file_keeps_its_mode(tmp_path: Path, umask: None) -> None:
    path = tmp_path / "private.json"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert _mode(path) == 0o640


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, _fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_missing_folder_and_folder_target_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"the folder '.*missing' does not exist"):
        atomic_write(tmp_path / "missing" / "a.txt", lambda f: f.write(b""))
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        atomic_write(tmp_path, lambda f: f.write(b""))
    assert list(tmp_path.iterdir()) == []


def test_write_all_replaces_every_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"old")
    written = atomic_write_all(
        [(tmp_path / "a", lambda f: f.write(b"A")), (tmp_path / "b", lambda f: f.write(b"B"))]
    )
    assert written == [tmp_path / "a", tmp_path / "b"]
    assert [p.read_bytes() for p in written] == [b"A", b"B"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_write_all_changes_nothing_when_one_write_fails(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"):
        atomic_write_all(
            [
                (tmp_path / "a", lambda f: f.write(b"A")),
                (tmp_path / "b", lambda f: f.write(b"B")),
                (tmp_path / "c", _fail),
            ]
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert (tmp_path / "a").read_bytes() == b"old"


def test_write_all_refuses_a_path_twice(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a path twice"):
        atomic_write_all([(tmp_path / "a", lambda f: None), (str(tmp_path / "a"), lambda f: None)])
    assert list(tmp_path.iterdir()) == []


def test_first_private_name_is_the_public_writer() -> None:
    assert masks._atomic_write is atomic_write
