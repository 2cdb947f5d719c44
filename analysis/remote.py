"""A run directory in object storage (``s3://``, ``gs://``, ...), read and written through pyarrow's filesystems, as
Ray writes it there: no copy of the run to sync back by hand.

The readers of a run (the analysis, ``--resume``) work on files. :func:`local_run` gives them a folder that holds the
run's records, fetched in one listing and parallel reads: the manifest, Ray's saves, and each trial's ``params.json``,
``result.json`` and the files that tell how it ended (with ``events=True`` also the TensorBoard files, for the
report's images), never the checkpoints. With ``write_back=True`` what was changed in that folder is written back:
new and changed files are uploaded (an object appears only once whole), removed ones deleted, and a trial folder
moved within the run (a resume sets aside the trials Ray's save does not know) moved with all its objects.

Credentials come from where pyarrow (and Ray) find them: the usual AWS variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), ``AWS_PROFILE`` and its files, or the machine's role; the
endpoint of an S3-compatible server from ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``. Nothing here records them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from restore_core.errors import DataError, UserError
from restore_core.io import one_request_uploads

READERS = 16  # parallel reads: an object store answers each in tens of milliseconds, so many are in flight at once
RECORDS = ("params.json", "result.json", "status.json", "timeout.json", "error.txt", "retried-errors.txt")


def is_uri(path: str) -> bool:
    return "://" in str(path)


def filesystem(uri: str):
    """pyarrow's filesystem for ``uri`` and the path in it.

    Raises:
        DataError: the URI names no filesystem pyarrow can open (or its credentials are refused).
    """
    from pyarrow import ArrowException, fs  # lazy: pyarrow (Ray's dependency) only for a URI

    try:
        filesystem_, path = fs.FileSystem.from_uri(uri)
    except (OSError, ArrowException, ValueError) as err:
        raise DataError(f"cannot open {uri}: {str(err).splitlines()[0]}") from None
    return one_request_uploads(filesystem_), path


def list_files(uri: str, recursive: bool = True) -> dict[str, int]:
    """Every file under ``uri``, by its path relative to it, with its size (empty: nothing there)."""
    from pyarrow import ArrowException, fs  # deferred: pyarrow, for runs in object storage only

    filesystem_, root = filesystem(uri)
    try:
        infos = filesystem_.get_file_info(fs.FileSelector(root, recursive=recursive, allow_not_found=True))
    except (OSError, ArrowException) as err:
        raise DataError(f"cannot list {uri}: {str(err).splitlines()[0]}") from None
    return {info.path[len(root):].lstrip("/"): info.size for info in infos if info.type == fs.FileType.File}


def folders(uri: str) -> list[str]:
    """The names of the folders (prefixes) right under ``uri``."""
    from pyarrow import ArrowException, fs  # deferred: pyarrow, for runs in object storage only

    filesystem_, root = filesystem(uri)
    try:
        infos = filesystem_.get_file_info(fs.FileSelector(root, recursive=False, allow_not_found=True))
    except (OSError, ArrowException) as err:
        raise DataError(f"cannot list {uri}: {str(err).splitlines()[0]}") from None
    return sorted(info.base_name for info in infos if info.type == fs.FileType.Directory)


def is_file(uri: str) -> bool:
    from pyarrow import ArrowException, fs  # deferred: pyarrow, for runs in object storage only

    filesystem_, path = filesystem(uri)
    try:
        return filesystem_.get_file_info(path).type == fs.FileType.File
    except (OSError, ArrowException) as err:
        raise DataError(f"cannot read {uri}: {str(err).splitlines()[0]}") from None


def wanted(relative: str, events: bool) -> bool:
    """Whether :func:`local_run` fetches a file of the run: the run's own files and each trial's records."""
    parts = relative.split("/")
    if len(parts) == 1:
        return True
    if len(parts) != 2:  # checkpoints and whatever else lies deeper
        return False
    return parts[1] in RECORDS or (events and parts[1].startswith("events.out.tfevents."))


@contextlib.contextmanager
def local_run(run_dir: str, write_back: bool = False, events: bool = False) -> Iterator[str]:
    """``run_dir`` itself when it is a path; for a URI, a temporary folder with the run's records (see the module's
    docstring), whose changes are written back when the block ends without an exception and ``write_back`` is
    set."""
    if not is_uri(run_dir):
        yield run_dir
        return
    temporary = tempfile.mkdtemp(prefix="run-")
    # <space>/<name> as in the storage: the report is titled after them
    folder = os.path.join(temporary, *run_dir.split("?")[0].rstrip("/").split("/")[-2:])
    try:
        os.makedirs(folder)
        fetched = fetch(run_dir, folder, events)
        yield folder
        if write_back:
            write_changes(run_dir, folder, fetched)
    except UserError as err:  # name the file where it is, not where its copy was read
        raise type(err)(str(err).replace(folder, run_dir)) from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def fetch(uri: str, folder: str, events: bool) -> dict[str, str]:
    """Copy the run's records into ``folder``; returns each file's digest, by relative path."""
    filesystem_, root = filesystem(uri)
    names = [name for name in list_files(uri) if wanted(name, events)]
    if "manifest.json" not in names:
        raise DataError(f"{uri} is not a run directory (no manifest.json); run directories are "
                        "<storage>/<space>/<name>")

    def read(name: str) -> tuple[str, str]:
        with filesystem_.open_input_stream(f"{root}/{name}") as stream:
            data = stream.readall()
        path = os.path.join(folder, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        return name, hashlib.sha256(data).hexdigest()

    with ThreadPoolExecutor(READERS) as pool:
        return dict(pool.map(read, names))


def write_changes(uri: str, folder: str, fetched: dict[str, str]) -> None:
    """Write what changed in ``folder`` since :func:`fetch` back to ``uri``: trial folders moved within the run are
    moved there whole (all their objects, the unfetched checkpoints too), then new and changed files uploaded and
    removed ones deleted."""
    filesystem_, root = filesystem(uri)
    now = {}
    for parent, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            with open(path, "rb") as handle:
                now[os.path.relpath(path, folder).replace(os.sep, "/")] = hashlib.sha256(handle.read()).hexdigest()
    moved = moved_folders(fetched, now)
    if moved:
        everything = list_files(uri)
        for old, new in moved.items():
            for name in [n for n in everything if n.startswith(f"{old}/")]:
                filesystem_.move(f"{root}/{name}", f"{root}/{new}{name[len(old):]}")
    gone = {name for name in fetched if name not in now and name.split("/")[0] not in moved}
    for name, digest in now.items():
        if fetched.get(name) != digest and not any(name.startswith(f"{new}/") and
                                                    fetched.get(f"{old}{name[len(new):]}") == digest
                                                    for old, new in moved.items()):
            with open(os.path.join(folder, *name.split("/")), "rb") as handle, \
                    filesystem_.open_output_stream(f"{root}/{name}") as out:
                out.write(handle.read())
    for name in sorted(gone):
        filesystem_.delete_file(f"{root}/{name}")


def moved_folders(fetched: dict[str, str], now: dict[str, str]) -> dict[str, str]:
    """Top-level folders of the run that are gone from the local copy and whose ``params.json`` is now elsewhere in
    it, unchanged: where each went (old: new, relative paths)."""
    moved = {}
    for name, digest in fetched.items():
        top, _, rest = name.partition("/")
        if rest != "params.json" or any(n.startswith(f"{top}/") for n in now):
            continue
        for candidate, other in now.items():
            folder = candidate[:-len("/params.json")]
            if (other == digest and candidate.endswith("/params.json") and candidate not in fetched
                    and os.path.basename(folder).startswith(top)):  # set aside as <top> or <top>.<n>
                moved[top] = folder
                break
    return moved
