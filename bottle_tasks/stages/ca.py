"""ca:<agent> — the bottle's egress CA, minted with ``cryptography``.

    plan:A ─> ca:A ──> state/<slug>/ca/{ca.pem, ca-key.pem, mitmproxy-ca.pem}
                         └─file_dep─> render:A, provision:A

Up to date while the files exist, match, and are not within 30 days of expiry.
"""
from __future__ import annotations

import datetime as dt

from .. import paths
from ..actions import action
from .common import dep, per_agent

__all__ = ["task_ca", "ca_dir", "mint"]

DOC = "mint (or reuse while valid) the bottle's egress CA"


def ca_dir(slug: str):
    return paths.state_dir(slug) / "ca"


def mint(slug: str) -> None:
    from ..ca import ensure_ca
    from ..locks import hold_slug_lock
    hold_slug_lock(slug)
    why = ensure_ca(ca_dir(slug), f"claude-bottle {slug} egress CA")
    if why:
        print(f"minted the egress CA for {slug} ({why})")


def ca_is_valid(slug: str) -> bool:
    from ..ca import ca_files, needs_renewal
    files = ca_files(ca_dir(slug))
    if not (files.cert.exists() and files.key.exists() and files.mitmproxy.exists()):
        return False
    return needs_renewal(files.cert.read_bytes(), files.key.read_bytes(),
                         dt.datetime.now(dt.timezone.utc)) is None


def task_ca():
    def task(entry):
        d = ca_dir(entry.name)
        return {"actions": [action(mint, entry.name)], "targets": [str(d / "ca.pem"), str(d / "mitmproxy-ca.pem")],
                "uptodate": [(ca_is_valid, [entry.name])]}
    yield from per_agent("ca", DOC, lambda e: [dep("plan", e)], task)

