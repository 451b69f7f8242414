"""prompt:<agent> — run Claude Code headless (``claude -p``) in the bottle.

    provision:A ─> prompt:A --text "..." [--resume]  ──> state/<slug>/prompts/<time>.txt
"""
from __future__ import annotations

import subprocess
import time

from ..actions import action
from ..errors import BottleError
from ..fsutil import atomic_write
from ..instance import Instance
from .common import dep, per_agent
from .start import session_argv

__all__ = ["task_prompt", "headless"]

DOC = "run the agent headless: claude -p with --text, output saved in the state dir"


def headless(slug: str, text: str = "", resume: bool = False) -> None:
    if not text.strip():
        raise BottleError(f"give the prompt with --text, e.g. doit prompt:{slug} --text \"summarise README.md\"")
    inst = Instance(slug)
    argv = session_argv(slug, [*(["--continue"] if resume else []), "-p", text], tty=False)
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    out_file = inst.dir / "prompts" / f"{time.strftime('%Y%m%dT%H%M%S')}.txt"
    atomic_write(out_file, result.stdout, 0o600)
    print(result.stdout, end="" if result.stdout.endswith("\n") else "\n")
    if result.returncode != 0:
        raise BottleError(f"claude -p in {slug} failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    print(f"(saved to {out_file})")


def task_prompt():
    params = [{"name": "text", "long": "text", "type": str, "default": "", "help": "the prompt"},
              {"name": "resume", "long": "resume", "type": bool, "default": False,
               "help": "continue the bottle's most recent conversation (claude --continue)"}]
    yield from per_agent("prompt", DOC, lambda e: [dep("plan", e), dep("provision", e)],
                         lambda e: {"actions": [action(headless, e.name)], "uptodate": [False], "verbosity": 2},
                         shared={"params": params})

