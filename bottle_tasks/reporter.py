"""doit console reporter that shows user mistakes as sentences, bugs as tracebacks."""
from __future__ import annotations

from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter

__all__ = ["BottleReporter", "UserError"]


class UserError(TaskFailed):
    """A failure caused by input the user can fix; shown without a traceback."""


class BottleReporter(ConsoleReporter):
    desc = "claude-bottle console output"

    def _write_failure(self, result, write_exception=True):
        fail = result["exception"]
        if isinstance(fail, UserError):
            self.write(f"error ({result['task'].name}): {fail.message}\n")
            return
        super()._write_failure(result, write_exception)

    def complete_run(self):
        # The sentence was already written by add_failure; doit would repeat the
        # task's captured output under a banner, which for a user error is noise.
        self.failures = [f for f in self.failures if not isinstance(f["exception"], UserError)]
        super().complete_run()
