"""Exit codes shared by the commands."""

EXIT_USAGE = 2
EXIT_ERROR = 1
