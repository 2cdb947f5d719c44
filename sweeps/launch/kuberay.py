"""A KubeRay ``RayJob`` manifest: a Ray cluster on Kubernetes that runs the sweep and goes away afterwards.

The image must hold the project and its dependencies (e.g. a ``rayproject/ray`` base with ``pip install .`` and the
project copied to ``/app``). Trials of a multi-node sweep write into one run directory, so the manifest mounts a
``ReadWriteMany`` PersistentVolumeClaim at the same path on the head and on every worker and points ``--storage``
there. Token authentication is on (``authOptions.mode: token``, KubeRay 1.5.1 or newer with Ray 2.52 or newer: the
operator creates the token Secret and gives it to every Ray container).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shlex
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import ray
import yaml

from restore_core.errors import UserError
from sweeps.cluster.code import submitted_env
from sweeps.launch.common import RunArgs, check_run_args, check_trial_fits, gives, require_cluster_storage, warn_storage

MOUNT = "/runs"
PLUGINS = "/plugins"  # where the ConfigMap of the user's plugin files is mounted
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# a Kubernetes quantity: a decimal number, then a binary (Ki..Ei) or decimal (m, k..E) suffix or an exponent
QUANTITY = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|[KMGTPE]i|[mkMGTPE])?")


@dataclass
class KubeRayOptions:
    image: str
    workers: int = 1
    cpus_per_worker: int = 4
    gpus_per_worker: int = 0
    memory_per_worker: str = "16Gi"
    head_cpus: int = 2
    head_memory: str = "8Gi"
    storage_claim: str | None = None  # a ReadWriteMany PVC mounted at /runs on every pod
    workdir: str = "/app"  # where the image holds the project
    namespace: str | None = None
    ttl_seconds: int = 3600  # how long the finished RayJob (and its logs) stay

    def check(self) -> None:
        """Raise :class:`UserError` for values Kubernetes would refuse (names, quantities) or that cannot run."""
        if self.workers < 1 or self.cpus_per_worker < 1 or self.gpus_per_worker < 0 or self.head_cpus < 1:
            raise UserError("--workers, --cpus-per-worker and --head-cpus must be >= 1 and --gpus-per-worker >= 0")
        if not self.image.strip() or any(char.isspace() for char in self.image):
            raise UserError(f"--image {self.image!r}: give a container image reference without spaces, e.g. "
                            "--image registry.example/restore:1")
        for flag, value in (("--memory-per-worker", self.memory_per_worker), ("--head-memory", self.head_memory)):
            if not is_memory_quantity(value):
                raise UserError(f"{flag} {value!r} is not a Kubernetes memory quantity; give a number > 0 with an "
                                "optional suffix such as Ki, Mi, Gi, Ti or k, M, G, T, e.g. 16Gi or 512Mi")
        if self.storage_claim is not None and not is_dns_subdomain(self.storage_claim):
            raise UserError(f"--storage-claim {self.storage_claim!r} is not a PersistentVolumeClaim name (RFC 1123 "
                            "subdomain): lowercase letters, digits, '-' and '.', starting and ending with a letter or "
                            "digit, at most 253 characters, e.g. runs-rwx")
        if self.namespace is not None and not is_dns_label(self.namespace):
            raise UserError(f"--namespace {self.namespace!r} is not a namespace name (RFC 1123 label): lowercase "
                            "letters, digits and '-', starting and ending with a letter or digit, at most 63 "
                            "characters, e.g. ml-sweeps")
        if not self.workdir.startswith("/"):
            raise UserError(f"--workdir {self.workdir!r} must be the absolute path of the project inside the image, "
                            "e.g. /app")


def is_dns_label(name: str) -> bool:
    """An RFC 1123 label, as Kubernetes requires of namespaces."""
    return len(name) <= 63 and DNS_LABEL.fullmatch(name) is not None


def is_dns_subdomain(name: str) -> bool:
    """An RFC 1123 subdomain (labels joined by '.'), as Kubernetes requires of most object names."""
    return len(name) <= 253 and all(DNS_LABEL.fullmatch(label) for label in name.split("."))


def is_memory_quantity(text: str) -> bool:
    """A Kubernetes quantity above zero: ``16Gi``, ``512Mi``, ``8G``, ``1e9``, ``1.5Gi``."""
    match = QUANTITY.fullmatch(text)
    return match is not None and float(match.group(1)) > 0


def write_manifest(text: str, path: str) -> None:
    """Write the manifest at ``path`` whole or not at all (through a temporary file in the same folder).

    Raises:
        UserError: ``path`` is a folder, its folder does not exist, or the file cannot be written.
    """
    if os.path.isdir(path) or not os.path.basename(path):
        raise UserError(f"-o {path} is a folder; give the manifest's file name, e.g. "
                        f"-o {os.path.join(path, 'rayjob.yaml')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"-o {path}: the folder {folder} does not exist; create it or write the manifest elsewhere")
    partial = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(partial, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise UserError(f"-o {path}: cannot write the manifest there ({err.strerror}); give a file in a folder you "
                        "can write") from None


RAYJOB_NAME_MAX = 47  # KubeRay refuses longer RayJob names (its Job and cluster names add to them)


def rayjob_name(run: RunArgs) -> str:
    """``restore-<space>-<run>`` cut to fit, with a random suffix: each manifest is a new RayJob, so that a second
    resume of a run is not the unchanged RayJob of the first to ``kubectl apply``."""
    base = k8s_name(f"restore-{run.space or 'resume'}-{run.name}")[: RAYJOB_NAME_MAX - 6].rstrip("-")
    return f"{base}-{uuid.uuid4().hex[:5]}"


def k8s_name(text: str) -> str:
    """A DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "restore-sweep"


