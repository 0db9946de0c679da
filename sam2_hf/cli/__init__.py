"""The ``sam2-hf`` command line: ``segment`` (prompts or detector boxes), ``auto`` (every
object), ``track`` (video) and ``models``.

One module per command (``segment``, ``auto``, ``track``, ``models``), each with its
``register`` (options and help), ``check`` (arguments, before any model loads) and ``run``;
``app`` builds the parser and turns results and failures into exit codes; ``arguments`` holds
the shared option types and checks; ``output`` the atomic writers and reports.

JSON reports give each mask's ``box`` as inclusive pixel corners ``[x0, y0, x1, y1]`` of its
foreground (``sam2_hf.mask_to_box``; null when empty) and its ``area`` in pixels.

Exit codes: 0 success; 2 bad arguments (usage errors, malformed prompts, prompts outside the
image, outputs that cannot be written), found before any model loads; 1 a failure while
running (missing file, model not available, ...), reported in one line on stderr
(``--verbose`` shows the traceback instead).

Every output file is written to a temporary file beside it and renamed into place, so a run
that fails never leaves a truncated file where a good one was. In single-image mode nothing
is written until every mask has been computed.

Building the parser imports no torch: ``sam2-hf --help`` and ``--version`` stay fast, and each
command imports the model code when it runs.
"""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
