"""Griffe extension: numpydoc/Sphinx markup of napari-sr's docstrings, as Markdown.

The docstrings are numpydoc, written for readers of the source and of ``help()``. For the
API reference (mkdocstrings renders docstrings as Markdown) this rewrites, before parsing:

- Sphinx roles (``:func:`~napari_sr.resize```, ``:class:`Image```…) into cross-references
  that link when the target is in the reference and fall back to code otherwise;
- ``doi:10.…`` and ``arXiv:NNNN.NNNNN`` (also the ``:DOI:`…``` and ``:arXiv:`…``` roles)
  into links;
- numpydoc citations (``.. [1] text`` and ``[1]_``) into plain ``[1]`` text.

Only the text handed to the renderer changes; the source stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|data|attr|exc|obj|const):`(~?)([\w.]+)`")
_LINK_ROLE = re.compile(r":(DOI|doi|arXiv|arxiv):`([^`]+)`")
# a DOI runs to the next blank; trailing punctuation of the sentence is not part of it
_DOI = re.compile(r"(?<![\w/\[])doi:\s?(10\.\d{4,9}/[^\s`<>\"]+)", re.IGNORECASE)
_ARXIV = re.compile(r"(?<![\w/\[])arXiv:\s?(\d{4}\.\d{4,5})(v\d+)?", re.IGNORECASE)
_CITATION = re.compile(r"^(\s*)\.\. \[(\w+)\]\s", re.MULTILINE)
_CITE = re.compile(r"\[(\w+)\]_")


def _trim_doi(doi: str) -> tuple[str, str]:
    """(doi, trailing text that belongs to the sentence)."""
    tail = ""
    while doi and (doi[-1] in ".,;:" or (doi[-1] == ")" and doi.count("(") < doi.count(")"))):
        doi, tail = doi[:-1], doi[-1] + tail
    return doi, tail


def _doi_link(match: re.Match) -> str:
    doi, tail = _trim_doi(match.group(1))
    return f"[doi:{doi}](https://doi.org/{doi}){tail}"


def _arxiv_link(match: re.Match) -> str:
    number = match.group(1) + (match.group(2) or "")
    return f"[arXiv:{number}](https://arxiv.org/abs/{number})"


def _resolve(name: str, obj: griffe.Object) -> str:
    """The full path of ``name`` as written in the docstring of ``obj``."""
    if "." in name and name.split(".")[0] in ("napari_sr", "numpy", "torch"):
        return name
    scope: griffe.Object | None = obj if obj.is_module or obj.is_class else obj.parent
    while scope is not None:
        head = name.split(".")[0]
        try:
            if head in scope.members:
                return f"{scope.path}.{name}"
        except Exception:  # an alias that does not resolve: keep looking outward
            pass
        scope = scope.parent
    return name


def markdown(text: str, obj: griffe.Object) -> str:
    """``text``, a numpydoc docstring of ``obj``, with its Sphinx markup made Markdown."""

    def role(match: re.Match) -> str:
        short, name = match.groups()
        shown = name.rsplit(".", 1)[-1] if short else name
        target = _resolve(name, obj)
        return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'

    text = _LINK_ROLE.sub(lambda m: f"{m.group(1).lower()}:{m.group(2)}", text)
    text = _ROLE.sub(role, text)
    text = _DOI.sub(_doi_link, text)
    text = _ARXIV.sub(_arxiv_link, text)
    text = _CITATION.sub(r"\n\1[\2] ", text)  # a paragraph each
    return _CITE.sub(r"[\1]", text)


class NumpydocMarkdown(griffe.Extension):
    """Rewrite every docstring's Sphinx markup once the package is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value, obj)
