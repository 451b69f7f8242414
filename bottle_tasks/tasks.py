"""The whole task graph in one namespace, for dodo.py and the ``bottle`` script."""
from __future__ import annotations

from .graph import doit_config
from .stages.common import answers_unknown_agents
from .stages.build import task_build
from .stages.ca import task_ca
from .stages.doctor import task_doctor
from .stages.lifecycle import task_active, task_cleanup
from .stages.logs import task_logs
from .stages.pack import task_pack
from .stages.plan import task_plan
from .stages.prompt import task_prompt
from .stages.push import task_push
from .stages.provision import task_provision
from .stages.render import task_render
from .stages.save import task_save
from .stages.shell import task_shell
from .stages.start import task_start
from .stages.stop import task_stop
from .stages.supervise import task_approve, task_deny, task_proposals
from .stages.up import task_up

__all__ = [
    "DOIT_CONFIG", "task_active", "task_build", "task_ca", "task_cleanup", "task_doctor", "task_logs", "task_pack", "task_plan",
    "task_prompt", "task_push", "task_provision", "task_render", "task_save", "task_shell", "task_start", "task_stop",
    "task_up",
    "task_proposals", "task_approve", "task_deny",
]

DOIT_CONFIG = doit_config()

# Stages with one subtask per agent: `doit start:nobody` says which agents there are.
(task_build, task_ca, task_logs, task_pack, task_plan, task_prompt, task_push, task_provision, task_render,
 task_save, task_shell, task_start, task_stop, task_up) = map(answers_unknown_agents, (
    task_build, task_ca, task_logs, task_pack, task_plan, task_prompt, task_push, task_provision, task_render,
    task_save, task_shell, task_start, task_stop, task_up))
