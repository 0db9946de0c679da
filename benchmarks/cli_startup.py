"""Start-up time of ``sam2-hf --help`` and ``sam2-hf --version`` (goal: under 1 s).

Runs each command several times in a fresh interpreter (``python -m sam2_hf.cli``, this
checkout first on the path) and prints the median wall and CPU seconds, beside a bare
``python -c pass`` (the floor no command can go below). CPU seconds are less disturbed than
wall seconds when other jobs share the cores. ``--reference`` adds ``import torch,
transformers``: what every command paid at start-up before the CLI imported them lazily.

    python benchmarks/cli_startup.py
    python benchmarks/cli_startup.py --runs 9 --reference
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one ``python ARGS`` run."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument(
        "--reference", action="store_true", help="also time 'import torch, transformers'"
    )
    options = parser.parse_args()

    commands = {
        "python -c pass (floor)": ["-c", "pass"],
        "sam2-hf --help": ["-m", "sam2_hf.cli", "--help"],
        "sam2-hf --version": ["-m", "sam2_hf.cli", "--version"],
    }
    if options.reference:
        commands["import torch, transformers"] = ["-c", "import torch, transformers"]
    run_once(commands["sam2-hf --version"])  # warm the file cache and the .pyc files

    print(f"median of {options.runs} runs, {os.cpu_count()} cores")
    print(f"{'command':<28} {'wall s':>8} {'cpu s':>8}")
    for name, args in commands.items():
        walls, cpus = zip(*(run_once(args) for _ in range(options.runs)), strict=True)
        print(f"{name:<28} {statistics.median(walls):>8.3f} {statistics.median(cpus):>8.3f}")


if __name__ == "__main__":
    main()
