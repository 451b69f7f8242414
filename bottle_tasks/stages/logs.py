"""logs:<agent> — what a bottle has been doing: its containers' logs and the proxy's decisions.

    logs:A [--follow] [--tail N]  (docker: compose logs; the last egress decisions from logs/egress.jsonl)
"""
from __future__ import annotations

import json

from ..actions import action
from ..compose import run_compose
from ..errors import BottleError
from ..instance import Instance
from .common import per_agent

__all__ = ["task_logs", "show_logs"]

DOC = "show a bottle's container logs and its latest egress decisions (--follow, --tail N)"


def _decision_line(record: dict) -> str:
    if "event" in record:
        return f"{record.get('time', '')} {record['event']} ok={record.get('ok')} {record.get('error') or ''}".rstrip()
    return (f"{record.get('time', '')} {record.get('decision', '?'):5} {record.get('method', '')} "
            f"{record.get('host', '')}{record.get('path', '')}  {record.get('reason') or ''}").rstrip()


def show_logs(slug: str, follow: bool = False, tail: int = 50) -> None:
    inst = Instance(slug)
    decisions = inst.logs / "egress.jsonl"
    if decisions.exists():
        lines = decisions.read_text(errors="replace").splitlines()[-tail:]
        print(f"== egress decisions ({decisions}, last {len(lines)})")
        for line in lines:
            try:
                print(_decision_line(json.loads(line)))
            except ValueError:
                continue
    if not inst.compose_file.exists():
        raise BottleError(f"{slug} has never been started; run `doit start:{slug}`")
    print(f"== containers of {inst.project}", flush=True)
    args = ["logs", "--no-color", "--tail", str(tail)] + (["--follow"] if follow else [])
    run_compose(inst.project, inst.compose_file, *args, check=False)


def task_logs():
    params = [{"name": "follow", "short": "f", "long": "follow", "type": bool, "default": False,
               "help": "keep printing new container log lines"},
              {"name": "tail", "long": "tail", "type": int, "default": 50, "help": "lines of history"}]
    yield from per_agent("logs", DOC, lambda e: [],
                         lambda e: {"actions": [action(show_logs, e.name)], "uptodate": [False], "verbosity": 2},
                         shared={"params": params})
