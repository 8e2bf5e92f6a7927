"""Where packages go: a local folder, or object storage through fsspec. Complete or absent.

A package is a folder `<consumer>/<scenario>/<as_of>/` holding the data files and, last, the
manifest `_manifest.json`.

- File system: the package is written into `.<as_of>.tmp-<pid>` beside its final place, every
  file fsynced, the manifest written last, then the folder is renamed into place (an existing
  package of the same as_of is first renamed aside and removed afterwards). A reader sees the
  old package, then nothing for an instant, then the new one: never half of one.
- Object storage (any `CREDIT_RISK_EXPORT_ROOT` URL whose scheme is not `file`; e.g. `s3://…`,
  `gs://…`, `memory://…` — whatever fsspec has a driver for): object stores have no rename of a
  folder, so the old manifest is deleted first, the files are written, and the manifest is
  written last. A package without a manifest is incomplete and must be ignored by readers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlparse

MANIFEST = "_manifest.json"
_AS_OF_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TMP_DIR = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)$")


class ExportTargetError(RuntimeError):
    """The export target cannot be written (or read)."""


class PackageWriter(Protocol):
    """An open package being written."""

    location: str

    def open(self, name: str) -> BinaryIO: ...

    def commit(self, manifest: bytes) -> None: ...

    def abort(self) -> None: ...


class Target(Protocol):
    """A delivery target (see module docstring)."""

    url: str

    def check(self) -> None: ...

    def begin(self, parts: tuple[str, ...]) -> PackageWriter: ...

    def location(self, parts: tuple[str, ...]) -> str: ...

    def read_bytes(self, parts: tuple[str, ...], name: str) -> bytes | None: ...

    def open_read(self, parts: tuple[str, ...], name: str) -> BinaryIO: ...

    def children(self, parts: tuple[str, ...]) -> list[str]: ...

    def remove(self, parts: tuple[str, ...]) -> None: ...

    def cleanup(self, parts: tuple[str, ...]) -> int: ...


def is_as_of_dir(name: str) -> bool:
    return bool(_AS_OF_DIR.match(name))


def _writable_error(path: Any, e: OSError) -> ExportTargetError:
    return ExportTargetError(
        f"export target {path} is not writable: {e.strerror or e} "
        "(set CREDIT_RISK_EXPORT_ROOT to a writable folder or object-storage URL)"
    )


# ---------------------------------------------------------------------------------- local


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalPackage:
    """A package being written into a hidden temporary folder beside its final place."""

    def __init__(self, final: Path):
        self.final = final
        self.location = str(final)
        parent = final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.tmp = parent / f".{final.name}.tmp-{os.getpid()}"
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except OSError as e:
            raise _writable_error(parent, e) from e

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self.tmp / name, "wb")  # noqa: SIM115 - closed by the writer
        except OSError as e:
            raise _writable_error(self.tmp, e) from e

    def commit(self, manifest: bytes) -> None:
        with open(self.tmp / MANIFEST, "wb") as fh:
            fh.write(manifest)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(self.tmp)
        old = self.final.parent / f".{self.final.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        replaced = False
        if self.final.exists():
            os.rename(self.final, old)
            replaced = True
        try:
            os.rename(self.tmp, self.final)
        except OSError:
            if replaced:  # put the previous complete package back
                os.rename(old, self.final)
            raise
        _fsync_dir(self.final.parent)
        if replaced:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalTarget:
    """A folder on a (local or mounted) file system."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _path(self, parts: tuple[str, ...]) -> Path:
        return self.root.joinpath(*parts)

    def location(self, parts: tuple[str, ...]) -> str:
        return str(self._path(parts))

    def check(self) -> None:
        """Raise ExportTargetError unless packages can be written under the root."""
        probe = self.root / f".probe-{os.getpid()}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe.mkdir(exist_ok=True)
            probe.rmdir()
        except OSError as e:
            raise _writable_error(self.root, e) from e

    def begin(self, parts: tuple[str, ...]) -> LocalPackage:
        return LocalPackage(self._path(parts))

    def read_bytes(self, parts: tuple[str, ...], name: str) -> bytes | None:
        try:
            return (self._path(parts) / name).read_bytes()
        except FileNotFoundError:
            return None

    def open_read(self, parts: tuple[str, ...], name: str) -> BinaryIO:
        return open(self._path(parts) / name, "rb")  # noqa: SIM115 - caller closes

    def children(self, parts: tuple[str, ...]) -> list[str]:
        p = self._path(parts)
        if not p.is_dir():
            return []
        return sorted(c.name for c in p.iterdir() if c.is_dir())

    def remove(self, parts: tuple[str, ...]) -> None:
        shutil.rmtree(self._path(parts), ignore_errors=False)

    def cleanup(self, parts: tuple[str, ...]) -> int:
        """Remove temporary folders left by export processes that died mid-write."""
        p = self._path(parts)
        if not p.is_dir():
            return 0
        n = 0
        for c in p.iterdir():
            m = _TMP_DIR.match(c.name)
            if m and c.is_dir() and not _pid_alive(int(m.group("pid"))):
                shutil.rmtree(c, ignore_errors=True)
                n += 1
        return n


