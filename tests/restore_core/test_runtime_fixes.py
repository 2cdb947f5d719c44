"""Names of the wrong type in a config, and the errors of failed trials that ``--retry-failed`` runs again."""

import json
import os

import pytest

from sweeps.ledger.retry import clear_failed
from sweeps.ledger.status import RETRIED_FILE, read_status, record_end
from sweeps.run import main
from tests.conftest import free_port


@pytest.mark.parametrize(
    "key, value, kind, known",
    [("model.name", '["x"]', "model", "lamba_rt, "), ("task.name", '["x"]', "task", "anomaly, desmoke, lowlight"),
     ("model.name", "3", "model", "sid_unet")],
)
def test_a_name_that_is_not_a_string_is_refused_with_the_known_names(key, value, kind, known, tmp_path, capsys):
    argv = ["--space", "lsid_lr", "--profile", "smoke", "--dry-run", "--dashboard-port", str(free_port()),
            "--storage", str(tmp_path / "runs"), "--set", f"{key}={value}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: a {kind} name must be a string; got "), err
    assert "; known: " in lines[0] and known in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()


def _trial(run_dir, name: str, status: dict, files: dict[str, str]) -> str:
    folder = run_dir / name
    folder.mkdir()
    (folder / "status.json").write_text(json.dumps(status))
    for file, text in files.items():
        (folder / file).write_text(text)
    return str(folder)


def test_retry_failed_keeps_the_errors_it_clears(tmp_path):
    failed = _trial(tmp_path, "failed", {"status": "error", "error": "RuntimeError: x"},
                    {"error.txt": "Failure # 1\nRuntimeError: x\n", "error.pkl": "pickle",
                     RETRIED_FILE: "Failure # 1\nThe actor died unexpectedly\n"})
    timed_out = _trial(tmp_path, "timed_out", {"status": "error", "error": "timed out: still running after 5 s"},
                       {"timeout.json": json.dumps({"error": "timed out: still running after 5 s"})})
    done = _trial(tmp_path, "done", {"status": "terminated", "error": None}, {})
    assert clear_failed(str(tmp_path)) == ["failed", "timed_out"]
    assert sorted(os.listdir(failed)) == [RETRIED_FILE] and sorted(os.listdir(timed_out)) == [RETRIED_FILE]
    with open(os.path.join(failed, RETRIED_FILE)) as handle:
        assert handle.read() == "Failure # 1\nThe actor died unexpectedly\nFailure # 1\nRuntimeError: x\n"
    with open(os.path.join(timed_out, RETRIED_FILE)) as handle:
        assert handle.read() == "timed out: still running after 5 s\n"
    assert read_status(done) == {"status": "terminated", "error": None}

    # the retried attempt fails once more under --max-failures, then ends well: every error is still there
    with open(os.path.join(failed, "error.txt"), "w") as handle:
        handle.write("Failure # 1\nOSError: disk\n")
    assert record_end([failed], "terminated", None) == "terminated"
    with open(os.path.join(failed, RETRIED_FILE)) as handle:
        assert handle.read() == ("Failure # 1\nThe actor died unexpectedly\nFailure # 1\nRuntimeError: x\n"
                                 "Failure # 1\nOSError: disk\n")
    assert not os.path.exists(os.path.join(failed, "error.txt"))
