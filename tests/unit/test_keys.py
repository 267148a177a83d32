from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from lakelib.errors import InvalidNameError, ValidationError
from lakelib.storage import (
    RawKey,
    clean_key,
    date_partition,
    parse_partition_path,
    partition_path,
    validate_name,
)

WHEN = datetime(2024, 1, 5, 2, 3, 4, tzinfo=UTC)


def test_raw_key_matches_design_format() -> None:
    key = RawKey("sales", WHEN)
    assert key.key == "raw/sales/year=2024/month=01/day=05/sales_20240105_020304.json.gz"
    assert key.relative == "sales/year=2024/month=01/day=05/sales_20240105_020304.json.gz"
    assert RawKey("sales", WHEN, seq=7).filename == "sales_20240105_020304_00007.json.gz"


def test_raw_key_round_trips_with_and_without_zone() -> None:
    for key in (RawKey("sales", WHEN), RawKey("sales_eu", WHEN, seq=12)):
        assert RawKey.parse(key.key) == key
        assert RawKey.parse(key.relative) == key


def test_raw_key_normalises_time_to_utc_seconds() -> None:
    local = datetime(2024, 1, 5, 23, 30, 0, 999, tzinfo=timezone(timedelta(hours=-5)))
    key = RawKey("sales", local)
    # 23:30 at UTC-5 is the next day in UTC: the partition follows UTC.
    assert key.partition == {"year": "2024", "month": "01", "day": "06"}
    assert key.filename == "sales_20240106_043000.json.gz"


def test_tagged_raw_key_keeps_microseconds_and_sorts_by_landing_time() -> None:
    at = WHEN.replace(microsecond=5)
    key = RawKey("sales", at, tag="00ff00ff")
    assert key.filename == "sales_20240105_020304_000005_00ff00ff.json.gz"
    assert RawKey.parse(key.key) == key and RawKey.parse(key.key).landed_at == at
    part = RawKey("sales_eu", at, seq=3, tag="abcdef01")
    assert part.filename == "sales_eu_20240105_020304_000005_abcdef01_00003.json.gz"
    assert RawKey.parse(part.relative) == part
    # Names sort as their landing times do; an old (second) name sorts before new ones of
    # its second, and microsecond 1 of a tagged name before a tag drawn lower later on.
    names = [
        RawKey("sales", WHEN).filename,
        RawKey("sales", WHEN.replace(microsecond=1), tag="ffffffff").filename,
        RawKey("sales", WHEN.replace(microsecond=999_999), tag="00000000").filename,
        RawKey("sales", WHEN.replace(second=5)).filename,
        RawKey("sales", WHEN.replace(second=5, microsecond=2), tag="00000000").filename,
    ]
    assert sorted(names) == names
    with pytest.raises(ValidationError, match="8 hex digits"):
        RawKey("sales", WHEN, tag="Z0000000")


@pytest.mark.parametrize(
    "bad",
    [
        "raw/sales/year=2024/month=01/day=05/other_20240105_020304.json.gz",  # source mismatch
        "raw/sales/year=2024/month=01/day=06/sales_20240105_020304.json.gz",  # folder mismatch
        "raw/sales/year=2024/month=01/sales_20240105_020304.json.gz",  # missing day
        "raw/sales/year=2024/month=01/day=05/sales_20240105_020304.json",  # not gzip
        "raw/sales/year=2024/month=13/day=05/sales_20241305_020304.json.gz",  # no month 13
        "raw/sales/year=2024/month=01/day=05/sales_20240105_020304_1.json.gz",  # seq width
    ],
)
def test_raw_key_parse_rejects_malformed_keys(bad: str) -> None:
    with pytest.raises(ValidationError):
        RawKey.parse(bad)


@pytest.mark.parametrize("name", ["../x", "a/b", "Sales", "", "sales-eu", "x" * 65, "é"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid source name"):
        validate_name(name, "source")
    with pytest.raises(InvalidNameError):
        RawKey(name, WHEN)


def test_partition_paths_round_trip_as_strings() -> None:
    values = date_partition(date(2024, 3, 9))
    assert values == {"year": "2024", "month": "03", "day": "09"}
    path = partition_path(values)
    assert path == "year=2024/month=03/day=09"
    assert parse_partition_path(path) == values
    with pytest.raises(ValidationError, match="not a partition folder"):
        parse_partition_path("year=2024/03")
    with pytest.raises(ValidationError):
        partition_path({"region": "../etc"})


@pytest.mark.parametrize("key", ["../x", "a//b", "/abs", "a/./b", "a\\b", ""])
def test_storage_keys_cannot_escape_the_root(key: str) -> None:
    with pytest.raises(ValidationError):
        clean_key(key)
