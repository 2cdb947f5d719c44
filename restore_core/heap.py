"""The C heap of a training process on glibc: keep the memory a training step frees for the next step.

glibc's malloc gives a block over its mmap threshold a mapping of its own, unmapped when the block is freed, and
hands the free top of its heap back to the system once more than its trim threshold is free. Both thresholds start
low and rise only with the largest block freed so far (to 32 MiB and 64 MiB at most), so a training step whose
activations and gradients add up to more than that returns them at its end and faults them in again, zeroed, at the
next step: about 1.3 million page faults and 10-13 % of a 150-step ``lsid_lr`` trial on CPU
(``benchmarks/heap.py``, docs/PERFORMANCE.md). :func:`keep_freed_memory` fixes the mmap threshold at glibc's ceiling
(a larger block keeps a mapping of its own, so that it is never split) and keeps the heap's free top: the process
holds its peak heap until it ends, as torch's allocators do on a GPU.

A process whose environment sets glibc's malloc thresholds itself (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_`` or those tunables in ``GLIBC_TUNABLES``) is left
as it is set, and ``RESTORE_HEAP=system`` leaves glibc's defaults.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

from restore_core.errors import UserError

ENV = "RESTORE_HEAP"
CHOICES = ("keep", "system")
M_TRIM_THRESHOLD = -1  # mallopt's parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # the most mallopt accepts on 64-bit systems
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: about 2 GiB free at the heap's top before any is handed back
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
USER_TUNABLES = ("glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold", "glibc.malloc.top_pad",
                 "glibc.malloc.mmap_max")

_kept: bool | None = None  # decided once per process: mallopt's settings hold for the whole process


def heap_choice(environ: Mapping[str, str] = os.environ) -> str:
    """``RESTORE_HEAP``, checked: ``keep`` (the default) or ``system``.

    Raises:
        UserError: another value.
    """
    choice = environ.get(ENV, "keep").strip().lower() or "keep"
    if choice not in CHOICES:
        raise UserError(f"{ENV}={environ[ENV]!r}: unknown heap setting; expected one of {', '.join(CHOICES)} "
                        "(keep: a training process keeps the memory its steps free; system: glibc's defaults)")
    return choice


def user_set_heap(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment sets glibc's malloc thresholds itself."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    return any(environ.get(name) for name in USER_SETTINGS) or any(name in tunables for name in USER_TUNABLES)


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process, once; returns whether they are raised (False on
    another C library, with ``RESTORE_HEAP=system`` or where the environment sets them)."""
    global _kept
    if _kept is None:
        _kept = heap_choice() == "keep" and not user_set_heap() and _mallopt()
    return _kept


def _mallopt() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; the mmap threshold first: setting either one fixes both
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