def _resources(cpus: int, memory: str, gpus: int = 0) -> dict[str, Any]:
    amount = {"cpu": str(cpus), "memory": memory}
    if gpus:
        amount["nvidia.com/gpu"] = str(gpus)
    return {"requests": dict(amount), "limits": dict(amount)}


def _container(name: str, options: KubeRayOptions, resources: dict[str, Any], ports: list | None = None,
               plugins: str | None = None) -> dict:
    container: dict[str, Any] = {"name": name, "image": options.image, "workingDir": options.workdir,
                                 "resources": resources, "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}]}
    if ports:
        container["ports"] = ports
    mounts = [{"name": "runs", "mountPath": MOUNT}] if options.storage_claim else []
    if plugins:
        mounts.append({"name": "plugins", "mountPath": PLUGINS, "readOnly": True})
    if mounts:
        container["volumeMounts"] = mounts
    return container


def _pod(container: dict, options: KubeRayOptions, plugins: str | None = None) -> dict:
    spec: dict[str, Any] = {"containers": [container]}
    volumes = [{"name": "runs", "persistentVolumeClaim": {"claimName": options.storage_claim}}] \
        if options.storage_claim else []
    if plugins:
        volumes.append({"name": "plugins", "configMap": {"name": plugins}})
    if volumes:
        spec["volumes"] = volumes
    return {"spec": spec}


def plugin_config_map(run: RunArgs, name: str, namespace: str | None) -> dict[str, Any] | None:
    """A ConfigMap holding the user's plugin files, mounted at /plugins on every pod (None: no plugin files).

    Raises:
        UserError: a plugin package of this machine (a folder), which a ConfigMap cannot hold.
    """
    files = run.uploads()
    folders = [path for path in files if os.path.isdir(path)]
    if folders:
        raise UserError(f"the plugin package {folders[0]} is a folder of this machine, which a RayJob cannot take "
                        "along: install it in the image, or pass its modules as .py files with --import")
    if not files:
        return None
    data = {}
    for path in files:
        with open(path, encoding="utf-8") as handle:
            data[os.path.basename(path)] = handle.read()
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "restore-sweeps"}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def rayjob_manifests(run: RunArgs, options: KubeRayOptions) -> list[dict[str, Any]]:
    """The RayJob, after a ConfigMap of the user's plugin files when there are some (``yaml.safe_dump_all`` them;
    ``kubectl apply -f`` takes both)."""
    options.check()
    name = rayjob_name(run)
    config_map = plugin_config_map(run, f"{name}-plugins", options.namespace)
    if config_map is None:
        return [rayjob_manifest(run, options, name)]
    run = run.with_plugin_files_at(lambda path: f"{PLUGINS}/{os.path.basename(path)}")
    # a resumed run's recorded files the command does not name: the driver loads them from the ConfigMap
    named = [f"--import={PLUGINS}/{file}" for file in config_map["data"] if not any(
        f"{PLUGINS}/{file}" in arg for arg in run.args)]
    run = dataclasses.replace(run, args=[*run.args, *named])
    return [config_map, rayjob_manifest(run, options, name, config_map["metadata"]["name"])]