# --------------------------------------------------------------------------- object storage


class ObjectPackage:
    """A package written in place on object storage; complete once its manifest exists."""

    def __init__(self, fs: Any, final: str, url: str):
        self.fs = fs
        self.final = final
        self.location = url
        try:
            # the manifest goes first: from here on the old package reads as incomplete
            manifest = f"{final}/{MANIFEST}"
            if fs.exists(manifest):
                fs.rm(manifest)
            if fs.exists(final):
                fs.rm(final, recursive=True)
            fs.makedirs(final, exist_ok=True)
        except OSError as e:
            raise _writable_error(url, e) from e

    def open(self, name: str) -> BinaryIO:
        try:
            return self.fs.open(f"{self.final}/{name}", "wb")
        except OSError as e:
            raise _writable_error(self.location, e) from e

    def commit(self, manifest: bytes) -> None:
        with self.fs.open(f"{self.final}/{MANIFEST}", "wb") as fh:
            fh.write(manifest)

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # best effort: without a manifest it is incomplete anyway
            self.fs.rm(self.final, recursive=True)


class ObjectStoreTarget:
    """An fsspec file system (object storage); see the module docstring for the protocol."""

    def __init__(self, url: str, fs: Any = None, base: str | None = None):
        if fs is None:
            import fsspec

            fs, base = fsspec.core.url_to_fs(url)
        self.fs = fs
        self.base = (base or "").rstrip("/")
        self.url = url.rstrip("/")

    def _path(self, parts: tuple[str, ...]) -> str:
        return "/".join([self.base, *parts])

    def location(self, parts: tuple[str, ...]) -> str:
        return "/".join([self.url, *parts])

    def check(self) -> None:
        """Raise ExportTargetError unless the base location can be created."""
        try:
            self.fs.makedirs(self.base, exist_ok=True)
        except OSError as e:
            raise _writable_error(self.url, e) from e

    def begin(self, parts: tuple[str, ...]) -> ObjectPackage:
        return ObjectPackage(self.fs, self._path(parts), self.location(parts))

    def read_bytes(self, parts: tuple[str, ...], name: str) -> bytes | None:
        path = f"{self._path(parts)}/{name}"
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError:
            return None

    def open_read(self, parts: tuple[str, ...], name: str) -> BinaryIO:
        return self.fs.open(f"{self._path(parts)}/{name}", "rb")

    def children(self, parts: tuple[str, ...]) -> list[str]:
        path = self._path(parts)
        try:
            entries = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"
        )

    def remove(self, parts: tuple[str, ...]) -> None:
        # manifest first, so a half-removed package never looks complete
        path = self._path(parts)
        if self.fs.exists(f"{path}/{MANIFEST}"):
            self.fs.rm(f"{path}/{MANIFEST}")
        with contextlib.suppress(FileNotFoundError):  # no other object: the "folder" is gone already
            self.fs.rm(path, recursive=True)

    def cleanup(self, parts: tuple[str, ...]) -> int:
        return 0  # nothing is written under temporary names on object storage


def target_for(root: Any) -> LocalTarget | ObjectStoreTarget:
    """The target for a path or URL (`file://` and plain paths are local), or for an Airflow
    `ObjectStoragePath` / universal-pathlib path (anything with `.fs` and `.path`), whose file
    system already carries the Airflow connection's credentials."""
    if not isinstance(root, str | Path) and hasattr(root, "fs") and hasattr(root, "path"):
        if getattr(root, "protocol", "") in ("", "file"):
            return LocalTarget(root.path)
        return ObjectStoreTarget(str(root), fs=root.fs, base=root.path)
    text = str(root)
    scheme = urlparse(text).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        return LocalTarget(urlparse(text).path if scheme == "file" else text)
    return ObjectStoreTarget(text)


@contextlib.contextmanager
def package(target: Target, parts: tuple[str, ...]) -> Iterator[PackageWriter]:
    """Open a package for writing; discard it if the body raises (commit is the caller's)."""
    writer = target.begin(parts)
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
