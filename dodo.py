"""claude-bottle task graph: `doit list` shows every stage, `doit start:researcher` runs one."""
from bottle_tasks.tasks import *  # noqa: F401,F403 - dodo.py only gathers the stage tasks
