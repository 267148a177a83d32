"""infra/pulumi/README.md's FSBP control table says what the rule set enforces, no more, no less."""

from __future__ import annotations

import re

from lake_platform import policies
from pulumi_harness import REPO

README = REPO / "infra" / "pulumi" / "README.md"
STATUSES = ("covered", "covered with `detective.enabled`", "not applicable", "accepted risk")


def _table() -> dict[str, tuple[str, str]]:
    text = README.read_text()
    body = text.split("<!-- control-table -->", 1)[1].split("<!-- /control-table -->", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in body.strip().splitlines()[2:]:  # header and separator
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        control, status, why = cells
        assert control not in rows, f"{control} twice in the table"
        rows[control] = (status, why)
    return rows


def test_every_row_has_a_known_status_and_a_reason() -> None:
    for control, (status, why) in _table().items():
        assert status in STATUSES, (control, status)
        assert len(why) >= 10, f"{control}: say why"
        assert re.fullmatch(r"(LAKE\.[A-Za-z0-9-]+|[A-Za-z0-9]+\.\d+)", control), control


def test_covered_rows_are_exactly_the_rules() -> None:
    table = _table()
    covered = {c for c, (status, _) in table.items() if status == "covered"}
    assert covered == {rule.control for rule in policies.RULES}


def test_detective_rows_are_exactly_the_account_rules() -> None:
    table = _table()
    detective = {c for c, (s, _) in table.items() if s == "covered with `detective.enabled`"}
    assert detective == {rule.control for rule in policies.ACCOUNT_RULES}


def test_a_control_not_enforced_is_not_also_a_rule() -> None:
    table = _table()
    rules = {rule.control for rule in policies.RULES + policies.ACCOUNT_RULES}
    elsewhere = {c for c, (s, _) in table.items() if s in ("not applicable", "accepted risk")}
    assert not elsewhere & rules
