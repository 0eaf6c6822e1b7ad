"""Specific exceptions: the CLI turns each into one error line naming the problem and exit code 2."""


class SessrecError(Exception):
    """Base class for every error the CLI reports to the user without a traceback."""


class DataError(SessrecError):
    """Input data is missing, malformed or empty; the message names the file and the problem."""


class RunDirError(SessrecError):
    """A run directory is missing, incomplete, or would be overwritten."""


class ConfigError(SessrecError):
    """A hyperparameter or option has an invalid value."""
