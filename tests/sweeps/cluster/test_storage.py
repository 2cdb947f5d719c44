"""Run-directory checks that write nothing, and the warnings about storage other nodes cannot see."""

import os

import pytest

from restore_core.errors import UserError
from sweeps.cluster.storage import (
    check_new_run_dir,
    create_run_dir,
    filesystem_type,
    is_shared_path,
    is_shared_type,
    storage_warnings,
)


def test_new_run_directory_checks_write_nothing(tmp_path):
    run_dir = tmp_path / "runs" / "lsid_lr" / "a"
    check_new_run_dir(str(run_dir), str(tmp_path / "runs"))
    assert os.listdir(tmp_path) == []
    create_run_dir(str(run_dir), str(tmp_path / "runs"))
    assert run_dir.is_dir() and os.listdir(run_dir) == []
    (run_dir / "manifest.json").write_text("{}")
    with pytest.raises(UserError, match="already exists; pass --resume"):
        check_new_run_dir(str(run_dir), "runs")


def test_a_file_in_the_way_is_reported(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match=r"is not writable: .*/file is a file, not a folder"):
        check_new_run_dir(str(tmp_path / "file" / "space" / "run"), str(tmp_path / "file"))


def test_filesystem_type_and_sharing():
    assert filesystem_type("/proc/self") == "proc"
    assert is_shared_path("/proc/self") is False  # judged by its type: not under a node-local prefix
    assert is_shared_path("/tmp/x") is False and is_shared_path("/dev/shm/runs") is False


@pytest.mark.parametrize("fstype", ["nfs", "nfs4", "lustre", "gpfs", "beegfs", "ceph", "cephfs", "glusterfs", "cifs",
                                    "smb3", "9p", "virtiofs", "fuse.sshfs", "fuse.s3fs"])
def test_network_filesystems_are_shared(fstype):
    assert is_shared_type(fstype) is True


@pytest.mark.parametrize("fstype", ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "fuseblk", "fuse", "proc", "nfsd",
                                    "squashfs", ""])
def test_local_filesystems_are_not_shared(fstype):
    assert is_shared_type(fstype) is False


def test_storage_warnings():
    assert storage_warnings("/tmp/runs", 1) == []
    [local] = storage_warnings("/tmp/runs", 4)
    assert "node-local filesystem" in local and "4-node cluster" in local
    [elsewhere] = storage_warnings("/nonexistent/shared/runs", None)  # a submission: judged on the cluster, not here
    assert "does not exist on this machine" in elsewhere and "node-local" not in elsewhere
    # object storage: every node writes there and the driver reads it back, on one node or many
    assert storage_warnings("s3://bucket/runs", 1) == storage_warnings("s3://bucket/runs", 4) == []
