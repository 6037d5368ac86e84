"""The ``mlcost`` command line. Each sub-command lives in a sibling module exposing
``register(subparsers)``, which adds its parser and sets ``handler`` (args -> exit code).

Bad flags or values get one line on stderr (``mlcost: error: ...``) and exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from .._version import __version__
from ..errors import InvalidParameterError, MlcostError

# module names in this package, in help order
COMMANDS = ("estimate", "report", "idle", "anomalies")


class UsageError(Exception):
    """A command line argparse rejected."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)  # one line, not argparse's usage dump


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlcost", description="What ML training, inference and LLM calls cost.")
    parser.add_argument("--version", action="version", version=f"mlcost-sdk {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Every option's destination -> its long flag, across all sub-commands."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for dest, flag in _flags(sub).items():
                    found.setdefault(dest, flag)
        elif action.option_strings:
            found.setdefault(action.dest, max(action.option_strings, key=len))
    return found


def _in_flag_terms(e: InvalidParameterError, parser: argparse.ArgumentParser) -> str:
    """The error as the user typed it: ``--gpu-hour-usd``, not ``gpu_hour_usd``."""
    flag = _flags(parser).get(e.parameter)
    if flag is None:
        return str(e)
    if e.value is None:
        return f"{flag} is missing: it must be {e.allowed}"
    return f"{flag}={e.value!r} is invalid: must be {e.allowed}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            raise UsageError("a command is required (see mlcost --help)")
        return int(handler(args))
    except (UsageError, MlcostError, ValueError) as e:
        message = _in_flag_terms(e, parser) if isinstance(e, InvalidParameterError) else str(e)
        print("mlcost: error: " + " ".join(message.split()), file=sys.stderr)
        return 2
    except (OverflowError, RecursionError) as e:  # an input beyond what the arithmetic holds
        print("mlcost: error: an input is out of range (" + " ".join(str(e).split()) + ")",
              file=sys.stderr)
        return 2
    except SystemExit as e:  # --help and --version exit through argparse
        return e.code if isinstance(e.code, int) else 0
