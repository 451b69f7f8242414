"""Request path normalisation, so the proxy checks exactly what the upstream will see.

The normalised path is what gets forwarded, which removes any parser
differential between our allowlist check and the upstream's router.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["NormalisedPath", "normalise_path"]

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Escapes that change how the path splits into segments, or that servers
# disagree about; refused outright rather than guessed at.
_REFUSED_ESCAPES = {"2F": "an encoded slash (%2F)", "5C": "an encoded backslash (%5C)", "00": "an encoded NUL (%00)"}


@dataclass(frozen=True)
class NormalisedPath:
    path: str | None  # normalised path without the query, None when refused
    query: str  # raw query including the leading '?', or ""
    had_dot_segments: bool = False
    refused: str | None = None  # why the path cannot be forwarded

    @property
    def target(self) -> str:
        """Origin-form request target to forward."""
        return (self.path or "/") + self.query


def _decode_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def normalise_path(raw: str) -> NormalisedPath:
    """Normalise an origin-form request target (``/a/b?q``).

    Unreserved percent-escapes are decoded (so ``%2e%2e`` is ``..``), ``//`` is
    collapsed, ``.`` and ``..`` segments are resolved. Encoded slashes,
    backslashes, NULs and ``..`` above the root are refused.
    """
    path, sep, query = raw.partition("?")
    query = sep + query
    frag = path.find("#")
    if frag >= 0:
        path = path[:frag]
    if not path.startswith("/"):
        return NormalisedPath(None, query, refused="the request path does not start with '/'")
    if "\\" in path:
        return NormalisedPath(None, query, refused="the path contains a backslash")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in path):
        return NormalisedPath(None, query, refused="the path contains control characters or spaces")
    for escape in _ESCAPE.findall(path):
        if escape.upper() in _REFUSED_ESCAPES:
            return NormalisedPath(None, query, refused=f"the path contains {_REFUSED_ESCAPES[escape.upper()]}")
    if re.search(r"%(?![0-9A-Fa-f]{2})", path):
        return NormalisedPath(None, query, refused="the path contains a malformed percent-escape")
    decoded = _ESCAPE.sub(_decode_unreserved, path)

    segments = decoded.split("/")[1:]
    out: list[str] = []
    had_dots = False
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            had_dots = True
            if last:
                out.append("")
        elif seg == "..":
            had_dots = True
            if not out or out == [""]:
                return NormalisedPath(None, query, True, refused="the path climbs above the root with '..'")
            out.pop()
            if last:
                out.append("")
        elif seg == "" and not last:
            continue
        else:
            out.append(seg)
    return NormalisedPath("/" + "/".join(out), query, had_dots)
