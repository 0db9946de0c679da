"""Image embeddings kept across epochs, so a frozen image encoder runs once per image.

``"memory"`` keeps them in host memory (about 16 MB per image for a 1024 input in float32,
half in bfloat16), ``"disk"`` in one safetensors file per image in the run's work folder
(shared by the processes of a run and kept for a resumed run), ``"none"`` recomputes them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch

CacheMode = Literal["memory", "disk", "none"]
CACHE_MODES = ("memory", "disk", "none")


class EmbeddingCache:
    """Per-image feature levels (``image_embeddings`` of one image) under a string key."""

    def __init__(self, mode: CacheMode, folder: str | os.PathLike[str] | None = None) -> None:
        if mode not in CACHE_MODES:
            raise ValueError(f"cache must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
        if mode == "disk" and folder is None:
            raise ValueError("a disk cache needs a folder")
        self.mode = mode
        self.folder = Path(folder) if folder is not None else None
        self._memory: dict[str, list[torch.Tensor]] = {}

    def __len__(self) -> int:
        if self.mode == "disk" and self.folder is not None and self.folder.is_dir():
            return sum(1 for _ in self.folder.glob("*.safetensors"))
        return len(self._memory)

    def get(
        self, key: str, compute: Callable[[], list[torch.Tensor]], device: torch.device
    ) -> list[torch.Tensor]:
        """The embeddings under ``key`` on ``device``, from ``compute()`` the first time."""
        if self.mode == "none":
            return compute()
        if key in self._memory:
            return [level.to(device, non_blocking=True) for level in self._memory[key]]
        path = self.folder / f"{key}.safetensors" if self.folder is not None else None
        if self.mode == "disk" and path is not None and path.is_file():
            from safetensors.torch import load_file

            stored = load_file(path)
            return [stored[f"level_{i}"].to(device) for i in range(len(stored))]
        levels = compute()
        kept = [level.detach().to("cpu").contiguous() for level in levels]
        if self.mode == "memory":
            self._memory[key] = kept
        elif path is not None:
            _save_atomic(path, kept)
        return levels


def _save_atomic(path: Path, levels: list[torch.Tensor]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file({f"level_{i}": level for i, level in enumerate(levels)}, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
