"""Where a run's files go: checks before anything is written, and warnings for storage other nodes cannot see.

On a multi-node cluster every trial writes its checkpoints and results under ``--storage`` on the node it runs on,
and the driver reads them back to resume and to write the tables. That works only when the path is a filesystem
every node mounts at the same place (NFS, Lustre, GPFS, CephFS, ...), or object storage (``s3://``, ``gs://``), which
Ray writes and the driver and the analysis read back through pyarrow (:mod:`analysis.remote`).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from analysis.remote import is_file
from restore_core.errors import UserError

# Filesystem types whose files other machines see (from /proc/mounts); fuse mounts are usually network ones.
SHARED_FS = ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "cephfs", "ceph", "glusterfs", "cifs", "smb3", "smbfs",
             "9p", "panfs", "wekafs", "virtiofs", "fuse.")
NODE_LOCAL_PREFIXES = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/scratch/local", "/local")
def check_new_run_dir(run_dir: str, storage: str) -> None:
    """Fail unless the run directory can be created: it must not hold another run, and its nearest existing parent
    must be a folder that takes a new folder with a file in it. The probe is removed again, so bad input leaves the
    disk as it was. A storage URI is written by Ray itself and is not probed."""
    if "://" in storage:
        if is_file(f"{run_dir}/manifest.json"):
            raise UserError(f"run directory {run_dir} already exists; pass --resume to continue it or another --name")
        return
    if os.path.exists(run_dir) and (not os.path.isdir(run_dir) or os.listdir(run_dir)):
        raise UserError(f"run directory {run_dir} already exists; pass --resume to continue it or another --name")
    parent = run_dir
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserError(f"storage path {storage} is not writable: {parent} is a file, not a folder")
    problem = write_probe(parent)
    if problem:
        raise UserError(f"storage path {storage} is not writable: {problem}; pass --storage with a folder you can "
                        "write to")


def check_run_dir_writable(run_dir: str) -> None:
    """Fail unless the existing run directory takes new files (``--resume`` writes trials and the manifest there).
    A run in object storage is not probed (Ray writes there, and says so when it cannot)."""
    if "://" in run_dir:
        return
    problem = write_probe(run_dir)
    if problem:
        raise UserError(f"run directory {run_dir} is not writable: {problem}; --resume writes the trials' results "
                        "and the manifest there")


def write_probe(folder: str) -> str | None:
    """Create a folder with a file in ``folder`` and remove both; the reason when that fails, else None.

    Only trying tells: ``os.access`` says yes to root everywhere and knows nothing of read-only mounts.
    """
    try:
        probe = tempfile.mkdtemp(prefix=".write-test-", dir=folder)
    except OSError as err:
        return f"cannot create a folder in {folder} ({err.strerror or err})"
    try:
        with open(os.path.join(probe, "probe"), "w", encoding="utf-8") as handle:
            handle.write("ok")
    except OSError as err:
        return f"cannot write a file in {folder} ({err.strerror or err})"
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return None


def create_run_dir(run_dir: str, storage: str) -> None:
    """Create the run directory and prove it takes files; on failure remove what was created."""
    created = run_dir
    while not os.path.exists(os.path.dirname(created)):
        created = os.path.dirname(created)
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write-test")
        with open(probe, "w", encoding="utf-8") as handle:
            handle.write("ok")
        os.unlink(probe)
    except OSError as err:
        if not os.path.exists(os.path.join(created, "manifest.json")):
            shutil.rmtree(created, ignore_errors=True)
        raise UserError(f"storage path {storage} is not writable: {err.strerror or err}") from None


def filesystem_type(path: str) -> str:
    """The type (``ext4``, ``nfs4``, ``tmpfs``...) of the filesystem that holds ``path`` (Linux), or ``""``."""
    return mount_of(path)[2]


def mount_of(path: str) -> tuple[str, str, str]:
    """The mount point, device and type of the filesystem that holds ``path``, from /proc/mounts (Linux); empty
    strings where that cannot be read."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    path = os.path.realpath(path)
    best = ("", "", "")
    try:
        with open("/proc/mounts", encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace("\\040", " ")
                if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best[0]):
                    best = (mount, fields[0], fields[2])
    except OSError:
        return ("", "", "")
    return best


def is_shared_type(fstype: str) -> bool:
    """Whether files on a filesystem of type ``fstype`` (as /proc/mounts names it) are seen by other machines: one
    of ``SHARED_FS``, or a fuse mount of a named kind (``fuse.sshfs``), not a local fuse block device (``fuseblk``)."""
    return any(fstype == kind or (kind.endswith(".") and fstype.startswith(kind)) for kind in SHARED_FS)


def is_shared_path(path: str) -> bool | None:
    """True when ``path`` is on a network filesystem, False when it is node-local, None when unknown."""
    absolute = os.path.abspath(path)
    if any(absolute == p or absolute.startswith(p + "/") for p in NODE_LOCAL_PREFIXES):
        return False
    fstype = filesystem_type(absolute)
    if not fstype:
        return None
    return is_shared_type(fstype)


def storage_warnings(storage: str, nodes: int | None) -> list[str]:
    """Warnings about ``--storage`` for a sweep over ``nodes`` nodes (None: not known before submission)."""
    if "://" in storage:  # object storage: every node writes there, and the driver reads it back (analysis.remote)
        return []
    if nodes is not None and nodes <= 1:
        return []
    if nodes is None and os.path.isabs(storage) and not os.path.exists(storage):  # a path of the cluster's
        return [f"--storage {storage} does not exist on this machine, so whether every node of the cluster mounts it "
                "could not be checked here: it must be a path every node mounts at the same place (NFS, Lustre, ...)"]
    shared = is_shared_path(storage)
    where = f"a {nodes}-node cluster" if nodes else "a cluster"
    if shared is False:
        return [f"--storage {storage} is on a node-local filesystem ({filesystem_type(storage) or 'local'}); on "
                f"{where} each node would keep its own trials: use a path every node mounts (NFS, Lustre, ...)"]
    if shared is None or not os.path.isabs(storage):
        return [f"--storage {storage}: on {where} it must be a path every node mounts at the same place "
                "(NFS, Lustre, ...); give an absolute path on a shared filesystem"]
    return []
