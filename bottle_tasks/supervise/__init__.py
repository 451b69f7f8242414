"""Supervise: the agent asks, the operator decides, the bottle changes live.

    agent ──MCP (streamable HTTP, internal network only)──> server.py in the sidecars bundle
              egress-block / capability-block ──> queue/<id>.proposal.json   (queue.py, proposals.py)
              list-egress-routes ──> the egress proxy's introspection endpoint
    operator ──doit proposals / approve / deny──> operator.py
              approve: overlay.json (bottle_tasks.overlay) ──> bottle_tasks.live apply ──> <id>.decision.json
              every decision ──> state/<slug>/audit.jsonl (audit.py)
    the blocked tool call reads <id>.decision.json and answers the agent

File formats are JSON Schemas in ``schemas/`` (proposal, decision, overlay,
supervise-config); ``formats.py`` validates against them.
"""
