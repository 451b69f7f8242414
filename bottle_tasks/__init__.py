"""claude-bottle: Claude Code agents in sandboxes, each bottle a doit task graph."""
