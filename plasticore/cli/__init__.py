"""The ``plasticore`` command line.

Every user-facing job is a subcommand; the Makefile targets are thin wrappers over these.
One module per group of subcommands (``network``: train, eval, config check; ``rtl``:
generate, cosim, sim; ``board``: board run | fuzz | serve, synth, bitstream; ``bench``;
``explore``; ``interchange``: nir import | export), each adding its own with
``add_commands``; ``common`` holds what they share.
User errors (bad config, dataset path, weights file, arguments) print one line,
``plasticore: error: ...``, and exit with status 2; nothing else is written.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..config import ConfigError
from ..files import OutputError
from . import bench, board, explore, interchange, network, rtl
from .common import Parser, RunFailed, UserError

__all__ = ["main", "build_parser", "UserError", "Terminated"]


def build_parser() -> Parser:
    parser = Parser(prog="plasticore", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"plasticore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in (network, interchange, rtl, board, bench, explore):
        group.add_commands(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that it unwinds as on Ctrl-C: worker pools
    stopped, temporary files removed (``plasticore.files.replacing``)."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return int(args.func(args))
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"plasticore: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        return 1
    except (UserError, ConfigError, OutputError) as exc:
        return _user_error(exc)
    except RunFailed as exc:
        print(f"plasticore: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        # Dataset, weights-file and other input checks raise ValueError subclasses.
        from ..golden.datasets import DatasetError
        from ..golden.train import WeightsError

        if isinstance(exc, DatasetError | WeightsError):
            return _user_error(exc)
        raise
    except OSError as exc:
        return _user_error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _user_error(exc: object) -> int:
    message = " ".join(str(exc).split())
    print(f"plasticore: error: {message}", file=sys.stderr)
    return 2
