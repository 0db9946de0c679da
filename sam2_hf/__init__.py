"""sam2-hf: Segment Anything 2 on Hugging Face transformers, with flat prompts and numpy masks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sam2-hf")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
