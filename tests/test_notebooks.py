"""The notebooks stay valid: JSON that Jupyter opens, code cells that compile."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_compiles(path):
    notebook = json.loads(path.read_text())
    assert notebook["nbformat"] == 4
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, f"{path.name} has no code cells"
    for cell in code:
        source = "".join(cell["source"])
        # IPython magics (%pip) are not Python; everything else must parse.
        python = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
        ast.parse(python, filename=path.name)


def test_there_is_a_notebook():
    assert [p.name for p in NOTEBOOKS if p.name == "quickstart.ipynb"]
