"""A griffe extension for the API reference: ``Example:`` sections are read as ``Examples:``.

The package's docstrings use Google style's singular ``Example:`` heading (Napoleon reads
both); griffe reads only the plural as a section of ``>>>`` code and would render the singular
as prose, where ``x[0][5, 5]`` even parses as a Markdown link.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:[ \t]*$", flags=re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rewrites the heading before the docstring is parsed (parsing happens at render time)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
