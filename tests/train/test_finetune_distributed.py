"""Data parallel through ``accelerate launch``: two CPU processes (gloo) end with the
checkpoint that one process gives for the same global batch.

The two runs see the same images in the same steps with the same prompts (all drawn per
seed, epoch and image), and DDP averages the two halves' gradients, which equals the
one-process mean because the loss is a mean over images. What remains is float summation
order: measured 3e-7 of the weights' change, at most 1.2e-7 on any weight; the test allows
1e-4 of the change and 1e-5 per weight.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from finetune_shapes import make_shapes, write_mask_folder
from safetensors.torch import load_file

from sam2_hf.train.cli import main

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_processes_give_the_one_process_checkpoint(tmp_path, image_checkpoint) -> None:
    data = write_mask_folder(tmp_path / "data", make_shapes(8, seed=1, colour=(230, 40, 40)))
    common = [str(data), "--model", str(image_checkpoint), "--epochs", "2", "--lr", "1e-3"]
    common += ["--correction-clicks", "1", "--val-fraction", "0", "--no-eval", "--quiet", "--cpu"]

    assert main([*common, "-o", str(tmp_path / "one"), "--batch-size", "4"]) == 0

    # accelerate's --cpu launcher expects mpirun for several processes; its torchrun path
    # (--multi_gpu) starts them, and --cpu inside the run makes them CPU processes on gloo.
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    launch += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    launch += ["--dynamo_backend", "no", "--main_process_port", str(_free_port())]
    command = [*launch, "-m", "sam2_hf.train.cli", *common]
    command += ["-o", str(tmp_path / "two"), "--batch-size", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "8 images (0 for validation): 4 steps" in done.stdout  # 2 x 2 images per step

    one = load_file(tmp_path / "one" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model.safetensors")
    base = load_file(image_checkpoint / "model.safetensors")
    change = sum(float((one[k] - base[k]).pow(2).sum()) for k in one) ** 0.5
    difference = sum(float((one[k] - two[k]).pow(2).sum()) for k in one) ** 0.5
    assert change > 0.1  # the runs did train
    assert difference < 1e-4 * change
    assert max(float((one[k] - two[k]).abs().max()) for k in one) < 1e-5
