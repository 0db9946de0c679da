"""The ``sam2-hf`` entry point: parser, exit codes, import cost.

Only the import-cost test needs a fresh interpreter (``python -m sam2_hf.cli``, which also
runs ``__main__``); everything else calls ``main([...])`` in-process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sam2_hf import list_models
from sam2_hf.cli import build_parser, main
from sam2_hf.cli.arguments import join_negative_values

ROOT = Path(__file__).resolve().parents[2]


def run_module(*args: str, **options) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, *args], env=env, text=True, timeout=120, check=False, **options
    )


def test_help_and_version_import_no_torch():
    for flag in ("--help", "--version"):
        completed = run_module("-X", "importtime", "-m", "sam2_hf.cli", flag, capture_output=True)
        assert completed.returncode == 0, completed.stderr
        imported = {line.split("|")[-1].strip() for line in completed.stderr.splitlines()}
        assert "sam2_hf.cli.app" in imported  # the import log is there and names our modules
        heavy = {name for name in imported if name.split(".")[0] in ("torch", "transformers")}
        assert heavy == set(), f"sam2-hf {flag} imported {sorted(heavy)[:5]}"
    assert completed.stdout.startswith("sam2-hf ")


def test_console_script_is_main():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["sam2-hf"].partition(":")
    assert (module, name) == ("sam2_hf.cli", "main")
    assert __import__(module, fromlist=[name]).main is main


def test_model_names_in_help_match_the_model_table(capsys):
    with pytest.raises(SystemExit):
        main(["segment", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ", ".join(info.name for info in list_models()) in help_text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--box", "-10,20,100,200"], ["--box=-10,20,100,200"]),
        (["--point", "-5,10", "--point", "3,-4"], ["--point=-5,10", "--point", "3,-4"]),
        (["--point", "-.5,1:0"], ["--point=-.5,1:0"]),
        (["--box", "--point", "-1,2"], ["--box", "--point=-1,2"]),  # nothing is swallowed
        (["--frame", "-1", "--point"], ["--frame", "-1", "--point"]),
        (["--", "--box", "-1,2,3,4"], ["--", "--box", "-1,2,3,4"]),
        (["--box", "-v"], ["--box", "-v"]),  # an option is still an option
    ],
)
def test_negative_coordinates_are_joined_to_their_option(argv, expected):
    assert join_negative_values(argv) == expected


def test_negative_coordinates_parse():
    parse = build_parser().parse_args
    args = parse(join_negative_values(["track", "v", "-o", "o", "--point", "-5,10",
                                       "--box", "-10,-20,100,200"]))  # fmt: skip
    assert args.point == [(-5.0, 10.0, 1)]
    assert args.box == [(-10.0, -20.0, 100.0, 200.0)]


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "required: COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["segment", "auto", "track", "models"])
def test_every_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    examples = capsys.readouterr().out.split("\nexamples:\n", 1)[1]
    assert f"  sam2-hf {command} " in examples or f"  sam2-hf {command}\n" in examples


def test_finetune_and_app_commands_are_wired_in(capsys):
    for command, words in (("finetune", "Fine-tune SAM 2"), ("app", "annotation")):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert words in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["finetune", "data/"])  # -o is required
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "finetune" in capsys.readouterr().out
