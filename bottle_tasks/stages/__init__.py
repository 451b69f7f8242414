"""One module per stage of the bottle task graph; each yields ``<stage>:<agent>`` subtasks."""
