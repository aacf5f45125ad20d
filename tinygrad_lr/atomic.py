"""Replacing a file atomically: the one way checkpoints, graphs, plots and the CLI's outputs are written.

The bytes go to a hidden temporary file in the target's directory, are flushed to
disk, and the temporary is renamed over the target (``os.replace``, atomic on one
file system). An interrupted write deletes the temporary and leaves the old file
as it was; a process killed mid-write leaves a temporary that the next write of
the same file removes. What a plain ``open(path, "wb")`` would do is kept where it
matters: a symlink is written through (the link stays, its target gets the new
bytes), an existing file keeps its permissions, a new one gets the umask's.
What ``open`` would do but a replace must not: FIFOs and devices are refused, and
so is a file its mode marks read-only (root included), with ``PermissionError``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

_STEM_BYTES = 80  # of the target's name kept in the temporary's: far below NAME_MAX (255) with the rest

_KINDS = {
    stat.S_ISFIFO: "FIFO",
    stat.S_ISCHR: "character device",
    stat.S_ISBLK: "block device",
    stat.S_ISSOCK: "socket",
}


def _target(path: str | os.PathLike, who: str) -> tuple[str, os.stat_result | None]:
    """The regular file a write to ``path`` replaces (symlinks followed) and its stat, or None if it is new."""
    name = os.fsdecode(path)
    if not name:
        raise ValueError(f"{who}: the file name is empty")
    if name.endswith(("/", os.sep)):
        raise ValueError(f"{who}: {name!r} ends with a path separator; give a file name, not a directory")
    real = os.path.realpath(name)
    try:
        st = os.stat(real)
    except (FileNotFoundError, NotADirectoryError):  # a new file, or a path through a file (said below)
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{who}: {name} is a directory, not a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _KINDS.items() if test(st.st_mode)), "special file")
        raise ValueError(f"{who}: {name} is a {kind}, not a regular file; refusing to replace it")
    if st is not None and (not st.st_mode & 0o222 or not os.access(real, os.W_OK)):
        raise PermissionError(
            f"{who}: {name} is not writable (mode {stat.filemode(st.st_mode)}); refusing to replace it"
        )
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{who}: the directory {directory} does not exist")
    return real, st


def _temporary_prefix(name: str) -> str:
    """``.<name, cut to 80 bytes>.<hash of the whole name>.``: short, and the same for every write of one file."""
    encoded = os.fsencode(name)
    stem = os.fsdecode(encoded[:_STEM_BYTES]) if len(encoded) > _STEM_BYTES else name
    return f".{stem}.{hashlib.sha1(encoded).hexdigest()[:8]}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: no signal, only the existence check
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_orphans(directory: str, prefix: str) -> None:
    """Delete temporaries of this file left by processes that no longer run (their pid is in the name)."""
    if os.name != "posix":  # os.kill(pid, 0) is not an existence test elsewhere
        return
    with os.scandir(directory) as entries:
        for entry in entries:
            pid = entry.name[len(prefix) :].split(".")[0]
            ours = entry.name.startswith(prefix) and entry.name.endswith(".tmp") and pid.isdigit()
            if ours and int(pid) != os.getpid() and not _alive(int(pid)):
                with suppress(FileNotFoundError):  # another writer removed it first
                    os.unlink(entry.path)


@contextmanager
def atomic_write(path: str | os.PathLike, who: str = "write") -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only once the ``with`` block has finished writing it.

    ``who`` starts every error message (``"save"``, ``"render"``...).
    """
    real, st = _target(path, who)
    directory, name = os.path.split(real)
    prefix = _temporary_prefix(name)
    _remove_orphans(directory, prefix)
    tmp = os.path.join(directory, f"{prefix}{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        f = open(tmp, "xb")  # noqa: SIM115  (closed below, before the rename)
    except OSError as e:
        raise type(e)(e.errno, f"{who}: cannot create a file in the directory {directory} ({e.strerror})") from None
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if st is not None:  # a new file has open()'s umask permissions already
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        try:
            os.replace(tmp, real)
        except OSError as e:  # name the file, not the temporary
            raise type(e)(e.errno, e.strerror, os.fsdecode(path)) from None
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
