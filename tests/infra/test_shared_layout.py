"""lakelib and the Pulumi program share one file of names (``lakelib/layout.toml``).

Both sides read it; these tests fail when a copy of one of its names is written into the
program as a literal (where it could drift from where lakelib reads and writes).
"""

from __future__ import annotations

import ast
from pathlib import Path

from lake_platform import layout

from lakelib.config import AWS_CONFIG_KEY, AWS_ZONE_LAYOUT, Zone
from lakelib.config._layout import placeholder, shared_layout
from lakelib.etl._jobs import ETL_JOBS

PROGRAM = Path(layout.__file__).resolve().parents[1]


def test_both_sides_read_the_same_layout() -> None:
    assert {zone.value: AWS_ZONE_LAYOUT[zone] for zone in Zone} == layout.ZONES
    assert layout.CONFIG_KEY == AWS_CONFIG_KEY
    assert (
        layout.LAYOUT_FILE.read_text()
        == (Path(__import__("lakelib").__file__).parent / "layout.toml").read_text()
    )
    for job in ETL_JOBS.values():
        assert job.placeholder == "${" + layout.placeholder_name("glue_job", name=job.name) + "}"
    assert placeholder("crawler", zone="raw") == "${crawler_raw}"


def _shared_literals() -> tuple[set[str], set[str]]:
    """(prefixes and keys of the layout, the fixed heads of its placeholder patterns)."""
    data = shared_layout()
    names = {str(z["prefix"]) for z in data["zones"].values() if z["prefix"]}
    names |= {str(value) for value in data["scripts"].values()}
    heads = {str(pattern).split("{", 1)[0] for pattern in data["placeholders"].values()}
    return names, heads


def _copies(path: Path, names: set[str], heads: set[str]) -> list[str]:
    tree = ast.parse(path.read_text())
    skipped = {  # docstrings, and the pieces of f-strings (the f-string is checked whole)
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    } | {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            text = first.value if isinstance(first, ast.Constant) else ""
            if isinstance(text, str) and (any(text.startswith(n) for n in names) or text in heads):
                found.append(f"{path.name}:{node.lineno}: f{text!r}...")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
            and any(node.value.startswith(n) for n in names)
        ):
            found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    return found


def test_the_program_names_shared_prefixes_only_through_the_layout() -> None:
    names, heads = _shared_literals()
    sources = [PROGRAM / "__main__.py", *sorted((PROGRAM / "lake_platform").glob("*.py"))]
    copies = [
        line for path in sources if path.name != "layout.py" for line in _copies(path, names, heads)
    ]
    assert copies == [], "use lake_platform.layout instead of these literals"
