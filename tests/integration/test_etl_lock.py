"""The ETL's locks: one per job, curate never overlaps sales_clean, and a stale lock taken
over by exactly one of two processes racing for it (real processes; local lake and S3)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import multiprocessing as mp
import os
import queue
import random
import time
from pathlib import Path
from typing import Any

import pytest

from lakelib.config import Settings, get_settings, load_settings
from lakelib.errors import EtlError
from lakelib.etl._state import etl_lock, lock_prefix

TRIALS = 30


def _settings(home: str | None, profile: str, timeout: float | None) -> Settings:
    settings = load_settings(profile=profile, home=home)
    if timeout is not None:
        etl = {**settings.section("etl"), "lock_timeout_minutes": timeout}
        settings = dataclasses.replace(settings, document={**settings.document, "etl": etl})
    return settings


def _take_and_die(trials: list[tuple[str | None, str]], profile: str, hours_ago: float) -> None:
    """A run that took its lock (``hours_ago``) and was killed: it never lets go."""
    from lakelib.etl import _state

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return dt.datetime.now(tz) - dt.timedelta(hours=hours_ago)

    _state.datetime = Clock  # type: ignore[misc]
    held = [etl_lock(job, _settings(home, profile, None)) for home, job in trials]
    for lock in held:
        lock.__enter__()
    os._exit(0)  # held stays referenced: nothing closes the locks on the way out


def _race(
    trials: list[tuple[str | None, str]],
    profile: str,
    timeout: float | None,
    barrier: Any,
    results: Any,
) -> None:
    """Try each trial's lock at the same moment as the other racer; report who won."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logging.getLogger("lakelib.etl._state").addHandler(Keep())
    try:
        for home, job in trials:
            settings = _settings(home, profile, timeout)
            lock = etl_lock(job, settings)
            barrier.wait(30)
            # Start up to a millisecond apart: a takeover that is not atomic
            # loses when one racer is a step ahead of the other, not in lockstep.
            until = time.perf_counter() + random.uniform(0, 0.001)
            while time.perf_counter() < until:
                pass
            try:
                lock.__enter__()
                won, message = True, ""
            except EtlError as exc:
                won, message = False, str(exc)
            results.put((home, job, os.getpid(), won, message, list(seen)))
            seen.clear()
            barrier.wait(30)  # the other racer has tried while the winner still holds it
            if won:
                lock.__exit__(None, None, None)
    except BaseException:
        import traceback

        barrier.abort()
        results.put(("error", traceback.format_exc()))


