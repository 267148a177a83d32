"""A store on S3 through boto3 (``lakelib.aws.client``, so endpoint overrides apply)."""

from __future__ import annotations

import builtins
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lakelib.errors import AlreadyExistsError, NotFoundError, StorageError
from lakelib.storage._base import ObjectInfo, clean_key, is_hidden

# S3's answers to a conditional write that lost: 412 when the key exists, 409 when another
# conditional write of the same key was in flight (which will then exist, or be retried).
_TAKEN = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


# Making a boto3 client loads the service model (~0.5 s of JSON parsing): a webhook request
# or a Lambda invocation that made one per store spent a second on it. Clients are
# thread-safe; one per endpoint, region and credentials is shared by every S3Store.
_CLIENTS: dict[tuple[str | None, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()
_CLIENT_ENV = (
    "LAKE_AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def shared_s3_client() -> Any:
    """The process's S3 client for the current environment (made once, then reused)."""
    key = tuple(os.environ.get(name) for name in _CLIENT_ENV)
    with _CLIENTS_LOCK:
        found = _CLIENTS.get(key)
        if found is None:
            from lakelib.aws import client

            found = _CLIENTS[key] = client("s3")
        return found


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")`` (prefix may be empty)."""
    if not uri.startswith("s3://"):
        raise StorageError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StorageError(f"no bucket in {uri!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3Store:
    """Keys map to objects under ``s3://bucket/prefix/``; a write is a single PUT (atomic)."""

    def __init__(self, uri: str, client: Any = None) -> None:
        self.bucket, self.prefix = split_s3_uri(uri)
        self._client = client

    def __repr__(self) -> str:
        return f"S3Store({self.root!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = shared_s3_client()
        return self._client

    @property
    def root(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _object_key(self, key: str) -> str:
        return self.prefix + clean_key(key)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def read_bytes(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
            return bytes(response["Body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise NotFoundError(f"no such object: {self.url(key)}") from exc
            raise StorageError(f"cannot read {self.url(key)}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {self.url(key)}: {exc}") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot write {self.url(key)}: {exc}") from exc

    def create_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._object_key(key), Body=data, IfNoneMatch="*"
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _TAKEN:
                raise AlreadyExistsError(f"{self.url(key)} already exists") from exc
            raise StorageError(f"cannot write {self.url(key)}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot write {self.url(key)}: {exc}") from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot delete {self.url(key)}: {exc}") from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    if not key or is_hidden(key.rsplit("/", 1)[-1]):
                        continue
                    yield ObjectInfo(key, int(item["Size"]), item["LastModified"])
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot list {self.root}{prefix}: {exc}") from exc

    def read_range(self, key: str, start: int, stop: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        if stop <= start:
            return b""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._object_key(key), Range=f"bytes={start}-{stop - 1}"
            )
            return bytes(response["Body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise NotFoundError(f"no such object: {self.url(key)}") from exc
            if code in {"InvalidRange", "416"}:  # starts past the end: nothing there
                return b""
            raise StorageError(f"cannot read {self.url(key)}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {self.url(key)}: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        folder = self._object_key(prefix.rstrip("/")) + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        count = 0
        try:
            # Hidden objects too (list() skips them): the folder goes whole. DeleteObjects
            # takes at most 1,000 keys, which is also the page size of a listing.
            for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if not keys:
                    continue
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise StorageError(
                        f"cannot delete s3://{self.bucket}/{first.get('Key')}: "
                        f"{first.get('Code')} {first.get('Message', '')}".rstrip()
                    )
                count += len(keys)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot delete {self.url(prefix.rstrip('/'))}/: {exc}") from exc
        return count

    def folders(self, prefix: str = "") -> builtins.list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        base = self.prefix + (clean_key(prefix.strip("/")) + "/" if prefix.strip("/") else "")
        paginator = self.client.get_paginator("list_objects_v2")
        names = []
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
                for item in page.get("CommonPrefixes", []):
                    name = item["Prefix"][len(base) :].rstrip("/")
                    if name:
                        names.append(name)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot list s3://{self.bucket}/{base}: {exc}") from exc
        return sorted(names)

    @contextmanager
    def replacing_folder(self, folder: str, tag: str) -> Iterator[str]:
        # No rename on S3: a copy of every object would be no more atomic than the writer's
        # own overwrite, and cost a second write of the table.
        yield folder.rstrip("/")

    def stage(self, key: str, *, durable: bool = True) -> S3StagedObject:
        return S3StagedObject(self, clean_key(key))


class S3StagedObject:
    """A local temp file, sent with one PUT by ``commit`` (a PUT is atomic on S3)."""

    def __init__(self, store: S3Store, key: str) -> None:
        self.store = store
        self.key = key
        handle, name = tempfile.mkstemp(prefix="lake-stage-")
        os.close(handle)
        self._path = Path(name)

    @property
    def path(self) -> Path:
        return self._path

    def commit(self) -> str:
        try:
            data = self._path.read_bytes()
        except OSError as exc:
            self.abort()
            raise StorageError(f"cannot read {self._path}: {exc.strerror or exc}") from exc
        try:
            self.store.write_bytes(self.key, data)
        finally:
            self.abort()
        return self.store.url(self.key)

    def abort(self) -> None:
        self._path.unlink(missing_ok=True)
