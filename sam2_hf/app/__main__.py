"""``python -m sam2_hf.app [IMAGES] [--model tiny] [--port 7860] [--share]``."""

from .cli import main

raise SystemExit(main())
