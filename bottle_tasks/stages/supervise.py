"""proposals, approve, deny — the operator's answers to the agents' supervise requests.

    agent ─egress-block / capability-block─> state/<slug>/queue/<id>.proposal.json
    proposals [--all]                        : pending proposals of every bottle (--all: decided history too)
    approve --id ID [--note T] [--edit]      : overlay.json + live apply ─> <id>.decision.json ─> agent
    deny --id ID --reason T                  : <id>.decision.json ─> agent
                                               every decision ─> state/<slug>/audit.jsonl

Global tasks (no per-agent subtasks): a proposal id names its bottle.
"""
from __future__ import annotations

from ..actions import action

__all__ = ["task_proposals", "task_approve", "task_deny"]

ID_PARAM = {"name": "proposal_id", "long": "id", "type": str, "default": "",
            "help": "the proposal's id as `doit proposals` shows it (SLUG/ID when ids collide)"}


def list_proposals(all: bool = False) -> None:  # noqa: A002 - doit option name
    from ..supervise import operator
    operator.show(all=all)


def approve_proposal(proposal_id: str = "", note: str = "", edit: bool = False) -> None:
    from ..supervise import operator
    operator.approve(proposal_id, note=note or None, edit=edit)


def deny_proposal(proposal_id: str = "", reason: str = "") -> None:
    from ..supervise import operator
    operator.deny(proposal_id, reason)


def task_proposals():
    """list pending supervise proposals of every bottle (--all: decided history too)"""
    return {
        "actions": [action(list_proposals)],
        "params": [{"name": "all", "long": "all", "type": bool, "default": False,
                    "help": "also show decided proposals from the audit logs"}],
        "uptodate": [False],
        "verbosity": 2,
    }


def task_approve():
    """approve a supervise proposal and apply it live (--id ID [--note TEXT] [--edit])"""
    return {
        "actions": [action(approve_proposal)],
        "params": [
            ID_PARAM,
            {"name": "note", "long": "note", "type": str, "default": "",
             "help": "a note the agent reads with the approval"},
            {"name": "edit", "long": "edit", "type": bool, "default": False,
             "help": "open $EDITOR on the request before approving it"},
        ],
        "uptodate": [False],
        "verbosity": 2,
    }


def task_deny():
    """deny a supervise proposal, telling the agent why (--id ID --reason TEXT)"""
    return {
        "actions": [action(deny_proposal)],
        "params": [
            ID_PARAM,
            {"name": "reason", "long": "reason", "type": str, "default": "",
             "help": "why, in a sentence the agent can act on"},
        ],
        "uptodate": [False],
        "verbosity": 2,
    }
