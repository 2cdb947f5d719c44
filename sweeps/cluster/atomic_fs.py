"""The local filesystem as Ray's storage, with every file Ray writes there appearing whole or not at all.

Ray Tune keeps the experiment in a staging folder and copies it over the run directory every few seconds (the
snapshot ``experiment_state-*.json``, the searcher's state, each trial's ``result.json`` and ``params.json``), and a
trial copies each checkpoint there; pyarrow's local filesystem writes each file in place. A driver killed during
that copy left a snapshot of 0 bytes, which a resume cannot read (nor could Ray, which would then start the sweep
again from nothing). Given as ``storage_filesystem``, this filesystem writes each file beside its place
(``.<name>.<random>.partial``) and renames it into place when it is complete: a killed copy leaves the previous
version whole, and a partial file that no reader looks at (nothing Ray or the analysis reads starts with a dot).

Ray also rewrites its snapshot in the staging folder in place while a background thread may be copying that folder,
so a copy can be whole and still hold half a snapshot. The snapshot and a trial's ``params.json`` are therefore put
in place only when what was copied is whole JSON; otherwise the previous version stays until the next copy.
``result.json`` (one JSON line per report) is appended to, never rewritten: a line cut short at its end is what its
readers skip.
Object stores (``s3://``, ``gs://``) make an object visible only once its upload completes, so they need nothing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import json
import os
import secrets

import pyarrow
import pyarrow.fs

from sweeps.ray_private import SNAPSHOT_FILES

PARTIAL_SUFFIX = ".partial"
# The JSON files Ray rewrites in place in its staging folder (not through a temporary file): its snapshot, and a
# trial's params.json. (Its searcher states are pickles, some named .json, saved through a temporary file.)
REWRITTEN_JSON = (SNAPSHOT_FILES, "params.json")


class AtomicLocalHandler(pyarrow.fs.FileSystemHandler):
    """pyarrow's :class:`~pyarrow.fs.LocalFileSystem`, but a file opened for writing is renamed into place when it
    is closed after complete writes (and removed when a write failed, e.g. on a full disk)."""

    def __init__(self):
        self.local = pyarrow.fs.LocalFileSystem()

    def __eq__(self, other):
        return isinstance(other, AtomicLocalHandler)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(AtomicLocalHandler)

    def __reduce__(self):  # Ray sends the storage's filesystem to every trial
        return (AtomicLocalHandler, ())

    def get_type_name(self):
        return "atomic-local"

    def normalize_path(self, path):
        return self.local.normalize_path(path)

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.local.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.local.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError("refusing to empty the root of the local filesystem")

    def delete_file(self, path):
        self.local.delete_file(path)

    def move(self, src, dest):
        self.local.move(src, dest)

    def copy_file(self, src, dest):
        """A copy within this filesystem: a hard link where the OS allows one (same device), else the bytes.

        Only the trainable copies within it: Ray persists each checkpoint the loop staged in the system's temporary
        folder by copying it into ``checkpoint_NNNNNN`` with the checkpoint's filesystem, this one. Where that folder
        is on the run's device, a link turns the copy of a quick SID U-Net's 90 MB state into a rename
        (``benchmarks/trial_cost.py`` measures both); it is safe because nothing rewrites a staged file in place (the
        loop saves every checkpoint to a new file and removes its staging folder once Ray has the checkpoint).
        """
        if link_into_place(src, dest):
            return
        with self.local.open_input_stream(src) as source, self.open_output_stream(dest, None) as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)

    def open_input_stream(self, path):
        return self.local.open_input_stream(path)

    def open_input_file(self, path):
        return self.local.open_input_file(path)

    def open_output_stream(self, path, metadata):
        return pyarrow.PythonFile(AtomicFile(path), mode="w")

    def open_append_stream(self, path, metadata):
        return self.local.open_append_stream(path)


class AtomicFile:
    """A file written beside ``path`` and renamed to it on :meth:`close`, unless a write failed."""

    def __init__(self, path: str):
        folder, name = os.path.split(path)
        self.path = path
        self.partial = os.path.join(folder, f".{name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        self.handle = open(self.partial, "wb")  # noqa: SIM115 (closed by close())
        self.failed = False

    def write(self, data) -> int:
        try:
            return self.handle.write(data)
        except BaseException:  # e.g. a full disk: the partial file goes at once (pyarrow may never close it)
            self.failed = True
            with contextlib.suppress(OSError):  # closing flushes, which fails again on a full disk
                self.handle.close()
            os.unlink(self.partial)
            raise

    def flush(self) -> None:
        self.handle.flush()

    @property
    def closed(self) -> bool:
        return self.handle.closed

    def close(self) -> None:
        if self.handle.closed:  # closed before, or after a failed write
            return
        try:
            self.handle.close()
        except BaseException:
            self.failed = True
            raise
        finally:
            if self.failed or not whole_json(self.path, self.partial):
                os.unlink(self.partial)
            else:
                os.replace(self.partial, self.path)


def link_into_place(src: str, dest: str) -> bool:
    """Hard-link ``src`` to ``dest`` (replacing it whole, as :class:`AtomicFile` does); False where the OS refuses
    (another device, a filesystem without hard links), with nothing left behind."""
    folder, name = os.path.split(dest)
    partial = os.path.join(folder, f".{name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    try:
        os.link(src, partial)
    except OSError:
        return False
    os.replace(partial, dest)
    return True


def whole_json(path: str, written: str) -> bool:
    """Whether ``written``, the new content of ``path``, is whole: JSON when ``path`` is one of the JSON files Ray
    writes in place (:data:`REWRITTEN_JSON`); any other file (Ray's pickles named ``.json`` among them) is whole
    when its copy completed."""
    if not any(fnmatch.fnmatch(os.path.basename(path), pattern) for pattern in REWRITTEN_JSON):
        return True
    try:
        with open(written, "rb") as handle:
            json.loads(handle.read())
    except ValueError:  # not UTF-8, or JSON cut short
        return False
    return True


def atomic_local_filesystem() -> pyarrow.fs.FileSystem:
    return pyarrow.fs.PyFileSystem(AtomicLocalHandler())


def is_local_filesystem(filesystem: pyarrow.fs.FileSystem | None) -> bool:
    """Whether a storage filesystem is this machine's (pyarrow's own, or the atomic one above)."""
    if isinstance(filesystem, pyarrow.fs.LocalFileSystem):
        return True
    return isinstance(filesystem, pyarrow.fs.PyFileSystem) and isinstance(filesystem.handler, AtomicLocalHandler)


def remove_partial_files(run_dir: str) -> list[str]:
    """Remove what copies cut short by a killed driver or worker left in a run directory; returns their paths."""
    found = glob.glob(os.path.join(run_dir, f".*{PARTIAL_SUFFIX}"))
    found += glob.glob(os.path.join(run_dir, "*", f".*{PARTIAL_SUFFIX}"))
    found += glob.glob(os.path.join(run_dir, "*", "checkpoint_*", f".*{PARTIAL_SUFFIX}"))
    for path in found:
        os.unlink(path)
    return found
