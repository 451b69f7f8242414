"""Markdown files with a YAML front matter block (``---`` ... ``---``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Document", "parse_document"]


@dataclass(frozen=True)
class Document:
    meta: dict[str, Any]
    body: str


def parse_document(text: str, source: str) -> Document:
    """Split ``text`` into its front matter mapping and Markdown body.

    Raises :class:`ManifestError` naming ``source`` when the block is missing
    or is not a YAML mapping.
    """
    import yaml

    from .errors import ManifestError

    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ManifestError(source, ["the file must start with a '---' line opening the YAML front matter"])
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            break
    else:
        raise ManifestError(source, ["the YAML front matter is not closed by a '---' line"])
    try:
        meta = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(source, [f"front matter is not valid YAML{where}: {problem}"]) from None
    if not isinstance(meta, dict):
        raise ManifestError(source, ["the front matter must be a mapping of keys to values"])
    return Document(meta=meta, body="".join(lines[end + 1:]).lstrip("\n"))
