"""The same storage contract on the local file system and on S3 (moto server)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lakelib.aws import client
from lakelib.config import Zone, get_settings, load_settings
from lakelib.errors import NotFoundError, StorageError, ValidationError
from lakelib.storage import LocalStore, RawKey, S3Store, Store, zone_store, zone_usage


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "local":
        yield LocalStore(tmp_path / "zone")
    else:
        request.getfixturevalue("aws")
        client("s3").create_bucket(Bucket="lake-raw")
        yield S3Store("s3://lake-raw/some/prefix")


def test_write_read_list_delete(store: Store) -> None:
    key = RawKey("sales", datetime(2024, 1, 5, 2, 0, tzinfo=UTC)).relative
    payload = gzip.compress(b'{"id": 1}\n')
    store.write_bytes(key, payload)
    store.write_bytes("sales/year=2024/month=01/day=06/b.json.gz", b"x" * 10)
    store.write_bytes("salesx/other.json", b"{}")

    assert store.read_bytes(key) == payload
    listed = list(store.list("sales/"))
    assert [info.key for info in listed] == [key, "sales/year=2024/month=01/day=06/b.json.gz"]
    assert [info.size for info in listed] == [len(payload), 10]
    assert len(list(store.list())) == 3

    store.write_bytes(key, b"replaced")
    assert store.read_bytes(key) == b"replaced"
    store.delete(key)
    with pytest.raises(NotFoundError):
        store.read_bytes(key)
    assert [info.key for info in store.list("sales/")] == [
        "sales/year=2024/month=01/day=06/b.json.gz"
    ]


def test_keys_that_escape_are_refused(store: Store) -> None:
    for key in ("../outside", "a/../../b", "/etc/passwd"):
        with pytest.raises(ValidationError):
            store.write_bytes(key, b"x")


def test_missing_object_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no such object"):
        store.read_bytes("nope/missing.json")


def test_url_points_where_engines_read(store: Store) -> None:
    store.write_bytes("t/a.parquet", b"1")
    url = store.url("t/a.parquet")
    if isinstance(store, LocalStore):
        assert Path(url).read_bytes() == b"1"
    else:
        assert url == "s3://lake-raw/some/prefix/t/a.parquet"


def test_local_write_is_atomic_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("t/file.bin", b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StorageError, match="No space left"):
        store.write_bytes("t/file.bin", b"new contents")
    monkeypatch.undo()
    assert store.read_bytes("t/file.bin") == b"old"
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["file.bin"]


def test_local_files_get_the_usual_permissions(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("t/file.bin", b"x")
    (tmp_path / "plain").write_bytes(b"x")  # what open() gives under this umask
    assert (tmp_path / "t" / "file.bin").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_local_listing_hides_temp_files(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / ".tmp-a-123").write_bytes(b"half")
    (tmp_path / "t" / "a").write_bytes(b"whole")
    assert [i.key for i in LocalStore(tmp_path).list()] == ["t/a"]


def test_s3_errors_are_storage_errors(aws: str) -> None:
    store = S3Store("s3://no-such-bucket/")
    with pytest.raises(StorageError, match="no-such-bucket"):
        store.write_bytes("a", b"x")
    with pytest.raises(StorageError):
        list(store.list())


def test_zone_stores_follow_the_profile(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_HOME", str(tmp_path / "lake"))
    local = zone_store(Zone.RAW)
    assert isinstance(local, LocalStore)
    assert local.root == str(tmp_path / "lake" / "raw")

    s3 = client("s3")
    for bucket in ("lake-r", "lake-p", "lake-c", "lake-s", "lake-q"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAKE_RAW_BUCKET", "lake-r")
    monkeypatch.setenv("LAKE_PROCESSED_BUCKET", "lake-p")
    monkeypatch.setenv("LAKE_CURATED_BUCKET", "lake-c")
    monkeypatch.setenv("LAKE_SCRIPTS_BUCKET", "lake-s")
    monkeypatch.setenv("LAKE_QUERY_RESULTS_BUCKET", "lake-q")
    settings = load_settings(profile="aws", cwd=tmp_path)
    zone_store(Zone.QUARANTINE, settings).write_bytes("sales_clean/x.parquet", b"12345")
    zone_store(Zone.PROCESSED, settings).write_bytes("sales_clean/y.parquet", b"1")
    # quarantine is a prefix of the processed bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake-p")["Contents"]]
    assert keys == ["quarantine/sales_clean/x.parquet", "sales_clean/y.parquet"]

    usage = {u.zone: (u.files, u.bytes) for u in zone_usage(settings)}
    assert usage[Zone.QUARANTINE] == (1, 5)
    # The processed zone's root is the whole bucket; quarantine/ in it is not counted twice.
    assert usage[Zone.PROCESSED] == (1, 1)
    assert usage[Zone.RAW] == (0, 0)
    assert get_settings().profile == "local"


def test_local_listing_survives_files_deleted_while_it_walks(tmp_path: Path) -> None:
    """Another writer deleting objects (a lock released, a failed run taking its files back)
    never makes a listing fail: a vanished object is simply not listed."""
    import threading

    store = LocalStore(tmp_path)
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            key = f"locks/{n % 50:03d}.json"
            store.write_bytes(key, b"{}")
            store.delete(key)
            n += 1

    store.write_bytes("locks/keep.json", b"{}")
    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    try:
        for _ in range(3000):
            keys = [info.key for info in store.list("locks/")]
            assert "locks/keep.json" in keys
    finally:
        stop.set()
        worker.join(timeout=10)


# -- the widened seam: ranged reads, recursive delete, folders, folder swap, staged writes ----


def test_ranged_reads_return_the_bytes_asked_for(store: Store) -> None:
    store.write_bytes("t/f.bin", bytes(range(100)))
    assert store.read_range("t/f.bin", 0, 4) == bytes([0, 1, 2, 3])
    assert store.read_range("t/f.bin", 96, 100) == bytes([96, 97, 98, 99])
    assert store.read_range("t/f.bin", 98, 200) == bytes([98, 99])  # short at the end
    assert store.read_range("t/f.bin", 150, 200) == b""
    assert store.read_range("t/f.bin", 5, 5) == b""
    with pytest.raises(NotFoundError, match="no such object"):
        store.read_range("t/missing.bin", 0, 4)


def test_delete_prefix_removes_the_folder_whole_and_nothing_beside_it(store: Store) -> None:
    for key in ("t/a=1/x.parquet", "t/a=1/deep/y.parquet", "t/a=1/.x.parquet.crc", "t/a=10/z"):
        store.write_bytes(key, b"1")
    assert store.delete_prefix("t/a=1") == 3  # the hidden .crc counts too
    assert [info.key for info in store.list("t/")] == ["t/a=10/z"]
    assert store.folders("t") == ["a=10"]
    assert store.delete_prefix("t/a=1/") == 0
    assert store.delete_prefix("nothing/here") == 0


def test_folders_names_the_folders_directly_under_a_prefix(store: Store) -> None:
    for key in ("sales/year=2024/a", "sales/year=2025/b", "customers/c", "top.json"):
        store.write_bytes(key, b"1")
    assert store.folders() == ["customers", "sales"]
    assert store.folders("sales") == ["year=2024", "year=2025"]
    assert store.folders("sales/") == ["year=2024", "year=2025"]
    assert store.folders("missing") == []


def test_local_folders_include_empty_ones(tmp_path: Path) -> None:
    (tmp_path / "empty_table").mkdir()
    assert LocalStore(tmp_path).folders() == ["empty_table"]


def test_replacing_folder_swaps_the_contents(store: Store) -> None:
    store.write_bytes("curated/daily/old-part.parquet", b"old")
    with store.replacing_folder("curated/daily", "run1") as key:
        store.write_bytes(f"{key}/new-part.parquet", b"new")
        if isinstance(store, LocalStore):  # readers still see the old table meanwhile
            assert store.read_bytes("curated/daily/old-part.parquet") == b"old"
            store.delete("curated/daily/old-part.parquet")  # S3 writers overwrite in place
        else:
            store.delete("curated/daily/old-part.parquet")
    assert [info.key for info in store.list("curated/")] == ["curated/daily/new-part.parquet"]


def test_local_replacing_folder_keeps_the_old_folder_when_the_writer_fails(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("daily/part.parquet", b"old")
    with (
        pytest.raises(RuntimeError, match="spark died"),
        store.replacing_folder("daily", "run1") as key,
    ):
        store.write_bytes(f"{key}/half.parquet", b"half")
        raise RuntimeError("spark died")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["daily"]
    assert store.read_bytes("daily/part.parquet") == b"old"


def test_staged_objects_appear_only_on_commit(store: Store) -> None:
    staged = store.stage("results/q1.csv", durable=False)
    staged.path.write_bytes(b"a,b\n1,2\n")
    assert list(store.list("results/")) == []
    url = staged.commit()
    assert url == store.url("results/q1.csv")
    assert store.read_bytes("results/q1.csv") == b"a,b\n1,2\n"
    assert not staged.path.exists()

    dropped = store.stage("results/q2.csv")
    dropped.path.write_bytes(b"x")
    dropped.abort()
    assert [info.key for info in store.list("results/")] == ["results/q1.csv"]
    assert not dropped.path.exists()


def test_zone_stores_are_made_once_per_settings(tmp_path: Path) -> None:
    settings = load_settings(profile="local", home=tmp_path, cwd=tmp_path)
    assert settings.store(Zone.RAW) is settings.store("raw")
    assert zone_store(Zone.RAW, settings) is settings.store(Zone.RAW)
    assert settings.store(Zone.RAW).root == str(tmp_path.resolve() / "raw")
    other = load_settings(profile="local", home=tmp_path / "b", cwd=tmp_path)
    assert other.store(Zone.RAW) is not settings.store(Zone.RAW)
