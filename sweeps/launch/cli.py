"""``sweeps/submit.py``: send a sweep to a Ray cluster (Jobs API), to SLURM (a batch script) or to Kubernetes (a
KubeRay RayJob). The ``sweeps/run.py`` arguments follow ``--`` and are checked here first."""

from __future__ import annotations

import argparse
import os
import sys

import yaml

from restore_core.cli import DefaultsHelpFormatter, UserFacingParser, run_user_facing
from sweeps.cluster.storage import storage_warnings
from sweeps.launch.common import (
    PROJECT_ROOT,
    check_run_args,
    check_trial_fits,
    gives,
    require_cluster_storage,
    warn_storage,
)
from sweeps.launch.jobs import dashboard_url, parse_env, submit
from sweeps.launch.kuberay import MOUNT, KubeRayOptions, rayjob_manifests, write_manifest
from sweeps.launch.slurm import SlurmOptions, sbatch_script, submit_script, write_script

ROUTES = ("ray", "slurm", "kuberay")


def build_parser() -> argparse.ArgumentParser:
    parser = UserFacingParser(prog="sweeps/submit.py", description=__doc__.split("\n\n")[0],
                              formatter_class=DefaultsHelpFormatter)
    routes = parser.add_subparsers(dest="route", required=True, metavar="{ray,slurm,kuberay}",
                                   parser_class=UserFacingParser)

    ray = routes.add_parser("ray", help="submit to a running Ray cluster through the Jobs API",
                            formatter_class=DefaultsHelpFormatter)
    ray.add_argument("--address", required=True,
                     help="the head's dashboard, e.g. http://127.0.0.1:8265 (an SSH tunnel) or http://head:8265")
    ray.add_argument("--insecure", action="store_true",
                     help="submit to a non-loopback address even without token authentication")
    ray.add_argument("--no-follow", action="store_true", help="return after submitting instead of following the log")
    ray.add_argument("--pip", action="append", default=[], metavar="PACKAGE",
                     help="extra pip package for the job's runtime environment (repeatable)")
    ray.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                     help="environment variable for the job; the value is taken verbatim (repeatable)")
    ray.add_argument("--python", default="python", help="the Python that runs sweeps/run.py on the head")

    slurm = routes.add_parser("slurm", help="write a SLURM batch script (Ray head + workers) and sbatch it",
                              formatter_class=DefaultsHelpFormatter)
    slurm.add_argument("--nodes", type=int, default=1, help="nodes of the job: the Ray head and a worker on each other")
    slurm.add_argument("--cpus-per-node", type=int, default=8, help="CPUs per node (sbatch --cpus-per-task)")
    slurm.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node (sbatch --gpus-per-node)")
    slurm.add_argument("--time", default="04:00:00", help="wall-time limit of the job")
    slurm.add_argument("--partition", help="SLURM partition (default: the cluster's)")
    slurm.add_argument("--account", help="SLURM account to charge (default: yours)")
    slurm.add_argument("--mem", help="memory per node, e.g. 64G")
    slurm.add_argument("--job-name", help="the job's name (default: restore-<space>-<run name>)")
    slurm.add_argument("--setup", action="append", default=[], metavar="LINE",
                       help="shell line run before Ray starts, e.g. 'module load cuda' (repeatable; default: "
                       "activate .venv when there is one)")
    slurm.add_argument("--log-dir", default="slurm-logs", help="where the script and the job's output go")
    slurm.add_argument("--python", default="python", help="the Python that runs Ray and sweeps/run.py on the nodes")
    slurm.add_argument("--print", action="store_true", help="print the script instead of submitting it")
    slurm.add_argument("--wait", action="store_true", help="block until the job ends (sbatch --wait)")

    kube = routes.add_parser("kuberay", help="write a KubeRay RayJob manifest (apply it with kubectl)",
                             formatter_class=DefaultsHelpFormatter)
    kube.add_argument("--image", required=True, help="container image holding the project and its dependencies")
    kube.add_argument("--workers", type=int, default=1, help="worker pods (the head runs no trials)")
    kube.add_argument("--cpus-per-worker", type=int, default=4, help="CPUs each worker pod requests")
    kube.add_argument("--gpus-per-worker", type=int, default=0, help="GPUs each worker pod requests")
    kube.add_argument("--memory-per-worker", default="16Gi", help="memory each worker pod requests")
    kube.add_argument("--head-cpus", type=int, default=2, help="CPUs the head pod requests")
    kube.add_argument("--head-memory", default="8Gi", help="memory the head pod requests")
    kube.add_argument("--storage-claim", help="ReadWriteMany PersistentVolumeClaim mounted at /runs on every pod")
    kube.add_argument("--workdir", default="/app", help="where the image holds the project")
    kube.add_argument("--namespace", help="namespace of the RayJob (default: kubectl's current one)")
    kube.add_argument("--output", "-o", help="write the manifest here (default: print it)")
    return parser


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """(submit.py's own arguments, the sweeps/run.py arguments after ``--``)."""
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def main(argv: list[str]) -> int:
    """Each route checks its own options and the sweeps/run.py arguments before it warns, writes or sends anything,
    so that bad input gets its one error line and nothing else."""
    own, run_args = split_argv(argv)
    args = build_parser().parse_args(own)
    return {"ray": _ray, "slurm": _slurm, "kuberay": _kuberay}[args.route](args, run_args)


def _ray(args: argparse.Namespace, run_args: list[str]) -> int:
    url = dashboard_url(args.address)
    env = parse_env(args.env)
    run = check_run_args(run_args)
    require_cluster_storage(run, "a Ray job")
    # said once the cluster answers: an address that fails is the one line
    warnings = storage_warnings(run.storage, None if "://" not in run.storage else 1)
    return submit(url, run, insecure=args.insecure, follow=not args.no_follow, pip=args.pip, env=env,
                  python=args.python, warnings=warnings)


def _slurm(args: argparse.Namespace, run_args: list[str]) -> int:
    options = SlurmOptions(nodes=args.nodes, cpus_per_node=args.cpus_per_node, gpus_per_node=args.gpus_per_node,
                           time=args.time, partition=args.partition, account=args.account, memory=args.mem,
                           job_name=args.job_name, setup=args.setup, log_dir=args.log_dir, python=args.python)
    options.check()
    log_dir = options.log_path()
    # the nodes share the filesystem the run's storage is on: the plugin files are named by their absolute path
    run = check_run_args(run_args).with_plugin_files_at(lambda path: path)
    check_trial_fits(run, "on each node of the job", ("--cpus-per-node", options.cpus_per_node),
                     ("--gpus-per-node", options.gpus_per_node))
    text = sbatch_script(run, options)
    script = os.path.join(log_dir, f"{run.space or 'resume'}-{run.name}.sbatch")
    path = None if args.print else write_script(text, script)
    warn_storage(run.storage if "://" in run.storage else os.path.join(PROJECT_ROOT, run.storage), args.nodes)
    if path is None:
        print(text)
        return 0
    job_id, code = submit_script(path, log_dir, wait=args.wait)
    if job_id is None:
        print(f"sbatch is not on this machine; the script is {path}: copy the project to the cluster and run "
              f"sbatch {os.path.relpath(path, PROJECT_ROOT)} from the project root there")
        return 0
    print(f"submitted SLURM job {job_id}: {path}")
    print(f"  output: {log_dir}/<job name>-{job_id}.out    cancel: scancel {job_id}")
    if args.wait:
        print(f"SLURM job {job_id} ended with exit code {code}")
    return code


def _kuberay(args: argparse.Namespace, run_args: list[str]) -> int:
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


def run_main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run_user_facing(lambda: main(argv))
