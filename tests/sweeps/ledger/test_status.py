"""status.json: written once per trial end, in every copy of the trial's folder; time-outs and retries recorded."""

import json

from sweeps.ledger.status import (
    RETRIED_FILE,
    clear_timeout,
    read_status,
    read_timeout,
    record_end,
    write_timeout,
)


def _dirs(tmp_path):
    staging, storage = tmp_path / "staging", tmp_path / "storage"
    staging.mkdir(parents=True)
    storage.mkdir(parents=True)
    return [str(staging), str(storage)]


def test_an_end_is_written_everywhere_once(tmp_path):
    dirs = _dirs(tmp_path)
    record_end(dirs, "terminated", None)
    assert [read_status(d) for d in dirs] == [{"status": "terminated", "error": None}] * 2
    record_end(dirs, "error", "RuntimeError: later")  # a trial ends once
    assert read_status(dirs[1]) == {"status": "terminated", "error": None}


def test_a_timeout_wins_and_a_new_attempt_forgets_it(tmp_path):
    dirs = _dirs(tmp_path)
    message = "timed out: still running after 5 s (--trial-timeout 5)"
    write_timeout(dirs[1], message)
    clear_timeout(dirs[0])  # nothing there: no error
    record_end(dirs, "terminated", None)
    assert read_status(dirs[0]) == {"status": "error", "error": message}

    retried = _dirs(tmp_path / "retried")
    write_timeout(retried[1], message)
    clear_timeout(retried[1])  # Ray's retry of the trial starts a new attempt
    assert read_timeout(retried[1]) is None
    record_end(retried, "terminated", None)
    assert [read_status(d) for d in retried] == [{"status": "terminated", "error": None}] * 2


def test_errors_of_retried_attempts_are_kept_apart(tmp_path):
    dirs = _dirs(tmp_path)
    for folder in dirs:
        with open(f"{folder}/error.txt", "w") as handle:
            handle.write("Failure # 1\nThe actor died unexpectedly\n")
    record_end(dirs, "terminated", None)
    for folder in dirs:
        assert read_status(folder)["status"] == "terminated"
        with open(f"{folder}/{RETRIED_FILE}") as handle:
            assert handle.read().startswith("Failure # 1")
    with open(f"{dirs[0]}/status.json") as handle:
        assert json.load(handle)["error"] is None
