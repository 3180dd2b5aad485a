"""What every verb module of the command line shares: turning user errors into one line and exit
status 2, and the help texts of ``--set``. The verb modules import this, never the app itself
(:mod:`lstmkit.cli`), so the app can import them without a circle."""

from __future__ import annotations

import functools

import typer

from lstmkit.errors import LstmkitError

SET_HELP = ("KEY=VALUE: one setting, e.g. model.hidden_size=256 (repeat --set for more; an unknown key "
            "lists the valid ones; `lstmkit config TASK` explains each).")
DATA_SET_HELP = ("data.KEY=VALUE: read the file with other data settings, e.g. data.text_column=review "
                 "(repeat --set for more); the model itself is unchanged.")


def user_errors(command):
    """Turn user errors into one clear line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LstmkitError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as interrupt:
            typer.echo(f"interrupted{': ' + str(interrupt) if str(interrupt) else ''}", err=True)
            raise typer.Exit(130) from None

    return wrapper
