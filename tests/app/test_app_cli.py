"""``sam2-hf app``'s arguments and exit codes, and ``launch`` building the page."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from app_helpers import image_folder

import sam2_hf.app
from sam2_hf.app import cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments_and_defaults(tmp_path):
    args = parse()
    assert (args.images, args.model, args.port, args.host, args.share) == (
        None,
        "tiny",
        None,
        "127.0.0.1",
        False,
    )
    args = parse(str(tmp_path), "--model", "large", "--port", "7870", "--share", "-o", "out")
    assert (args.images, args.model, args.port, args.share) == (tmp_path, "large", 7870, True)


def test_run_starts_the_app_with_the_arguments(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(sam2_hf.app, "launch", lambda *a, **k: calls.append((a, k)))
    assert cli.run(parse(str(tmp_path), "--port", "7870", "--model", "small")) == 0
    ((args, kwargs),) = calls
    assert args == (tmp_path,)
    assert kwargs["model"] == "small" and kwargs["port"] == 7870
    assert kwargs["host"] == "127.0.0.1" and kwargs["share"] is False


def test_bad_arguments_exit_2(tmp_path, capsys, monkeypatch):
    assert cli.run(parse(str(tmp_path / "missing"))) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.run(parse("--port", "70000")) == 2
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if the extra were not installed
    assert cli.run(parse(str(tmp_path))) == 2
    assert 'pip install "sam2-hf[app]"' in capsys.readouterr().err


def test_build_makes_the_page_without_starting_it(tmp_path, image_checkpoint):
    gradio = pytest.importorskip("gradio")
    demo = sam2_hf.app.build(
        image_folder(tmp_path / "images"), model=image_checkpoint, device="cpu"
    )
    assert isinstance(demo, gradio.Blocks)
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {"sam2-canvas", "sam2-status", "sam2-mode", "sam2-export"} <= ids


def test_the_cli_module_imports_nothing_heavy():
    """`sam2-hf --help` imports the sub-command's module: no torch, Gradio, numpy or SciPy."""
    code = (
        "import sys, sam2_hf.app.cli; "
        "print(sorted(m for m in ('torch', 'gradio', 'numpy', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_names_resolve():
    for name in sam2_hf.app.__all__:
        assert getattr(sam2_hf.app, name) is not None
