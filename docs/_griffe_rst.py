"""Griffe extension for the docs build: render the reST bits of ssmcast docstrings.

The docstrings are Google style, written to read well in ``help()`` and to run as doctests;
a few use reST markup that Markdown does not know. Before mkdocstrings renders them, this
turns

* ``.. math::`` blocks (and one-line ``.. math:: expr``) into ``$$ ... $$`` blocks that
  ``pymdownx.arithmatex`` typesets, and
* Sphinx roles such as ``:func:`jax.vmap``` into code spans.

It changes what the site shows, never the source files.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|obj|exc|py:\w+):`~?([^`]+)`")
_MATH = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>.*)$")


def _convert_math(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["inline"].strip()] if match["inline"].strip() else []
        i += 1
        # The block is every following line indented deeper than the directive (or blank).
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            if lines[i].strip():
                body.append(lines[i].strip())
            elif body:
                break
            i += 1
        out += ["", f"{indent}$$", *(f"{indent}{line}" for line in body), f"{indent}$$", ""]
    return "\n".join(out)


def _convert(text: str) -> str:
    return _ROLE.sub(r"`\1`", _convert_math(text))


class RestToMarkdown(griffe.Extension):
    """Rewrite the reST parts of every docstring in the loaded package as Markdown."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the package once it is loaded and convert each docstring in place."""
        seen: set[int] = set()

        def visit(obj: griffe.Object) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = _convert(obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    visit(member)

        visit(pkg)
