"""The run directory's files that tell how each trial ended, as the sweep writes them and the analysis reads them.

``status.json`` is written once per trial, when the trial ended (``{"status": "terminated" or "error", "error":
...}``); a trial folder without it never ended (the driver died first). ``timeout.json`` is written by the trial
itself when ``--trial-timeout`` stopped it, with the reason. ``retried-errors.txt`` keeps the errors of attempts
that were run again. The sweep (``sweeps.ledger``) writes them; this module is their one definition, and that of the
node id each report of a trial carries.
"""

from __future__ import annotations

import json
import os
from typing import Any

from restore_core.errors import DataError
from restore_core.io import read_json_object

# Every report of a trial carries the Ray node id of the attempt that made it (``ray.get_runtime_context()
# .get_node_id()``): which machine trained it, and, after its node died, that a retry went on elsewhere.
NODE_KEY = "node_id"
STATUS_FILE = "status.json"
TIMEOUT_FILE = "timeout.json"
RETRIED_FILE = "retried-errors.txt"
STATUSES = ("terminated", "error")
STATUS_FORMAT = 'a trial\'s status.json is {"status": "terminated" or "error", "error": ...}, as the sweep writes it'
TIMEOUT_FORMAT = 'a trial\'s timeout.json is {"error": "<why it was stopped>"}, as --trial-timeout writes it'


def read_status(trial_dir: str) -> dict[str, Any] | None:
    """How the trial ended (None: it has not, as far as its folder tells).

    Raises:
        DataError: ``status.json`` is not what ``sweeps.ledger.status.record_end`` writes (not UTF-8 JSON, not an
            object, or another status).
    """
    path = os.path.join(trial_dir, STATUS_FILE)
    status = read_json_object(path, STATUS_FORMAT)  # written atomically: never seen half written
    if status is not None and status.get("status") not in STATUSES:
        raise DataError(f"{path} has status {json.dumps(status.get('status'))}; {STATUS_FORMAT}")
    return status


def read_timeout(trial_dir: str) -> dict[str, Any] | None:
    """The time-out the trial recorded (None: none).

    Raises:
        DataError: ``timeout.json`` is not what ``sweeps.ledger.status.write_timeout`` writes.
    """
    path = os.path.join(trial_dir, TIMEOUT_FILE)
    timeout = read_json_object(path, TIMEOUT_FORMAT)
    if timeout is not None and not isinstance(timeout.get("error"), str):
        raise DataError(f"{path} has error {json.dumps(timeout.get('error'))}; {TIMEOUT_FORMAT}")
    return timeout
