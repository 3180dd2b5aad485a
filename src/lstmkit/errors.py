"""Errors a user can cause.

Everything raised as a :class:`LstmkitError` is shown by the CLI as one line
(``error: ...``) with a non-zero exit code and no traceback, so the message must
name the file and line, or the key, that is wrong.
"""


class LstmkitError(Exception):
    """Base class of the errors a user can cause (bad file, bad key, bad model folder)."""


class DataError(LstmkitError, ValueError):
    """A data file cannot be read: names the file and the line (1-based) or column."""

    def __init__(self, message: str, path=None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class ConfigError(LstmkitError, ValueError):
    """A configuration key or value is wrong: names the dotted key."""


class ModelFolderError(LstmkitError, ValueError):
    """A model folder is missing, incomplete, or for another task."""


class DataWarning(UserWarning):
    """Something was done to the data that the user should know about (gaps interpolated, an
    illegal tag move read as a new entity). Issued with :func:`warnings.warn`; the CLI prints it as
    one ``warning: ...`` line on stderr."""