def rayjob_manifest(run: RunArgs, options: KubeRayOptions, name: str | None = None,
                    plugins: str | None = None) -> dict[str, Any]:
    """The RayJob as a dict (``yaml.safe_dump`` it); ``plugins`` names a ConfigMap mounted at /plugins."""
    options.check()
    args = list(run.args)
    if options.storage_claim and not gives(args, "--storage"):
        args += ["--storage", MOUNT]
    entrypoint = shlex.join(["python", f"{options.workdir.rstrip('/')}/sweeps/run.py", *args])
    # the plugins' files as this machine has them: the job's driver records its copies as those (an analysis here
    # loads them) and uploads the copies to the workers
    env_vars = {"PYTHONUNBUFFERED": "1", "OPENCV_LOG_LEVEL": "OFF", **submitted_env(run.plugins)}
    head_ports = [{"containerPort": 6379, "name": "gcs-server"}, {"containerPort": 8265, "name": "dashboard"},
                  {"containerPort": 10001, "name": "client"}]
    head = _container("ray-head", options, _resources(options.head_cpus, options.head_memory), head_ports, plugins)
    worker = _container("ray-worker", options, _resources(options.cpus_per_worker, options.memory_per_worker,
                                                         options.gpus_per_worker), plugins=plugins)
    metadata: dict[str, Any] = {
        "name": name or rayjob_name(run),
        "labels": {"app.kubernetes.io/name": "restore-sweeps", "restore-sweeps/space": k8s_name(run.space or "")},
    }
    if options.namespace:
        metadata["namespace"] = options.namespace
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": metadata,
        "spec": {
            "entrypoint": entrypoint,
            "runtimeEnvYAML": yaml.safe_dump({"env_vars": env_vars}, sort_keys=False, width=1000),
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": options.ttl_seconds,
            "submissionMode": "K8sJobMode",
            "rayClusterSpec": {
                "rayVersion": ray.__version__,
                "authOptions": {"mode": "token"},
                "headGroupSpec": {
                    # no trials on the head: it runs the driver, the dashboard and the GCS
                    "rayStartParams": {"num-cpus": "0"},
                    "template": _pod(head, options, plugins),
                },
                "workerGroupSpecs": [{
                    "groupName": "trials",
                    "replicas": options.workers,
                    "minReplicas": options.workers,
                    "maxReplicas": options.workers,
                    "rayStartParams": {},
                    "template": _pod(worker, options, plugins),
                }],
            },
        },
    }


# -- the launch target's interface (sweeps.launch.cli) ---------------------------------------------------------------
NAME = "kuberay"
HELP = "write a KubeRay RayJob manifest (apply it with kubectl)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The route's own options (before ``--``)."""
    parser.add_argument("--image", required=True, help="container image holding the project and its dependencies")
    parser.add_argument("--workers", type=int, default=1, help="worker pods (the head runs no trials)")
    parser.add_argument("--cpus-per-worker", type=int, default=4, help="CPUs each worker pod requests")
    parser.add_argument("--gpus-per-worker", type=int, default=0, help="GPUs each worker pod requests")
    parser.add_argument("--memory-per-worker", default="16Gi", help="memory each worker pod requests")
    parser.add_argument("--head-cpus", type=int, default=2, help="CPUs the head pod requests")
    parser.add_argument("--head-memory", default="8Gi", help="memory the head pod requests")
    parser.add_argument("--storage-claim", help="ReadWriteMany PersistentVolumeClaim mounted at /runs on every pod")
    parser.add_argument("--workdir", default="/app", help="where the image holds the project")
    parser.add_argument("--namespace", help="namespace of the RayJob (default: kubectl's current one)")
    parser.add_argument("--output", "-o", help="write the manifest here (default: print it)")


def launch(args: argparse.Namespace, run_args: list[str]) -> int:
    """Check the route's options and the sweeps/run.py arguments, then submit (or write) the sweep."""
    options = KubeRayOptions(image=args.image, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                             gpus_per_worker=args.gpus_per_worker, memory_per_worker=args.memory_per_worker,
                             head_cpus=args.head_cpus, head_memory=args.head_memory, storage_claim=args.storage_claim,
                             workdir=args.workdir, namespace=args.namespace)
    options.check()
    run = check_run_args(run_args)
    check_trial_fits(run, "on each worker pod", ("--cpus-per-worker", options.cpus_per_worker),
                     ("--gpus-per-worker", options.gpus_per_worker))
    explicit_storage = gives(run.args, "--storage")
    if explicit_storage:
        require_cluster_storage(run, "a RayJob")
    text = yaml.safe_dump_all(rayjob_manifests(run, options), sort_keys=False, width=120)
    if args.output:
        write_manifest(text, args.output)
    if "://" in run.storage:
        warn_storage(run.storage, 1)
    elif not options.storage_claim:
        print("warning: no --storage-claim: the run directory stays on the head pod's disk and is lost with the pod; "
              "mount a ReadWriteMany volume with --storage-claim, or pass --storage s3://...", file=sys.stderr)
    elif explicit_storage and not run.storage.startswith(MOUNT):
        print(f"warning: --storage {run.storage} is not under {MOUNT}, where --storage-claim is mounted",
              file=sys.stderr)
    if args.output:
        print(f"wrote {args.output}; submit it with: kubectl apply -f {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 0
