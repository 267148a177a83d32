"""A store on the local file system: the embedded default."""

from __future__ import annotations

import builtins
import errno
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from lakelib.errors import AlreadyExistsError, NotFoundError, StorageError
from lakelib.storage._base import ObjectInfo, clean_key, is_hidden


@functools.cache
def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0o666 less the umask).

    ``mkstemp`` creates files 0o600; without this, landed data would be unreadable to the
    other users of a shared lake folder (a notebook server, a Spark worker).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no portable read-only query: set and restore at once
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    A crash leaves either the old file or none, never a partial one; the temp file's name
    starts with ``.`` so listings and engines skip it.
    """
    target = Path(path)
    tmp = _temp_copy(target, data)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temp_copy(target: Path, data: bytes) -> Path:
    """``data`` in a hidden, fsynced temp file beside ``target``, with the usual file mode."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".tmp-{target.name}-", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


# Errors of file systems without hard links (some network and FUSE mounts, FAT).
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV})


def _fsync_folder(folder: Path) -> None:
    """Make a new directory entry durable: without it a power cut can lose a landed file."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # not possible everywhere (Windows); the data itself was fsynced
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def exclusive_write_bytes(path: Path | str, data: bytes) -> None:
    """Create ``path`` with ``data``; :class:`FileExistsError` if it exists (nothing changed).

    The bytes go to a hidden temp file first (written and fsynced), which is then hard-linked
    to the target name: ``link`` fails if the name exists, atomically, even between processes
    and on NFS, and a reader never sees a partial file. Where the file system has no hard
    links, an ``O_EXCL`` create is the fallback (exclusive, but a crash mid-write could leave
    a short file).
    """
    target = Path(path)
    tmp = _temp_copy(target, data)
    try:
        try:
            os.link(tmp, target)
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            _exclusive_open_write(target, data)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_folder(target.parent)


def _exclusive_open_write(target: Path, data: bytes) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _file_mode())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise


class LocalStore:
    """Keys map to files under ``root``; writes are temp-file-and-rename."""

    def __init__(self, root: Path | str) -> None:
        self._root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self._root)!r})"

    @property
    def root(self) -> str:
        return str(self._root)

    def path(self, key: str) -> Path:
        return self._root.joinpath(*clean_key(key).split("/"))

    def url(self, key: str) -> str:
        return str(self.path(key))

    def read_bytes(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"no such object: {path}") from exc
        except IsADirectoryError as exc:
            raise StorageError(f"{path} is a folder, not an object") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        try:
            atomic_write_bytes(self.path(key), data)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path(key)}: {exc.strerror or exc}") from exc

    def create_bytes(self, key: str, data: bytes) -> None:
        path = self.path(key)
        try:
            exclusive_write_bytes(path, data)
        except FileExistsError as exc:
            raise AlreadyExistsError(f"{path} already exists") from exc
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def read_range(self, key: str, start: int, stop: int) -> bytes:
        path = self.path(key)
        if stop <= start:
            return b""
        try:
            with path.open("rb") as handle:
                handle.seek(start)
                return handle.read(stop - start)
        except FileNotFoundError as exc:
            raise NotFoundError(f"no such object: {path}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        folder = self.path(prefix.rstrip("/"))
        if not folder.is_dir():
            return 0
        count = sum(len(files) for _, _, files in os.walk(folder))

        def gone_already(
            function: object, name: str, info: tuple[type, BaseException, object]
        ) -> None:
            # Another writer removing the same files is no error; anything else is.
            if not isinstance(info[1], FileNotFoundError):
                raise StorageError(f"cannot delete {name}: {info[1]}") from info[1]

        shutil.rmtree(folder, onerror=gone_already)
        return count

    def folders(self, prefix: str = "") -> builtins.list[str]:
        start = self.path(prefix.rstrip("/")) if prefix.strip("/") else self._root
        try:
            return sorted(entry.name for entry in os.scandir(start) if entry.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise StorageError(f"cannot list {start}: {exc.strerror or exc}") from exc

    @contextmanager
    def replacing_folder(self, folder: str, tag: str) -> Iterator[str]:
        target = self.path(folder.rstrip("/"))
        parent = target.relative_to(self._root).parent.as_posix()
        base = "" if parent == "." else f"{parent}/"
        staging_key = f"{base}_staging_{target.name}_{tag}"
        staging = self.path(staging_key)
        try:
            yield staging_key
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        old = target.with_name(f"_old_{target.name}_{tag}")
        try:
            if target.exists():
                os.replace(target, old)
            os.replace(staging, target)
        except OSError as exc:
            raise StorageError(f"cannot swap in {target}: {exc.strerror or exc}") from exc
        shutil.rmtree(old, ignore_errors=True)

    def stage(self, key: str, *, durable: bool = True) -> LocalStagedObject:
        return LocalStagedObject(self.path(key), durable=durable)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self._root.is_dir():
            return
        # Walk only the folder the prefix points into, not the whole lake.
        folder, _, _ = prefix.rpartition("/")
        start = self._root.joinpath(*clean_key(folder).split("/")) if folder else self._root
        if not start.is_dir():
            return
        found = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not is_hidden(d)]
            base = Path(dirpath)
            for name in filenames:
                if is_hidden(name):
                    continue
                full = base / name
                key = full.relative_to(self._root).as_posix()
                if key.startswith(prefix):
                    try:
                        stat = full.stat()
                    except FileNotFoundError:  # deleted by another writer while we listed
                        continue
                    modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
                    found.append(ObjectInfo(key, stat.st_size, modified))
        yield from sorted(found, key=lambda info: info.key)


class LocalStagedObject:
    """A hidden temp file beside the final name; ``commit`` renames it into place."""

    def __init__(self, final: Path, *, durable: bool) -> None:
        self.final = final
        self.durable = durable
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".tmp-{final.name}-", dir=final.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {final}: {exc.strerror or exc}") from exc
        os.close(handle)
        self._path = Path(name)

    @property
    def path(self) -> Path:
        return self._path

    def commit(self) -> str:
        try:
            if self.durable:
                with self._path.open("rb+") as handle:
                    os.fsync(handle.fileno())
            os.chmod(self._path, _file_mode())  # mkstemp's 0o600 would hide it from others
            os.replace(self._path, self.final)
        except OSError as exc:
            self.abort()
            raise StorageError(f"cannot write {self.final}: {exc.strerror or exc}") from exc
        if self.durable:
            _fsync_folder(self.final.parent)
        return str(self.final)

    def abort(self) -> None:
        self._path.unlink(missing_ok=True)
