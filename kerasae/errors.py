"""User-facing errors.

Every mistake a user can make (a wrong flag value, a missing file, a bad CSV
cell) raises a subclass of `KerasaeError` whose message is one line that says
what is wrong and what to do. The command-line scripts print that line and
exit with status 2; library callers catch the class.
"""


class KerasaeError(Exception):
    """An error caused by the user's input, with a one-line message."""


class ConfigError(KerasaeError):
    """A configuration value is invalid or conflicts with another."""


class DataError(KerasaeError):
    """A data source is missing, unreadable, or holds values we refuse."""


class WorkdirError(KerasaeError):
    """A workdir holds something that conflicts with the requested run."""


class ExportError(KerasaeError):
    """An export option, folder or existing artifact conflicts."""
