"""What every verb module of the command line shares: turning user errors into one line and exit
status 2, the help texts of ``--set``, and the options that training commands (``train``,
``pretrain``, ``tune``) have in common. The verb modules import this, never the app itself
(:mod:`lstmkit.cli`), so the app can import them without a circle."""

from __future__ import annotations

import functools
import typing

import typer

from lstmkit.errors import LstmkitError

SET_HELP = ("KEY=VALUE: one setting, e.g. model.hidden_size=256 (repeat --set for more; an unknown key "
            "lists the valid ones; `lstmkit config TASK` explains each).")
DATA_SET_HELP = ("data.KEY=VALUE: read the file with other data settings, e.g. data.text_column=review "
                 "(repeat --set for more); the model itself is unchanged.")


def config_option(help: str = "YAML file of settings.") -> typing.Any:
    """``--config FILE.yaml``."""
    return typer.Option(None, "--config", metavar="FILE.yaml", help=help)


def set_option(help: str = SET_HELP) -> typing.Any:
    """``--set KEY=VALUE`` (repeatable)."""
    return typer.Option(None, "--set", metavar="KEY=VALUE", help=help)


def epochs_option() -> typing.Any:
    """``--epochs N``: a shortcut for ``--set train.epochs=N``."""
    return typer.Option(None, "--epochs", metavar="N", help="Shortcut for --set train.epochs=N.")


def seed_option() -> typing.Any:
    """``--seed N``: a shortcut for ``--set train.seed=N``."""
    return typer.Option(None, "--seed", metavar="N", help="Shortcut for --set train.seed=N.")


def device_option() -> typing.Any:
    """``--device auto|cpu|cuda``: a shortcut for ``--set train.device=...``."""
    return typer.Option(None, "--device", metavar="auto|cpu|cuda", help="Where to train.")


def with_shortcuts(overrides: list[str] | None, **shortcuts) -> list[str]:
    """The ``--set`` items followed by ``train.KEY=VALUE`` for each shortcut option given
    (``epochs=3`` -> ``train.epochs=3``); later items win, so a shortcut beats a ``--set``."""
    settings = list(overrides or [])
    settings += [f"train.{key}={value}" for key, value in shortcuts.items() if value is not None]
    return settings


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
