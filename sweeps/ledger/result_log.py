"""A trial's ``result.json`` and ``progress.csv`` carried whole into its next start, or the sweep stopped.

Ray Tune's JSON and CSV loggers append each report to the trial's files in the driver's staging folder, and Ray
copies that folder over the run directory every few seconds. When a trial starts again from a checkpoint (a resume,
or a retry after a failure), each logger first copies the run's file back into the staging folder and appends to
it. Ray's own copy logs any error and goes on with no file: the next upload then replaced every report the trial had
made with only those after the restart (a read from object storage that times out does this). Here:

- a copy that fails is tried again, for about 15 s; if it still fails, the sweep stops with one line that
  says so, before anything was overwritten (``--resume`` goes on from there);
- the staging copy is kept when it is the longer (a retry in the same driver: the run's copy may lag it by an
  upload), as the files are only ever appended to;
- the copy is written into place whole (a failed read leaves no half file for the next upload to carry).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from restore_core.errors import UserError
from restore_core.io import write_bytes_atomic
from sweeps.ray_private import outside_the_staging_upload

READ_TRIES = 6  # with the waits between them: 0.5 + 1 + 2 + 4 + 8 s (the storage's own retries come on top)


class RecordsUnreadable(UserError):
    """A trial's records in the run directory could not be read to carry them into its restart."""


class KeptHistory:
    """The loggers' ``_restore_from_remote``, which keeps what was reported before the restart (see the module)."""

    def _restore_from_remote(self, file_name: str, trial) -> None:
        if not trial.checkpoint:  # the trial starts from nothing: its earlier reports are not its history
            return
        local = Path(trial.local_path, file_name).as_posix()
        remote = Path(trial.storage.trial_fs_path, file_name).as_posix()
        data = read_records(trial.storage.storage_filesystem, remote, f"trial {trial.trial_id}")
        if data is not None and len(data) > (os.path.getsize(local) if os.path.isfile(local) else 0):
            write_bytes_atomic(local, data, outside_the_staging_upload(local))


class ResultJsonLogger(KeptHistory, JsonLoggerCallback):
    """Ray's ``result.json`` logger, carrying a restarted trial's earlier reports whole."""


class ProgressCsvLogger(KeptHistory, CSVLoggerCallback):
    """Ray's ``progress.csv`` logger, carrying a restarted trial's earlier rows whole."""


def read_records(filesystem, path: str, whose: str, tries: int = READ_TRIES) -> bytes | None:
    """The bytes of ``path`` on the pyarrow ``filesystem``; None when there is no such file (it was never uploaded).
    Raises :class:`RecordsUnreadable` when every one of ``tries`` reads failed."""
    for attempt in range(tries):
        try:
            with filesystem.open_input_stream(path) as stream:
                return stream.readall()
        except FileNotFoundError:
            return None
        except OSError as error:  # pyarrow's errors from object storage are OSErrors
            if attempt == tries - 1:
                reason = " ".join(str(error).split())
                raise RecordsUnreadable(
                    f"cannot read {where(filesystem, path)}, the records of {whose}, to carry them into its restart "
                    f"({tries} tries; last: {reason}); the sweep stopped before they were overwritten: run the same "
                    "command with --resume once the storage answers") from None
            time.sleep(0.5 * 2 ** attempt)
    return None


def where(filesystem, path: str) -> str:
    """``path`` on ``filesystem`` as the user names it: a URI in object storage, a path on a local disk."""
    scheme = {"s3": "s3", "gcs": "gs"}.get(filesystem.type_name)
    return f"{scheme}://{path}" if scheme else path
