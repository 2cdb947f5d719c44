"""A KubeRay ``RayJob`` manifest: a Ray cluster on Kubernetes that runs the sweep and goes away afterwards.

The image must hold the project and its dependencies (e.g. a ``rayproject/ray`` base with ``pip install .`` and the
project copied to ``/app``). Trials of a multi-node sweep write into one run directory, so the manifest mounts a
``ReadWriteMany`` PersistentVolumeClaim at the same path on the head and on every worker and points ``--storage``
there. Token authentication is on (``authOptions.mode: token``, KubeRay 1.5.1 or newer with Ray 2.52 or newer: the
operator creates the token Secret and gives it to every Ray container).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

import ray

from restore_core.errors import UserError
from restore_core.sweep.submit_common import RunArgs

MOUNT = "/runs"


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
        if self.workers < 1 or self.cpus_per_worker < 1 or self.gpus_per_worker < 0 or self.head_cpus < 1:
            raise UserError("--workers, --cpus-per-worker and --head-cpus must be >= 1 and --gpus-per-worker >= 0")


def k8s_name(text: str) -> str:
    """A DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "restore-sweep"


def _resources(cpus: int, memory: str, gpus: int = 0) -> dict[str, Any]:
    amount = {"cpu": str(cpus), "memory": memory}
    if gpus:
        amount["nvidia.com/gpu"] = str(gpus)
    return {"requests": dict(amount), "limits": dict(amount)}


def _container(name: str, options: KubeRayOptions, resources: dict[str, Any], ports: list | None = None) -> dict:
    container: dict[str, Any] = {"name": name, "image": options.image, "workingDir": options.workdir,
                                 "resources": resources, "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}]}
    if ports:
        container["ports"] = ports
    if options.storage_claim:
        container["volumeMounts"] = [{"name": "runs", "mountPath": MOUNT}]
    return container


def _pod(container: dict, options: KubeRayOptions) -> dict:
    spec: dict[str, Any] = {"containers": [container]}
    if options.storage_claim:
        spec["volumes"] = [{"name": "runs", "persistentVolumeClaim": {"claimName": options.storage_claim}}]
    return {"spec": spec}


def rayjob_manifest(run: RunArgs, options: KubeRayOptions) -> dict[str, Any]:
    """The RayJob as a dict (``yaml.safe_dump`` it)."""
    options.check()
    args = list(run.args)
    if options.storage_claim and "--storage" not in args:
        args += ["--storage", MOUNT]
    entrypoint = shlex.join(["python", f"{options.workdir.rstrip('/')}/sweeps/run.py", *args])
    head_ports = [{"containerPort": 6379, "name": "gcs-server"}, {"containerPort": 8265, "name": "dashboard"},
                  {"containerPort": 10001, "name": "client"}]
    head = _container("ray-head", options, _resources(options.head_cpus, options.head_memory), head_ports)
    worker = _container("ray-worker", options, _resources(options.cpus_per_worker, options.memory_per_worker,
                                                         options.gpus_per_worker))
    metadata: dict[str, Any] = {
        "name": k8s_name(f"restore-{run.space or 'resume'}-{run.name}"),
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
            "runtimeEnvYAML": "env_vars:\n  PYTHONUNBUFFERED: '1'\n  OPENCV_LOG_LEVEL: 'OFF'\n",
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": options.ttl_seconds,
            "submissionMode": "K8sJobMode",
            "rayClusterSpec": {
                "rayVersion": ray.__version__,
                "authOptions": {"mode": "token"},
                "headGroupSpec": {
                    # no trials on the head: it runs the driver, the dashboard and the GCS
                    "rayStartParams": {"num-cpus": "0"},
                    "template": _pod(head, options),
                },
                "workerGroupSpecs": [{
                    "groupName": "trials",
                    "replicas": options.workers,
                    "minReplicas": options.workers,
                    "maxReplicas": options.workers,
                    "rayStartParams": {},
                    "template": _pod(worker, options),
                }],
            },
        },
    }
