"""Secrets in pushed commits: the lines they add and their messages, scanned with the egress DLP.

Pure over text. :func:`added_lines` reads the output of

    git log --format=%H -p --cc -U0 --text --no-renames <new> --not --all

(one commit id line, then its diff; merges as combined diffs, where only lines
new against every parent are the merge's own) and yields every added line with the file
and line number it has in the pushed commit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from ..egress.dlp import KnownSecret, scan_text

__all__ = ["AddedLine", "SecretHit", "added_lines", "scan_added_lines", "scan_message", "format_hit",
           "GIT_LOG_ARGS"]

# Arguments for `git log` whose output :func:`added_lines` parses; the caller appends the revisions.
GIT_LOG_ARGS = ("-c", "core.quotePath=false", "log", "--format=%H", "-p", "--cc", "-U0", "--text",
                "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/",
                "--dst-prefix=b/")

_COMMIT_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_HUNK_RE = re.compile(r"^(@@+) (?:-\d+(?:,\d+)? )+\+(\d+)(?:,\d+)? @@+")
_BATCH_LINES = 2000


@dataclass(frozen=True)
class AddedLine:
    commit: str
    path: str
    line_no: int
    text: str


@dataclass(frozen=True)
class SecretHit:
    commit: str
    where: str  # "src/app.py line 12" or "commit message line 3"
    kind: str
    snippet: str  # the line with the secret redacted
    name: str = ""  # env var name when it is one of the bottle's own tokens


def _unquote(path: str) -> str:
    if not (path.startswith('"') and path.endswith('"')):
        return path
    raw = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _new_path(header: str) -> str | None:
    # git ends the name with a tab when it contains a space.
    target = _unquote(header[4:].rstrip("\n").removesuffix("\t"))
    if target == "/dev/null":
        return None
    return target[2:] if target.startswith("b/") else target


def added_lines(lines: Iterable[str]) -> Iterator[AddedLine]:
    """Every added line in ``git log`` patch output (see the module docstring for the command)."""
    commit = ""
    path: str | None = None
    parents = 1
    new_line = 0
    in_hunk = False
    for raw in lines:
        line = raw.rstrip("\n")
        if in_hunk:
            markers = line[:parents]
            if len(markers) == parents and set(markers) <= {" ", "+", "-"}:
                if "-" not in markers:
                    # In a merge's combined diff a line is the merge's own only when it
                    # is new against every parent; otherwise a parent brought it.
                    if set(markers) == {"+"} and path is not None:
                        yield AddedLine(commit, path, new_line, line[parents:])
                    new_line += 1
                continue
            if line.startswith("\\"):
                continue
            in_hunk = False
        if _COMMIT_RE.match(line):
            commit, path = line, None
        elif line.startswith("diff "):
            path, parents = None, 1
        elif line.startswith("+++ "):
            path = _new_path(line)
        elif line.startswith("@@"):
            match = _HUNK_RE.match(line)
            if match:
                parents = len(match.group(1)) - 1
                new_line = int(match.group(2))
                in_hunk = True


def _scan_batch(batch: Sequence[AddedLine], extra: Sequence[str | KnownSecret]) -> list[SecretHit]:
    text = "\n".join(line.text for line in batch)
    hits = []
    for finding in scan_text(text, extra):
        src = batch[finding.line_no - 1]
        hits.append(SecretHit(src.commit, f"{src.path} line {src.line_no}", finding.kind,
                              finding.snippet_redacted, finding.name))
    return hits


def scan_added_lines(lines: Iterable[AddedLine], extra_secrets: Sequence[str | KnownSecret] = ()) -> list[SecretHit]:
    """Secrets in ``lines`` (format detectors plus ``extra_secrets``), in push order."""
    hits: list[SecretHit] = []
    batch: list[AddedLine] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= _BATCH_LINES:
            hits += _scan_batch(batch, extra_secrets)
            batch = []
    if batch:
        hits += _scan_batch(batch, extra_secrets)
    return hits


def scan_message(commit: str, message: str, extra_secrets: Sequence[str | KnownSecret] = ()) -> list[SecretHit]:
    return [SecretHit(commit, f"commit message line {f.line_no}", f.kind, f.snippet_redacted, f.name)
            for f in scan_text(message, extra_secrets)]


def format_hit(hit: SecretHit) -> str:
    what = f"{hit.kind} ({hit.name})" if hit.name else hit.kind
    return f"{hit.where} (commit {hit.commit[:12]}): {what}: {hit.snippet.strip()}"
