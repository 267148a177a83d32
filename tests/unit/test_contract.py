from typing import Any

import pytest

from lakelib.errors import ConfigError
from lakelib.ingest import Contract, load_contract

SALES = {
    "required": ["id", "date", "amount"],
    "fields": {
        "id": "string",
        "date": "timestamp",
        "amount": "double",
        "n": "bigint",
        "ok": "boolean",
        "d": "date",
    },
    "ranges": {"amount": {"min": 0.01, "max": 100}},
}


def check(
    record: dict[str, Any], spec: dict[str, Any] = SALES
) -> tuple[str | None, dict[str, Any]]:
    checker = Contract.from_config("sales", spec).compile()
    reason = checker(record)
    return reason, record


def test_safe_coercions_are_applied_in_place() -> None:
    reason, record = check(
        {
            "id": 7,
            "date": "2026-01-05T13:45:12+02:00",
            "amount": "12.50",
            "n": "3",
            "ok": "TRUE",
            "d": "2026-02-01",
        }
    )
    assert reason is None
    assert record == {
        "id": "7",
        "date": "2026-01-05T11:45:12Z",
        "amount": 12.5,
        "n": 3,
        "ok": True,
        "d": "2026-02-01",
    }


def test_naive_timestamps_are_utc_and_empty_text_is_missing() -> None:
    reason, record = check({"id": "a", "date": "2026-01-05 01:02:03", "amount": 1, "n": ""})
    assert reason is None
    assert record["date"] == "2026-01-05T01:02:03Z"
    assert record["n"] is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"date": "2026-01-01", "amount": 1}, "missing_required: field 'id'"),
        ({"id": "a", "date": "2026-01-01", "amount": None}, "missing_required: field 'amount'"),
        ({"id": "a", "date": "2026-01-01", "amount": ""}, "missing_required: field 'amount'"),
        (
            {"id": "a", "date": "2026-02-30", "amount": 1},
            "bad_type: field 'date' value '2026-02-30'",
        ),
        ({"id": "a", "date": "yesterday", "amount": 1}, "bad_type: field 'date'"),
        ({"id": "a", "date": "2026-01-01", "amount": "12,50"}, "bad_type: field 'amount'"),
        ({"id": "a", "date": "2026-01-01", "amount": "nan"}, "bad_type: field 'amount'"),
        ({"id": "a", "date": "2026-01-01", "amount": True}, "bad_type: field 'amount'"),
        ({"id": "a", "date": "2026-01-01", "amount": float("inf")}, "bad_type: field 'amount'"),
        ({"id": "a", "date": "2026-01-01", "amount": float("nan")}, "bad_type: field 'amount'"),
        ({"id": "a", "date": "2026-01-01T25:00:00Z", "amount": 1}, "bad_type: field 'date'"),
        ({"id": {"x": 1}, "date": "2026-01-01", "amount": 1}, "bad_type: field 'id'"),
        (
            {"id": "a", "date": "2026-01-01", "amount": -5},
            "out_of_range: field 'amount' value -5.0 is below",
        ),
        (
            {"id": "a", "date": "2026-01-01", "amount": "1e7"},
            "out_of_range: field 'amount' value 10000000.0 is above",
        ),
        (
            {"id": "a", "date": "2026-01-01", "amount": 1, "n": 2.5},
            "bad_type: field 'n' value 2.5 is not a bigint",
        ),
        ({"id": "a", "date": "2026-01-01", "amount": 1, "ok": "yes"}, "bad_type: field 'ok'"),
        (
            {"id": "a", "date": "2026-01-01", "amount": 1, "d": "2026-01-01T00:00:00"},
            "bad_type: field 'd'",
        ),
    ],
)
def test_failures_name_the_field_and_the_reason(record: dict[str, Any], reason: str) -> None:
    found, _ = check(record)
    assert found is not None and found.startswith(reason), found


def test_an_empty_contract_accepts_any_object() -> None:
    assert Contract("new_source").compile()({"anything": [1, 2]}) is None


def test_an_undeclared_source_is_refused_naming_the_declared_ones() -> None:
    with pytest.raises(ConfigError) as refused:
        load_contract("salse", {"sales": SALES, "customers": {}})
    message = str(refused.value)
    assert message.startswith(
        "unknown source 'salse' (did you mean 'sales'?): lake.toml declares customers, sales;"
    )
    assert "--no-contract" in message
    with pytest.raises(ConfigError, match=r"no lake.toml with \[sources\] was found"):
        load_contract("sales", {})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"fields": {"a": "float"}}, "unknown type 'float'"),
        ({"required": "id"}, "required must be a list"),
        ({"fields": {"a": "double"}, "ranges": {"a": {"min": "x"}}}, "bounds are not double"),
        ({"ranges": {"a": {"low": 1}}}, "min = ..., max = ..."),
    ],
)
def test_bad_contracts_are_config_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Contract.from_config("s", spec)


def test_repository_contracts_load() -> None:
    from lakelib.config import get_settings

    sources = get_settings().section("sources")
    for name in ("sales", "customers", "products"):
        assert load_contract(name, sources).required
