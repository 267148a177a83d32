"""The ``lake`` command.

Errors: a :class:`~lakelib.errors.LakeError` prints one line on stderr and exits 1; a usage
error exits 2; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import logging
import re
import sys

import typer

# Importing a command module registers its commands on ``app``.
from lakelib.cli import (  # noqa: F401
    _catalog,
    _demo,
    _etl,
    _generate,
    _ingest,
    _ml,
    _query,
    _report,
    _run,
    _status,
)
from lakelib.cli._app import app
from lakelib.errors import LakeError

__all__ = ["app", "main", "run"]

PIPED_HELP_WIDTH = 120

# `lakelib.pipeline._runner` -> `lakelib.pipeline`: modules log under `__name__`, but a log
# line should name the public package a user can import and look up, not a private module.
_PRIVATE_SEGMENT = re.compile(r"\._[^.]*")


class PublicNameFormatter(logging.Formatter):
    """Formats records with private ``._module`` segments dropped from the logger name."""

    def format(self, record: logging.LogRecord) -> str:
        public = _PRIVATE_SEGMENT.sub("", record.name)
        if public == record.name:
            return super().format(record)
        # Another handler may format the same record: give it the name back afterwards.
        original, record.name = record.name, public
        try:
            return super().format(record)
        finally:
            record.name = original


def _setup_logging(debug: bool) -> None:
    """Log to stderr as ``LEVEL public.name: message``, as ``logging.basicConfig`` would
    (which does nothing when the root logger already has handlers, e.g. under pytest)."""
    handler = logging.StreamHandler()
    handler.setFormatter(PublicNameFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    """Run ``lake`` with ``argv`` (default ``sys.argv[1:]``) and return its exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    _setup_logging(debug)
    if not debug:
        # urllib3 logs each retry as a warning; the CLI reports the outcome in one line.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    else:
        # py4j's DEBUG is every message between Python and the JVM (~18,000 lines for one
        # `lake etl`): even --debug wants Spark's and lakelib's logs, not that wire.
        logging.getLogger("py4j").setLevel(logging.INFO)
    # Help piped to a file or `grep` is not cut to click's 80-column fallback ("tables,...").
    width = None if sys.stdout.isatty() else PIPED_HELP_WIDTH
    try:
        result = app(args=args, prog_name="lake", standalone_mode=False, terminal_width=width)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("lake: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:
        # Typer's own usage errors (exit 2) and other command-line exceptions.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"lake: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except LakeError as exc:
        if debug:
            raise
        print(f"lake: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lake: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"lake: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
            "traceback)",
            file=sys.stderr,
        )
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point: ``lake``."""
    sys.exit(main())
