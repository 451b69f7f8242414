"""Secret detection over text: detect-secrets' credential-format detectors plus
the bottle's own tokens and placeholders.

Pure over str/bytes, so the egress proxy (request URL, headers, bodies) and the
git gate (diff lines) share one scanner. Findings never carry the secret.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterable, Sequence
from urllib.parse import quote

try:
    from re import _constants as re_constants, _parser as re_parser
except ImportError:  # Python < 3.11 names
    import sre_constants as re_constants  # type: ignore[no-redef]
    import sre_parse as re_parser  # type: ignore[no-redef]

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

__all__ = [
    "Finding", "KnownSecret", "StreamScanner", "POLICIES",
    "scan_text", "scan_bytes", "redact_text", "find_secrets",
]

POLICIES = ("block", "redact", "log")
_MIN_KNOWN_LEN = 8
_SNIPPET = 120

# Only detectors that recognise a credential by its format. Entropy and
# keyword detectors fire on ordinary code and prompts, which would make the
# block policy unusable on an LLM API.
_DETECTOR_CLASSES: tuple[type[RegexBasedDetector], ...] = (
    AWSKeyDetector, ArtifactoryDetector, AzureStorageKeyDetector, BasicAuthDetector,
    DiscordBotTokenDetector, GitHubTokenDetector, GitLabTokenDetector, JwtTokenDetector,
    MailchimpDetector, NpmDetector, OpenAIDetector, PrivateKeyDetector, PypiTokenDetector,
    SendGridDetector, SlackDetector, SquareOAuthDetector, StripeDetector,
    TelegramBotTokenDetector, TwilioKeyDetector,
)


@lru_cache(maxsize=1)
def _detectors() -> tuple[RegexBasedDetector, ...]:
    return tuple(cls() for cls in _DETECTOR_CLASSES)


def _required_literal(regex: re.Pattern[str]) -> str | None:
    """The longest literal run every match must contain (lowercase for IGNORECASE patterns), or None.

    Only top-level literals count: they sit outside any branch or repeat, so
    a text without them cannot match and the regex can be skipped.
    """
    best, run = "", ""
    for op, arg in re_parser.parse(regex.pattern, regex.flags):
        if op is re_constants.LITERAL:
            run += chr(arg)
        else:
            run = ""
        best = max(best, run, key=len)
    if not best:
        return None
    return best.lower() if regex.flags & re.IGNORECASE else best


def _digits_then_colon(text: str, lowered: str) -> bool:
    """Telegram bot tokens start with 8+ digits and ':'; JSON is full of ':', rarely after 8 digits."""
    i = text.find(":")
    while i >= 0:
        if i >= 8 and text[i - 8:i].isdigit():
            return True
        i = text.find(":", i + 1)
    return False


# Cheaper necessary conditions for detectors whose only literal is too common to guard them.
_PREFILTERS = {"TelegramBotTokenDetector": _digits_then_colon}


@lru_cache(maxsize=1)
def _guarded_patterns() -> tuple[tuple[RegexBasedDetector, tuple[tuple[re.Pattern[str], str | None, bool], ...]], ...]:
    """Per detector: (regex, required literal or None, whether the literal is sought in lowercased text).

    The IGNORECASE test is made here once: ``int & RegexFlag`` goes through
    enum's slow path, which per pattern per scan was most of the scan's time.
    """
    return tuple(
        (detector, tuple((regex, _required_literal(regex), bool(int(regex.flags) & int(re.IGNORECASE)))
                         for regex in detector.denylist))
        for detector in _detectors()
    )


@dataclass(frozen=True)
class KnownSecret:
    """A value the bottle knows is sensitive: a real token, or the placeholder the agent holds.

    ``owners`` are the hosts allowed to receive it; anywhere else it is exfiltration.
    """

    value: str
    kind: str  # "bottle token" | "bottle placeholder"
    name: str = ""  # env var name, safe to log
    owners: frozenset[str] = frozenset()

    @cached_property
    def variants(self) -> tuple[str, ...]:
        if len(self.value) < _MIN_KNOWN_LEN:
            return ()
        raw = self.value
        return tuple(dict.fromkeys((
            raw,
            quote(raw, safe=""),
            base64.b64encode(raw.encode()).decode("ascii").rstrip("="),
        )))


@dataclass(frozen=True)
class Finding:
    kind: str  # detector's secret type, "bottle token" or "bottle placeholder"
    line_no: int  # 1-based line within the scanned text
    snippet_redacted: str  # the line around the match, secret replaced
    name: str = ""  # env var name for bottle secrets
    fingerprint: str = ""  # short sha256 of the secret, to correlate without revealing it
    owners: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Match:
    kind: str
    value: str
    start: int
    name: str = ""
    owners: frozenset[str] = frozenset()


def _as_known(extra: Iterable[str | KnownSecret]) -> list[KnownSecret]:
    return [e if isinstance(e, KnownSecret) else KnownSecret(e, "bottle token") for e in extra]


def _occurrences(text: str, needle: str) -> Iterable[int]:
    start = text.find(needle)
    while start >= 0:
        yield start
        start = text.find(needle, start + len(needle))


def _detector_values(
    detector: RegexBasedDetector, patterns: Sequence[tuple[re.Pattern[str], str | None, bool]], text: str,
    lowered: str,
) -> Iterable[str]:
    # Detectors' own analyze_string returns only the first capture group,
    # which for some patterns is a prefix such as "ghp"; take the capture
    # only when it is the secret part, else the whole match.
    prefilter = _PREFILTERS.get(type(detector).__name__)
    if prefilter is not None and not prefilter(text, lowered):
        return
    for regex, literal, in_lowered in patterns:
        if literal is not None and literal not in (lowered if in_lowered else text):
            continue
        for match in regex.finditer(text):
            groups = [g for g in match.groups() if g]
            value = max(groups, key=len) if groups and len(max(groups, key=len)) >= _MIN_KNOWN_LEN else match.group(0)
            value = value.strip(" \t\r\n\"'=:")
            if not value:
                continue
            if isinstance(detector, JwtTokenDetector) and not detector.is_formally_valid(value):
                continue
            yield value


def find_secrets(text: str, extra_secrets: Iterable[str | KnownSecret] = ()) -> list[_Match]:
    """Every secret occurrence with its value and offset, known secrets first."""
    matches: list[_Match] = []
    for known in _as_known(extra_secrets):
        for variant in known.variants:
            for start in _occurrences(text, variant):
                matches.append(_Match(known.kind, variant, start, known.name, known.owners))
    lowered = text.lower()
    for detector, patterns in _guarded_patterns():
        for value in set(_detector_values(detector, patterns, text, lowered)):
            for start in _occurrences(text, value):
                matches.append(_Match(detector.secret_type, value, start))
    return matches


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def _to_finding(text: str, m: _Match, others: Sequence[_Match] = ()) -> Finding:
    line_start = text.rfind("\n", 0, m.start) + 1
    line_end = text.find("\n", m.start)
    line_end = len(text) if line_end < 0 else line_end
    line = text[line_start:line_end]
    for other in sorted((m, *others), key=lambda o: len(o.value), reverse=True):
        line = line.replace(other.value, f"[REDACTED:{other.kind}]")
    col = m.start - line_start
    lo = max(0, col - _SNIPPET // 2)
    snippet = line[lo : lo + _SNIPPET]
    return Finding(m.kind, text.count("\n", 0, m.start) + 1, snippet, m.name, _fingerprint(m.value), m.owners)


def scan_text(text: str, extra_secrets: Iterable[str | KnownSecret] = ()) -> list[Finding]:
    """Findings in ``text`` ordered by line; ``extra_secrets`` are exact values to look for too."""
    found = {(m.kind, m.start): m for m in find_secrets(text, extra_secrets)}
    ordered = sorted(found.values(), key=lambda m: m.start)
    return [_to_finding(text, m, ordered) for m in ordered]


def scan_bytes(data: bytes, extra_secrets: Iterable[str | KnownSecret] = ()) -> list[Finding]:
    # latin-1 maps bytes 1:1, so ASCII secrets are found wherever they sit in binary or UTF-8 data.
    return scan_text(data.decode("latin-1"), extra_secrets)


def redact_text(text: str, extra_secrets: Iterable[str | KnownSecret] = ()) -> tuple[str, list[Finding]]:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``, and what was replaced."""
    matches = find_secrets(text, extra_secrets)
    ordered = sorted(matches, key=lambda m: m.start)
    findings = [_to_finding(text, m, ordered) for m in ordered]
    for m in sorted(matches, key=lambda m: len(m.value), reverse=True):
        text = text.replace(m.value, f"[REDACTED:{m.kind}]")
    return text, findings


class StreamScanner:
    """Scans a body chunk by chunk, keeping an overlap so a secret split across chunks is still seen."""

    def __init__(self, extra_secrets: Sequence[str | KnownSecret] = (), overlap: int = 4096) -> None:
        self._extra = list(extra_secrets)
        self._overlap = overlap
        self._tail = ""
        self._seen: set[tuple[str, str]] = set()
        self.scanned = 0
        self.findings: list[Finding] = []

    def feed(self, chunk: bytes) -> list[Finding]:
        text = self._tail + chunk.decode("latin-1")
        self.scanned += len(chunk)
        new = []
        for finding in scan_text(text, self._extra):
            key = (finding.kind, finding.fingerprint)
            if key not in self._seen:
                self._seen.add(key)
                new.append(finding)
        self._tail = text[-self._overlap :]
        self.findings.extend(new)
        return new
