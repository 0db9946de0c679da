"""The transformers versions sam2-hf is tested with, readable without importing transformers.

The engine reaches into transformers' internals (the exact fast decoder, the video session),
so a transformers release newer than the tested range may break it. The range is written here
once: ``pyproject.toml`` pins the same one, and the error raised when an internal has moved
says which version is installed and which range is supported (``transformers_support``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

#: The transformers versions sam2-hf supports; ``pyproject.toml`` pins the same range. The
#: video tests pass on 5.1.0 and 5.24.0 (and on 5.25.0, whose from_pretrained wants the
#: ``kernels`` package); 5.0.0's own Sam2VideoModel fails on every frame (it reads a vision
#: output field, fpn_position_embeddings, that 5.0.0 does not have).
SUPPORTED_TRANSFORMERS = ">=5.1,<5.25"
#: The release the test suite last ran against.
TESTED_TRANSFORMERS = "5.24.0"


def installed_transformers() -> str | None:
    """The installed transformers version string, or ``None`` if it is not installed.

    Reads the package metadata only: transformers itself is not imported.
    """
    try:
        return version("transformers")
    except PackageNotFoundError:
        return None


def transformers_is_supported(installed: str | None = None) -> bool:
    """Whether a transformers version (default: the installed one) is in the supported range.

    Example:
        >>> transformers_is_supported("5.24.0"), transformers_is_supported("5.25.0")
        (True, False)
    """
    installed = installed if installed is not None else installed_transformers()
    if installed is None:
        return False
    try:
        return Version(installed) in SpecifierSet(SUPPORTED_TRANSFORMERS)
    except InvalidVersion:
        return False


def transformers_support(installed: str | None = None) -> str:
    """One sentence for error messages: the installed version and the supported range.

    Example:
        >>> print(transformers_support("5.30.0"))  # doctest: +NORMALIZE_WHITESPACE
        transformers 5.30.0 is installed; sam2-hf supports transformers>=5.0,<5.25
        (tested with 5.24.0)
    """
    installed = installed if installed is not None else installed_transformers()
    found = f"transformers {installed} is installed" if installed else "transformers is missing"
    return (
        f"{found}; sam2-hf supports transformers{SUPPORTED_TRANSFORMERS} "
        f"(tested with {TESTED_TRANSFORMERS})"
    )
