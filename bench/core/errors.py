"""Errors meant for users (bad files, bad values): the CLI prints them as one line, no traceback."""


class BenchError(Exception):
    """A user-facing error: the message alone must say what is wrong and where."""


class DataError(BenchError):
    """Input data is missing, unreadable, unsafe or inconsistent."""


class ConfigError(BenchError):
    """A configuration or command-line value is not allowed."""
