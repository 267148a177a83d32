"""The sample generator: determinism, manifest reconciliation, dirt rates and the signal."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakelib.errors import InvalidNameError, ValidationError
from lakelib.samples import (
    DIRT_KINDS,
    SOURCES,
    DirtRates,
    GeneratorSpec,
    generate,
    generate_all,
    read_manifest,
)

SMALL = GeneratorSpec(start=dt.date(2026, 1, 1), days=4, rows_per_day=200, seed=7)
# High enough that every kind occurs many times in a few thousand records.
DIRTY = DirtRates(
    exact_duplicate=0.05,
    corrected_resend=0.05,
    moved_resend=0.4,
    null_required=0.03,
    negative_amount=0.03,
    absurd_amount=0.02,
    string_amount=0.1,
    bad_date=0.03,
    malformed_json=0.03,
    late_arriving=0.1,
    unknown_customer=0.05,
    channel_from=0.5,
)
REQUIRED = ("id", "date", "amount", "customer_id", "product_id")


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Cleaned:
    """What an independent, straightforward cleaner finds in the sales files."""

    lines: int = 0
    malformed: int = 0
    null_required: int = 0
    negative: int = 0
    absurd: int = 0
    bad_date: int = 0
    exact_duplicates: int = 0
    resends: int = 0
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> latest record
    first: dict[str, tuple[int, str, dict[str, Any]]] = field(default_factory=dict)
    channel_files: list[int] = field(default_factory=list)  # lines with channel per file
    parsed_files: list[int] = field(default_factory=list)  # parsed lines per file


def parse_date(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return None


def clean_sales(folder: Path) -> Cleaned:
    result = Cleaned()
    for index, path in enumerate(sorted(folder.glob("sales_*.jsonl"))):
        channel_lines = parsed = 0
        for line in path.read_text().splitlines():
            result.lines += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                result.malformed += 1
                continue
            parsed += 1
            channel_lines += "channel" in record
            if any(record.get(name) is None for name in REQUIRED):
                result.null_required += 1
                continue
            if parse_date(record["date"]) is None:
                result.bad_date += 1
                continue
            amount = float(record["amount"])
            if amount < 0:
                result.negative += 1
                continue
            if amount >= 1_000_000:
                result.absurd += 1
                continue
            sale_id = record["id"]
            if sale_id not in result.first:
                result.first[sale_id] = (index, line, record)
            elif line == result.first[sale_id][1]:
                result.exact_duplicates += 1
            else:
                result.resends += 1
                earlier_file = result.first[sale_id][0]
                assert index > earlier_file, f"re-send of {sale_id} is not in a later file"
                assert record["amount"] != result.first[sale_id][2]["amount"]
            result.kept[sale_id] = record
        result.channel_files.append(channel_lines)
        result.parsed_files.append(parsed)
    return result


@pytest.fixture(scope="module")
def dirty_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    spec = GeneratorSpec(days=8, rows_per_day=300, seed=3, rates=DIRTY)
    generate_all(out, spec)
    return out


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path: Path) -> None:
    generate_all(tmp_path / "a", SMALL)
    generate_all(tmp_path / "b", SMALL)
    first, second = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert sorted(first) == [
        "customers/customers.csv",
        "manifest.json",
        "products/products.csv",
        *(f"sales/sales_2026010{d}.jsonl" for d in range(1, 5)),
    ]
    assert first == second
    other = GeneratorSpec(start=SMALL.start, days=4, rows_per_day=200, seed=8)
    generate_all(tmp_path / "c", other)
    third = tree(tmp_path / "c")
    for name in first:
        assert third[name] != first[name], name


def test_sales_alone_equal_sales_written_with_the_others(tmp_path: Path) -> None:
    generate_all(tmp_path / "all", SMALL)
    entry = generate("sales", tmp_path / "one", SMALL)
    alone = tree(tmp_path / "one")
    assert alone.keys() == {"manifest.json", *entry["file_lines"]}
    for name in entry["file_lines"]:
        assert alone[name] == (tmp_path / "all" / name).read_bytes()


def test_manifest_reconciles_with_the_files(dirty_out: Path) -> None:
    manifest = read_manifest(dirty_out)
    entry = manifest["sales"]
    dirt = entry["dirt"]
    assert set(dirt) == set(DIRT_KINDS)
    assert all(count > 0 for count in dirt.values()), dirt
    found = clean_sales(dirty_out / "sales")

    assert entry["files"] == 8 == len(list((dirty_out / "sales").iterdir()))
    assert found.lines == entry["lines"] == sum(entry["file_lines"].values())
    assert found.malformed == entry["malformed_lines"] == dirt["malformed_json"]
    assert found.null_required == dirt["null_required"]
    assert found.bad_date == dirt["bad_date"]
    assert found.negative == dirt["negative_amount"]
    assert found.absurd == dirt["absurd_amount"]
    assert found.exact_duplicates == dirt["exact_duplicate"]
    assert found.resends == dirt["corrected_resend"]
    assert len(found.kept) == entry["valid_unique_ids"]
    rejected = found.malformed + found.null_required + found.bad_date + found.negative
    assert rejected + found.absurd == entry["rejected"]
    assert found.exact_duplicates + found.resends == entry["duplicate_lines"]
    # rows_in = rows_out + quarantined + duplicates_removed
    assert (
        entry["lines"] == entry["valid_unique_ids"] + entry["rejected"] + entry["duplicate_lines"]
    )
    assert entry["base_records"] == entry["valid_unique_ids"] + entry["rejected"]

    total = sum(Decimal(str(record["amount"])) for record in found.kept.values())
    assert str(total) == entry["valid_amount_total"]

    first_lines = [record for _, _, record in found.first.values()]
    assert sum(isinstance(r["amount"], str) for r in first_lines) == dirt["string_amount"]
    start = dt.date.fromisoformat(entry["start"])
    late = 0
    for sale_id, (index, _, record) in found.first.items():
        event_day = (parse_date(record["date"]).date() - start).days  # type: ignore[union-attr]
        assert 0 <= event_day <= index, sale_id
        assert index - event_day <= 7
        late += index > event_day
    assert late == dirt["late_arriving"]

    customers = {row["customer_id"] for row in read_csv(dirty_out / "customers/customers.csv")}
    unknown = {i for i, r in found.kept.items() if r["customer_id"] not in customers}
    assert len(unknown) == dirt["unknown_customer"]
    known_buyers = {r["customer_id"] for r in found.kept.values()} & customers
    assert len(known_buyers) == entry["customers_referenced"]

    # Moved re-sends: the first version is dated "from", the kept one "to" (same time of day).
    assert len(entry["moved"]) == dirt["moved_resend"]
    for sale_id, move in entry["moved"].items():
        first, kept = found.first[sale_id][2]["date"], found.kept[sale_id]["date"]
        assert (first[:10], kept[:10]) == (move["from"], move["to"]) and first[10:] == kept[10:]
        shift = dt.date.fromisoformat(move["to"]) - dt.date.fromisoformat(move["from"])
        assert 1 <= abs(shift.days) <= 3
    moved_dates = sum(
        found.first[i][2]["date"][:10] != r["date"][:10] for i, r in found.kept.items()
    )
    assert moved_dates == dirt["moved_resend"]


def test_moved_resends_leave_every_other_line_as_it_was(tmp_path: Path) -> None:
    """The default rate (0) writes what generators before it wrote; any other rate changes
    only the dates of some corrected re-sends."""
    plain = generate("sales", tmp_path / "plain", GeneratorSpec(days=6, rows_per_day=300, seed=3))
    moving = DirtRates().replace(corrected_resend=0.05, moved_resend=0.5)
    still = DirtRates().replace(corrected_resend=0.05)
    a = generate(
        "sales", tmp_path / "a", GeneratorSpec(days=6, rows_per_day=300, seed=3, rates=still)
    )
    b = generate(
        "sales", tmp_path / "b", GeneratorSpec(days=6, rows_per_day=300, seed=3, rates=moving)
    )
    assert plain["moved"] == a["moved"] == {} and len(b["moved"]) == b["dirt"]["moved_resend"] > 0
    changed = []
    for name in a["file_lines"]:
        before = (tmp_path / "a" / name).read_text().splitlines()
        after = (tmp_path / "b" / name).read_text().splitlines()
        changed += [(x, y) for x, y in zip(before, after, strict=True) if x != y]
    assert len(changed) == len(b["moved"])
    for x, y in changed:
        assert json.loads(x)["id"] in b["moved"]
        assert x.replace(json.loads(x)["date"], json.loads(y)["date"]) == y


def test_channel_appears_from_the_stated_day(dirty_out: Path) -> None:
    entry = read_manifest(dirty_out)["sales"]
    assert entry["channel_from_date"] == "2026-01-05"  # 0.5 of 8 days
    found = clean_sales(dirty_out / "sales")
    assert found.channel_files[:4] == [0, 0, 0, 0]
    files = sorted((dirty_out / "sales").glob("sales_*.jsonl"))
    for index in range(4, 8):
        previous = set(files[index - 1].read_text().splitlines())
        for line in files[index].read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            # Only a verbatim duplicate of the day before may lack the new field.
            assert "channel" in record or line in previous, line
            if "channel" in record:
                assert record["channel"] in {"web", "store", "mobile"}
    assert sum(found.channel_files[4:]) > 0.95 * sum(found.parsed_files[4:])


def test_clean_rates_give_no_dirt(tmp_path: Path) -> None:
    spec = GeneratorSpec(days=5, rows_per_day=200, seed=1, rates=DirtRates.clean())
    entry = generate("sales", tmp_path, spec)
    assert set(entry["dirt"].values()) == {0}
    assert entry["lines"] == entry["base_records"] == entry["valid_unique_ids"]
    assert entry["rejected"] == entry["duplicate_lines"] == 0
    assert entry["channel_from_date"] == "2026-01-01"
    found = clean_sales(tmp_path / "sales")
    assert len(found.kept) == found.lines == entry["lines"]
    for path in sorted((tmp_path / "sales").glob("*.jsonl")):
        day = path.stem.split("_")[1]
        for line in path.read_text().splitlines():
            record = json.loads(line)
            assert set(record) == {*REQUIRED, "channel"}
            assert record["date"][:10].replace("-", "") == day
            assert isinstance(record["amount"], float) and 0 < record["amount"] < 100_000


def test_rates_scale_the_dirt_and_leave_reference_data_alone(tmp_path: Path) -> None:
    low = GeneratorSpec(days=4, rows_per_day=400, seed=2, rates=DirtRates(malformed_json=0.01))
    high = GeneratorSpec(days=4, rows_per_day=400, seed=2, rates=DirtRates(malformed_json=0.2))
    few = generate_all(tmp_path / "low", low)
    many = generate_all(tmp_path / "high", high)
    assert many["sales"]["dirt"]["malformed_json"] > 5 * few["sales"]["dirt"]["malformed_json"]
    # around 20 % of ~1,600 records
    assert 0.15 < many["sales"]["dirt"]["malformed_json"] / many["sales"]["base_records"] < 0.25
    for name in ("customers/customers.csv", "products/products.csv"):
        assert (tmp_path / "low" / name).read_bytes() == (tmp_path / "high" / name).read_bytes()


def test_reference_tables(tmp_path: Path) -> None:
    spec = GeneratorSpec(days=10, rows_per_day=300, seed=5, rates=DirtRates.clean())
    generate_all(tmp_path, spec)
    customers = read_csv(tmp_path / "customers/customers.csv")
    products = read_csv(tmp_path / "products/products.csv")
    assert len(customers) == 600 and len(products) == 20
    assert len({c["customer_id"] for c in customers}) == 600
    assert {c["region"] for c in customers} == {"north", "south", "east", "west", "central"}
    assert {c["segment"] for c in customers} == {"consumer", "corporate", "small_business"}
    assert all(float(p["unit_price"]) > 0 for p in products)
    signup = {c["customer_id"]: dt.date.fromisoformat(c["signup_date"]) for c in customers}
    assert any(day >= spec.start for day in signup.values())  # some sign up during the period
    price = {p["product_id"]: Decimal(p["unit_price"]) for p in products}
    for record in clean_sales(tmp_path / "sales").kept.values():
        # Nobody buys before signing up; the amount is unit price x quantity 1..5.
        assert parse_date(record["date"]).date() > signup[record["customer_id"]]  # type: ignore[union-attr]
        quantity = Decimal(str(record["amount"])) / price[record["product_id"]]
        assert quantity == quantity.to_integral_value() and 1 <= quantity <= 5


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    pos, neg = scores[labels], scores[~labels]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def test_history_predicts_buying_in_the_next_30_days(tmp_path: Path) -> None:
    spec = GeneratorSpec(days=90, rows_per_day=300, seed=11, rates=DirtRates.clean())
    generate_all(tmp_path, spec)
    customers = read_csv(tmp_path / "customers/customers.csv")
    index = {c["customer_id"]: i for i, c in enumerate(customers)}
    cutoff = spec.start + dt.timedelta(days=60)
    before = np.zeros(len(customers))
    after = np.zeros(len(customers), dtype=bool)
    for record in clean_sales(tmp_path / "sales").kept.values():
        day = dt.date.fromisoformat(record["date"][:10])
        if day < cutoff:
            before[index[record["customer_id"]]] += 1
        else:
            after[index[record["customer_id"]]] = True
    known = np.array([dt.date.fromisoformat(c["signup_date"]) < cutoff for c in customers])
    before, after = before[known], after[known]
    assert 0.3 < after.mean() < 0.95  # a label worth predicting
    frequent = before > np.median(before)
    assert after[frequent].mean() - after[~frequent].mean() > 0.25
    assert auc(before, after) >= 0.72


def test_unknown_or_unsafe_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="sales, customers, products"):
        generate("nosuch", tmp_path, SMALL)
    with pytest.raises(InvalidNameError):
        generate("../x", tmp_path, SMALL)
    assert not any(tmp_path.iterdir())
    assert SOURCES == ("sales", "customers", "products")


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"bad_date": 1.5}, "between 0 and 1"),
        ({"malformed_json": -0.1}, "between 0 and 1"),
        ({"null_required": 0.6, "bad_date": 0.6}, "at most 1"),
        ({"string_amount": "0.1"}, "must be a number"),
    ],
)
def test_rates_are_validated(rates: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DirtRates(**rates)


def test_replace_refuses_unknown_kinds() -> None:
    assert DirtRates().replace(bad_date=0.2).bad_date == 0.2
    with pytest.raises(ValidationError, match="unknown dirt kind bad_dates"):
        DirtRates().replace(bad_dates=0.2)


def test_spec_from_config_with_overrides() -> None:
    section = {"seed": 9, "start": "2026-02-01", "days": 10, "rows_per_day": 50}
    spec = GeneratorSpec.from_config(section, days=3, seed=None)
    assert (spec.seed, spec.start, spec.days, spec.rows_per_day) == (
        9,
        dt.date(2026, 2, 1),
        3,
        50,
    )
    assert GeneratorSpec.from_config({}) == GeneratorSpec()
    with pytest.raises(ValidationError, match="days"):
        GeneratorSpec(days=0)


def test_manifest_merges_sources_and_reruns_drop_stale_files(tmp_path: Path) -> None:
    generate("sales", tmp_path, GeneratorSpec(days=5, rows_per_day=100))
    generate("customers", tmp_path, GeneratorSpec(days=3, rows_per_day=100))
    assert set(read_manifest(tmp_path)) == {"sales", "customers"}
    entry = generate("sales", tmp_path, GeneratorSpec(days=3, rows_per_day=100))
    assert len(list((tmp_path / "sales").iterdir())) == 3 == entry["files"]
    manifest = read_manifest(tmp_path)
    assert manifest["sales"]["days"] == 3 and manifest["customers"]["rows"] == 200
