"""Refuse mitmproxy options that would open holes in the egress policy."""
from __future__ import annotations

from mitmproxy import ctx, exceptions

__all__ = ["Hardening"]


class Hardening:
    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if getattr(opts, "ssl_insecure", False):
            raise exceptions.OptionsError(
                "egress: ssl_insecure would send injected credentials to unverified servers; "
                "trust test CAs with ssl_verify_upstream_trusted_ca instead"
            )
        for name in ("ignore_hosts", "allow_hosts", "tcp_hosts", "udp_hosts"):
            if getattr(opts, name, None):
                raise exceptions.OptionsError(f"egress: {name} would let traffic bypass the route checks; unset it")
        if getattr(opts, "stream_large_bodies", None):
            raise exceptions.OptionsError("egress: stream_large_bodies bypasses DLP; the DLP addon decides streaming")
        if any(not m.startswith("regular") for m in getattr(opts, "mode", ["regular"])):
            raise exceptions.OptionsError("egress: only the regular proxy mode is supported")
        # Eager connections would dial a CONNECT target before its requests are checked.
        if getattr(opts, "connection_strategy", "lazy") != "lazy":
            opts.update(connection_strategy="lazy")
