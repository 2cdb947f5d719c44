"""Copies into a run's storage through its atomic filesystem as Ray makes them (pyarrow's copy_files): a checkpoint
handed over on that filesystem is linked into place where it is on the same device, one from elsewhere copied."""

from __future__ import annotations

import os

import pyarrow.fs
import pytest

from sweeps.cluster.atomic_fs import PARTIAL_SUFFIX, atomic_local_filesystem, link_into_place, remove_partial_files


def _copy_files(source: str, target: str, source_filesystem, destination_filesystem) -> None:
    """What Ray's storage does to persist a checkpoint (pyarrow's copy_files, 64 MiB chunks)."""
    pyarrow.fs.copy_files(source, target, source_filesystem=source_filesystem,
                          destination_filesystem=destination_filesystem, chunk_size=64 << 20)


def _staged(folder) -> str:
    folder.mkdir()
    (folder / "state.pt").write_bytes(b"state" * 1000)
    return str(folder)


def _leftovers(folder) -> list[str]:
    return [name for name in os.listdir(folder) if name.endswith(PARTIAL_SUFFIX)]


def test_a_checkpoint_on_the_runs_filesystem_is_linked_into_place(tmp_path):
    source, target = _staged(tmp_path / "staged"), str(tmp_path / "checkpoint_000000")
    storage = atomic_local_filesystem()
    storage.create_dir(target)
    _copy_files(source, target, source_filesystem=storage, destination_filesystem=storage)
    copied, staged = os.stat(os.path.join(target, "state.pt")), os.stat(os.path.join(source, "state.pt"))
    assert copied.st_ino == staged.st_ino and copied.st_nlink == 2  # one file, two names
    assert _leftovers(target) == []


def test_a_checkpoint_from_another_filesystem_is_copied(tmp_path):
    source, target = _staged(tmp_path / "staged"), str(tmp_path / "checkpoint_000000")
    storage = atomic_local_filesystem()
    storage.create_dir(target)
    _copy_files(source, target, source_filesystem=pyarrow.fs.LocalFileSystem(),
                           destination_filesystem=storage)
    copied = os.stat(os.path.join(target, "state.pt"))
    assert copied.st_ino != os.stat(os.path.join(source, "state.pt")).st_ino and copied.st_nlink == 1
    assert (tmp_path / "checkpoint_000000" / "state.pt").read_bytes() == b"state" * 1000
    assert _leftovers(target) == []


def test_no_link_across_devices_and_nothing_left_behind(tmp_path):
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another device than the temporary folder")
    other = os.path.join("/dev/shm", f"atomic-fs-test-{os.getpid()}")
    with open(other, "wb") as handle:
        handle.write(b"x")
    try:
        assert link_into_place(other, str(tmp_path / "state.pt")) is False
        assert os.listdir(tmp_path) == []
    finally:
        os.unlink(other)



def test_what_a_killed_copy_left_is_removed_and_the_checkpoints_stay(tmp_path):
    trial = tmp_path / "trial"
    trial.mkdir()
    kept = _staged(trial / "checkpoint_000001")
    left = [tmp_path / f".experiment_state.json.1a2b{PARTIAL_SUFFIX}", trial / f".result.json.3c4d{PARTIAL_SUFFIX}",
            trial / "checkpoint_000001" / f".state.pt.5e6f{PARTIAL_SUFFIX}"]
    for path in left:
        path.write_bytes(b"cut sh")
    assert sorted(remove_partial_files(str(tmp_path))) == sorted(map(str, left))
    assert not any(path.exists() for path in left)
    assert os.listdir(kept) == ["state.pt"]
    assert (trial / "checkpoint_000001" / "state.pt").read_bytes() == b"state" * 1000
