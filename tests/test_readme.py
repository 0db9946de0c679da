"""The README's first Python example runs as written, on the tiny checkpoint and a local image."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_three_lines_a_mask(video_checkpoint, tmp_path, monkeypatch):
    first = python_blocks()[0]
    code_lines = [line for line in first.splitlines() if line and not line.startswith("from ")]
    assert len(code_lines) == 3, "the README promises three lines, a mask"
    image = np.random.default_rng(0).integers(0, 255, (750, 1000, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    code = first.replace('from_pretrained("tiny")', f'from_pretrained(r"{video_checkpoint}")')
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    masks, scores = scope["masks"], scope["scores"]
    assert masks.shape == (3, 750, 1000) and masks.dtype == bool
    assert np.all(np.diff(scores) <= 0)
