"""Reading an untrusted ``.npz`` without trusting it: no pickle, no zip bomb, no allocation the file cannot back.

``np.load`` on an ``.npz`` decompresses whatever member is asked for, trusts the
sizes its headers claim and surfaces a damaged file as any of a dozen exception
types. ``NpzReader`` instead lists the members from the zip directory, reads a
member's ``.npy`` header (a few hundred bytes) before its data, and reads the data
only when the sizes agree: the header's shape × itemsize must be the member's
declared size, and that must be the bytes stored in the file (checkpoints are
written uncompressed, so a member cannot expand). Members the caller does not ask
for are never decompressed. Every defect is an ``NpzError`` whose message follows
the file name ("… is truncated or corrupt (…)").
"""

from __future__ import annotations

import os
import zipfile
from types import TracebackType
from typing import BinaryIO

import numpy as np

_ZIP_MAGIC = b"PK\x03\x04"
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
MAX_HEADER_BYTES = 10_000  # NumPy's own default limit for .npy headers


class NpzError(ValueError):
    """The archive is not a readable ``.npz`` of plain arrays; the message follows the file's name."""


def _translated(e: BaseException) -> NpzError:
    return NpzError(f"is truncated or corrupt ({type(e).__name__}: {e})")


class NpzReader:
    """The members of an ``.npz`` by key (``"param/W"`` for ``param/W.npy``), read one at a time on request."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            head = f.read(4)
        if head != _ZIP_MAGIC:
            kind = "a pickle file" if head[:1] == b"\x80" else "not an .npz archive"
            raise NpzError(f"is {kind} (starts with {head!r}); refusing to read it")
        self.size = os.path.getsize(path)
        try:
            self._zip = zipfile.ZipFile(path)
        except Exception as e:  # BadZipFile, OSError, EOFError, ValueError...: all one thing to the caller
            raise _translated(e) from None
        try:
            self.members = self._list()
        except BaseException:
            self._zip.close()
            raise

    def _list(self) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            if not info.filename.endswith(".npy"):
                raise NpzError(f"holds {info.filename!r}, which is not a NumPy array; not a checkpoint")
            key = info.filename[: -len(".npy")]
            if key in members:
                raise NpzError(f"holds {info.filename!r} twice")
            if info.flag_bits & 0x1:
                raise NpzError(f"holds {info.filename!r} encrypted; refusing to read it")
            if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
                raise NpzError(
                    f"holds {info.filename!r} compressed (method {info.compress_type}, {info.compress_size} bytes "
                    f"declared to expand to {info.file_size}); checkpoints store arrays uncompressed"
                )
            if info.file_size > self.size:
                raise NpzError(f"declares {info.file_size} bytes for {info.filename!r} but has only {self.size}")
            members[key] = info
        return members

    def _open_array(self, key: str) -> tuple[BinaryIO, tuple[int, ...], np.dtype, bool]:
        """The member opened just past its ``.npy`` header, which has been checked against the member's size."""
        info = self.members[key]
        try:  # the local header may disagree with the directory: flags, method, version
            f = self._zip.open(info)
        except Exception as e:
            raise _translated(e) from None
        try:
            version = np.lib.format.read_magic(f)
            if version not in _HEADER_READERS:
                raise NpzError(f"holds {key!r} in .npy format version {version}; expected 1.0 or 2.0")
            shape, fortran, dtype = _HEADER_READERS[version](f, max_header_size=MAX_HEADER_BYTES)
            if dtype.hasobject:
                raise NpzError("contains pickled (object) arrays; refusing to unpickle them")
            expected = f.tell() + int(np.prod(shape, dtype=object)) * dtype.itemsize
            if expected != info.file_size:
                raise NpzError(
                    f"holds {key!r} with a header for {dtype} of shape {shape} ({expected} bytes with the header) "
                    f"but {info.file_size} bytes of data"
                )
        except NpzError:
            f.close()
            raise
        except Exception as e:
            f.close()
            raise _translated(e) from None
        return f, shape, dtype, fortran

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype of a member, from its header alone."""
        f, shape, dtype, _ = self._open_array(key)
        f.close()
        return shape, dtype

    def read(self, key: str) -> np.ndarray:
        """A member's array; its size was checked against the file before anything is allocated."""
        f, shape, dtype, fortran = self._open_array(key)
        try:
            with f:
                data = f.read()  # the zip layer checks the CRC when the member is read to its end
                a = np.frombuffer(data, dtype=dtype)
        except Exception as e:
            raise _translated(e) from None
        if a.size != int(np.prod(shape)):
            raise NpzError(f"is truncated or corrupt ({key!r} is shorter than its header says)")
        return a.reshape(shape[::-1]).T.copy() if fortran else a.reshape(shape).copy()

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
