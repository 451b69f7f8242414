"""Code that runs inside the sidecars container, and the layout it shares with the host.

The host renders configs into ``state/<slug>/rendered/`` and mounts them; the
paths below are the contract between the render stage and the daemons.

    /etc/claude-bottle/routes.yaml        egress route table (single-file bind, rewritten in place)
    /etc/claude-bottle/supervisord.conf   which daemons run, as which user
    /etc/claude-bottle/git-gate.json      git gate remotes and push policy
    /etc/claude-bottle/supervise.json     supervise MCP server settings
    /run/claude-bottle/ca/                the bottle CA (read-only; boot copies it for mitmproxy)
    /run/claude-bottle/keys/              git upstream identity files and known_hosts (read-only)
    /var/log/claude-bottle/               daemon logs and egress.jsonl (host: state/<slug>/logs)
    /var/lib/claude-bottle/queue/         supervise proposals/decisions (host: state/<slug>/queue)
    /var/lib/claude-bottle/git/           git gate bare mirrors (named volume)

Daemons (supervisord programs, user ``bottle``):

    egress     mitmdump on :9099 (all interfaces of the bundle; the agent's proxy)
    git-gate   git daemon on :9418
    supervise  MCP server (streamable HTTP) on :9100, bound to the internal-network address only;
               user ``supervise``, empty environment (no tokens)

Hostnames the agent uses (aliases of the bundle on the internal network):
``egress``, ``git-gate``, ``supervise``.
"""
from __future__ import annotations

__all__ = ["ETC", "ROUTES_FILE", "SUPERVISORD_CONF", "GIT_GATE_CONF", "SUPERVISE_CONF", "CA_DIR",
           "KEYS_DIR", "LOG_DIR", "QUEUE_DIR", "GIT_DIR", "EGRESS_PORT", "GIT_GATE_PORT",
           "SUPERVISE_PORT", "DAEMON_USER", "VENV", "DAEMONS", "MITM_ENTRY_LINK", "DAEMON_KEYS_DIR",
           "SUPERVISE_USER"]

ETC = "/etc/claude-bottle"
ROUTES_FILE = f"{ETC}/routes.yaml"
SUPERVISORD_CONF = f"{ETC}/supervisord.conf"
GIT_GATE_CONF = f"{ETC}/git-gate.json"
SUPERVISE_CONF = f"{ETC}/supervise.json"
CA_DIR = "/run/claude-bottle/ca"
KEYS_DIR = "/run/claude-bottle/keys"
LOG_DIR = "/var/log/claude-bottle"
QUEUE_DIR = "/var/lib/claude-bottle/queue"
GIT_DIR = "/var/lib/claude-bottle/git"
EGRESS_PORT = 9099
GIT_GATE_PORT = 9418
SUPERVISE_PORT = 9100
DAEMON_USER = "bottle"
# The MCP server's own user, started with an empty environment: no token reaches it.
SUPERVISE_USER = "supervise"
VENV = "/opt/bottle/venv"
SCHEMAS = "/opt/bottle/schemas"  # $CLAUDE_BOTTLE_SCHEMAS in the sidecars image
# boot links the installed mitm_entry.py here, so the command line does not
# depend on the venv's Python version directory.
MITM_ENTRY_LINK = "/run/claude-bottle/mitm_entry.py"
# boot copies identity files here, owned by the daemon user (the mount is root's).
DAEMON_KEYS_DIR = "/home/bottle/keys"
DAEMONS = {"egress": EGRESS_PORT, "git-gate": GIT_GATE_PORT, "supervise": SUPERVISE_PORT}