def race_for_dead_locks(
    trials: list[tuple[str | None, str]], profile: str, timeout: float | None, hours_ago: float
) -> tuple[int, dict[tuple[str | None, str], list[tuple[Any, ...]]]]:
    ctx = mp.get_context("spawn")
    dead = ctx.Process(target=_take_and_die, args=(trials, profile, hours_ago))
    dead.start()
    dead.join(60)
    assert dead.exitcode == 0
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    racers = [
        ctx.Process(target=_race, args=(trials, profile, timeout, barrier, results))
        for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    by_trial: dict[tuple[str | None, str], list[tuple[Any, ...]]] = {}
    try:
        for _ in range(2 * len(trials)):
            answer = results.get(timeout=60)
            if answer[0] == "error":
                pytest.fail(f"a racer failed: {answer[1]}")
            home, job, pid, won, message, logged = answer
            by_trial.setdefault((home, job), []).append((pid, won, message, logged))
    except queue.Empty:
        pytest.fail(f"racers stopped answering after {sum(map(len, by_trial.values()))} tries")
    finally:
        for racer in racers:
            racer.join(30)
            if racer.is_alive():
                racer.kill()
    assert dead.pid is not None
    return dead.pid, by_trial


def check_one_winner(
    dead_pid: int, by_trial: dict[tuple[str | None, str], list[tuple[Any, ...]]]
) -> None:
    winners = {trial: [r for r in results if r[1]] for trial, results in by_trial.items()}
    assert {trial: len(w) for trial, w in winners.items()} == dict.fromkeys(by_trial, 1)
    for results in by_trial.values():
        (winner,) = [r for r in results if r[1]]
        (loser,) = [r for r in results if not r[1]]
        # The winner said whose lock it took over; the loser was told who holds it now.
        assert any("taking over" in line and f"pid {dead_pid} " in line for line in winner[3]), (
            winner[3]
        )
        assert f"pid {winner[0]} " in loser[2] and "holds the" in loser[2], loser[2]


def test_two_processes_racing_for_a_dead_runs_local_lock_one_wins(tmp_path: Path) -> None:
    homes = [str(tmp_path / f"lake{i:02d}") for i in range(TRIALS)]
    trials: list[tuple[str | None, str]] = [(home, "sales_clean") for home in homes]
    dead_pid, by_trial = race_for_dead_locks(trials, "local", None, hours_ago=0)
    check_one_winner(dead_pid, by_trial)


@pytest.mark.aws
def test_two_processes_racing_for_a_stale_s3_lock_one_wins(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelib.aws import client

    for zone in ("raw", "processed", "curated", "scripts", "query-results"):
        monkeypatch.setenv(f"LAKE_{zone.upper().replace('-', '_')}_BUCKET", f"lake-{zone}")
        client("s3").create_bucket(Bucket=f"lake-{zone}")
    trials: list[tuple[str | None, str]] = [(None, f"job{i:02d}") for i in range(TRIALS)]
    # Killed three hours ago; [etl] lock_timeout_minutes = 60: stale on S3 (by age alone:
    # a Glue run's host and pid mean nothing to the next run).
    dead_pid, by_trial = race_for_dead_locks(trials, "aws", 60, hours_ago=3)
    check_one_winner(dead_pid, by_trial)
    keys = client("s3").list_objects_v2(Bucket="lake-scripts", Prefix="runs/etl/job00/lock/")
    assert len(keys["Contents"]) == 1  # the released marker; older generations are gone


@pytest.mark.aws
def test_a_recent_s3_lock_is_not_taken_over(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakelib.aws import client

    for zone in ("raw", "processed", "curated", "scripts", "query-results"):
        monkeypatch.setenv(f"LAKE_{zone.upper().replace('-', '_')}_BUCKET", f"lake-{zone}")
        client("s3").create_bucket(Bucket=f"lake-{zone}")
    ctx = mp.get_context("spawn")
    dead = ctx.Process(target=_take_and_die, args=([(None, "sales_clean")], "aws", 0.5))
    dead.start()
    dead.join(60)
    # Half an hour old, the timeout an hour: its run may still be going.
    with pytest.raises(EtlError) as refused:
        etl_lock("sales_clean", _settings(None, "aws", 60)).__enter__()
    assert f"another sales_clean run (pid {dead.pid} " in str(refused.value)
    assert "holds the sales_clean lock s3://lake-scripts/runs/etl/sales_clean/lock/" in str(
        refused.value
    )
    assert "once it is older than 60 min ([etl] lock_timeout_minutes)" in str(refused.value)
    # With a 20-minute timeout it is stale, and taken over.
    with etl_lock("sales_clean", _settings(None, "aws", 20)):
        pass


def test_one_lock_per_job_and_curate_excludes_sales_clean(
    lake_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = get_settings()
    with etl_lock("sales_clean", settings):
        # The same job again: refused, naming the holder (this very process).
        with pytest.raises(EtlError, match=rf"another sales_clean run \(pid {os.getpid()} "):
            etl_lock("sales_clean", settings).__enter__()
        # curate reads sales_clean: refused too.
        with pytest.raises(EtlError, match=r"holds the sales_clean lock"):
            etl_lock("curate", settings, reads=("sales_clean",)).__enter__()
        # A job that shares nothing with it runs at once.
        with etl_lock("other", settings):
            pass
    with etl_lock("curate", settings, reads=("sales_clean",)):
        with pytest.raises(EtlError, match=r"another curate run .* holds the sales_clean lock"):
            etl_lock("sales_clean", settings).__enter__()
        with pytest.raises(EtlError, match=r"another curate run .* holds the curate lock"):
            etl_lock("curate", settings).__enter__()
    # Let go: both free again, each lock folder down to its one "released" marker.
    with etl_lock("curate", settings, reads=("sales_clean",)):
        pass
    for job in ("sales_clean", "curate"):
        folder = lake_home / "runs" / lock_prefix(job)
        assert len(list(folder.glob("*.json"))) == 1
    assert "taking over" not in caplog.text
