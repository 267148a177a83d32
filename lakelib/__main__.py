"""``python -m lakelib`` is the ``lake`` command."""

from lakelib.cli import run

run()
