"""A training process keeps the memory its steps free (``restore_core/heap.py``): after ``train``, blocks freed and
taken again are not faulted in again, where glibc's defaults (``RESTORE_HEAP=system``) hand them back to the system
and fault them in, zeroed, every time. Run in forked interpreters: mallopt's settings hold for a whole process."""

from __future__ import annotations

import json
import os
import platform
import subprocess

import pytest

from restore_core.errors import UserError
from restore_core.heap import heap_choice, user_set_heap
from sweeps.run import main
from tests.conftest import ROOT, free_port
from tests.worker_forks import python_command

BLOCKS, BLOCK_PAGES = 40, 1024  # 40 blocks of 4 MiB: more than glibc's highest trim threshold (64 MiB)
AFTER_TRAINING = f"""
import json, resource, sys
import numpy as np
from restore_core import train
from restore_core.heap import keep_freed_memory
from search_spaces import get_space

config = get_space("lsid_lr").base_config("smoke")
config["train"].update(steps=2, threads=1)
train(config)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
blocks = [np.ones({BLOCK_PAGES * 512}) for _ in range({BLOCKS})]
del blocks
before = faults()
for _ in range(3):
    blocks = [np.ones({BLOCK_PAGES * 512}) for _ in range({BLOCKS})]
    del blocks
print(json.dumps({{"kept": keep_freed_memory(), "faults": faults() - before}}))
"""


KEPT = "from restore_core.heap import keep_freed_memory; print(keep_freed_memory())"


def python(code: str, **env: str) -> str:
    """What ``code`` prints last, run by a fresh (forked) interpreter with ``env`` added to the environment."""
    done = subprocess.run([*python_command(), "-c", code], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def faults_after_training(**env: str) -> dict:
    return json.loads(python(AFTER_TRAINING, **env))


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
@pytest.mark.usefixtures("forked_workers")
def test_a_trained_process_takes_freed_blocks_again_without_faulting_them_in():
    kept, system = faults_after_training(), faults_after_training(RESTORE_HEAP="system")
    one_round = BLOCKS * BLOCK_PAGES
    assert kept["kept"] and not system["kept"]
    assert system["faults"] >= one_round, system  # glibc's defaults: handed back and faulted in again
    assert kept["faults"] < one_round // 20, kept  # kept: the three rounds reuse the first one's pages


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
@pytest.mark.usefixtures("forked_workers")
def test_the_users_own_malloc_thresholds_are_left_as_set():
    assert python(KEPT) == "True"
    assert python(KEPT, GLIBC_TUNABLES="glibc.malloc.trim_threshold=1048576") == "False"
    assert python(KEPT, MALLOC_MMAP_THRESHOLD_="65536") == "False"


def test_which_environments_set_the_heap_themselves():
    assert not user_set_heap({}) and not user_set_heap({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"})
    assert user_set_heap({"GLIBC_TUNABLES": "glibc.cpu.x=1:glibc.malloc.top_pad=0"})
    assert user_set_heap({"MALLOC_TRIM_THRESHOLD_": "0"}) and not user_set_heap({"MALLOC_TRIM_THRESHOLD_": ""})
    assert heap_choice({}) == "keep" and heap_choice({"RESTORE_HEAP": " System "}) == "system"


def test_an_unknown_heap_setting_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys):
    with pytest.raises(UserError, match="RESTORE_HEAP='big': unknown heap setting; expected one of keep, system"):
        heap_choice({"RESTORE_HEAP": "big"})
    monkeypatch.setenv("RESTORE_HEAP", "big")
    argv = ["--space", "lsid_lr", "--profile", "smoke", "--dry-run", "--dashboard-port", str(free_port()),
            "--storage", str(tmp_path / "runs")]
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: RESTORE_HEAP='big': unknown heap setting"), lines
    assert not (tmp_path / "runs").exists()
