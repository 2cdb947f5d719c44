"""A full disk under the run directory: recognised wherever a write fails (a trial's checkpoint, the driver's
status files, the manifest, the tables) and said in one line that names the disk, instead of a trial failing after
another or a traceback. Files written through the run's storage appear whole or not at all
(:mod:`sweeps.cluster.atomic_fs`), so what the sweep had saved stays whole and ``--resume`` goes on from it once
there is space again."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator

from restore_core.errors import UserError
from sweeps.cluster.storage import mount_of

FULL = (errno.ENOSPC, errno.EDQUOT)
FULL_TEXTS = tuple(f"[Errno {code}] {os.strerror(code)}" for code in FULL)  # as an exception's text carries them


class DiskFull(UserError):
    """The disk (or quota) that holds the run directory has no space left."""


def is_full_disk(error: BaseException | None) -> bool:
    """Whether ``error``, or an exception it was raised from (Ray's ``RayTaskError`` keeps the trial's as ``cause``),
    is a write refused for want of space."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFull) or (isinstance(error, OSError) and error.errno in FULL):
            return True
        if any(text in str(error) for text in FULL_TEXTS):  # a cause that could not travel from the worker
            return True
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def stop_on_full_disk(run_dir: str, then: str | Callable[[], str]) -> Iterator[None]:
    """Turn a write refused for want of space, wherever it happens inside, into :func:`full_disk`'s one line;
    ``then`` (or what it returns, when the space ran out) says how to continue."""
    try:
        yield
    except Exception as error:
        if is_full_disk(error):
            # the other running trials fail on the same disk as Ray stops them; their errors, which Ray would print
            # after this line as "unhandled", say nothing more
            os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
            raise full_disk(run_dir, then if isinstance(then, str) else then()) from None
        raise


def describe_disk(path: str) -> str:
    """The filesystem that holds ``path`` in words: ``tmpfs at /mnt/runs (3.0 MiB, 0 B free)``."""
    mount, device, fstype = mount_of(path)
    try:
        stats = os.statvfs(mount or path)
        size, free = stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize
        space = f" ({_size(size)}, {_size(free)} free)"
    except OSError:
        space = ""
    what = " ".join(part for part in (fstype, device if device != fstype else "") if part) or "the filesystem"
    return f"{what} at {mount or '/'}{space}"


def full_disk(run_dir: str, then: str) -> DiskFull:
    """The error that stops a sweep whose run directory's disk is full; ``then`` says how to continue."""
    return DiskFull(f"no space left on the disk of the run directory {run_dir}: {describe_disk(run_dir)}; the sweep "
                    f"stopped with what it had saved whole; free space there, then {then}")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
