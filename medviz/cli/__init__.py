"""`python -m medviz ...`: train, score, evaluate, users, audit, explain. Errors print one line and exit non-zero.

One module per command (``medviz/cli/<command>.py``), each with ``add_parser(subparsers)`` registering its
arguments and handler (``set_defaults(func=...)``). A new command is a new module listed in ``COMMANDS``;
a new option of a command goes in that command's ``add_parser``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from medviz.cli import audit, calibrate, evaluate, explain, importer, score, train, users
from medviz.cli.common import EXIT_ERROR, EXIT_USAGE  # noqa: F401
from medviz.cli.evaluate import format_evaluation  # noqa: F401
from medviz.errors import MedvizError

from medviz.text.synth import command as synth  # noqa: E402  (python -m medviz synth; lives beside the generator)

COMMANDS = (train, calibrate, score, evaluate, users, audit, explain, importer, synth)


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")



def _stale(exc: BaseException) -> str:
    """The note a failed run adds when it moved an earlier output aside (medviz.io.OutputTarget)."""
    stale = getattr(exc, "stale_output", None)
    return f"; the earlier output there was renamed to {stale} so it is not taken for this run's result" if stale else ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m medviz", description="medviz: train, score and evaluate clinical models")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr (never patient data)")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except MedvizError as exc:
        print(f"error: {exc}{_stale(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        print(f"error: interrupted{_stale(exc)}", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # never a traceback for the user; -v logs it
        logging.getLogger("medviz.cli").debug("unexpected failure", exc_info=True)
        print(f"error: unexpected failure ({type(exc).__name__}: {exc}); rerun with -v for details", file=sys.stderr)
        return EXIT_ERROR
