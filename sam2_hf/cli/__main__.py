"""``python -m sam2_hf.cli``: the ``sam2-hf`` command."""

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
