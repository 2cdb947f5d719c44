"""A SLURM batch script that starts a Ray cluster across its allocation and runs the sweep against it.

The pattern is Ray's own for SLURM: one task per node; the first node runs the Ray head, every other node a Ray
worker (each ``ray start --block`` under ``srun``, so SLURM ends them with the job), and the batch script itself
runs ``sweeps/run.py --address <head>`` on the first node. Token authentication is on (a fresh token per job,
passed to every node in the environment, never written to disk), the dashboard listens on the head's loopback
(reach it with an SSH tunnel), and ports are derived from the job id so that jobs sharing a node do not collide.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field

from restore_core.errors import UserError
from sweeps.launch.common import PROJECT_ROOT, RunArgs, check_run_args, check_trial_fits, warn_storage
from sweeps.launch.slurm_wait import wait_for_job

# sbatch --time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or no limit
SLURM_TIME = re.compile(r"\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}|UNLIMITED|INFINITE")
SLURM_MEMORY = re.compile(r"\d+[KMGTkmgt]?")  # sbatch --mem: megabytes unless a unit follows
JOB_NAME = re.compile(r"[A-Za-z0-9._-]+")
SBATCH_WORD = re.compile(r"[^\s\"'#\\]+")  # one word that an #SBATCH line reads back unchanged


@dataclass
class SlurmOptions:
    nodes: int = 1
    cpus_per_node: int = 8
    gpus_per_node: int = 0
    time: str = "04:00:00"
    partition: str | None = None
    account: str | None = None
    memory: str | None = None  # e.g. "64G" per node
    job_name: str | None = None
    setup: list[str] = field(default_factory=list)  # shell lines before Ray starts (module load ..., conda activate)
    log_dir: str = "slurm-logs"
    python: str = "python"

    def check(self) -> None:
        """Raise :class:`UserError` for values sbatch refuses or that would break the ``#SBATCH`` lines."""
        if self.nodes < 1 or self.cpus_per_node < 1 or self.gpus_per_node < 0:
            raise UserError(f"--nodes and --cpus-per-node must be >= 1 and --gpus-per-node >= 0; got {self.nodes}, "
                            f"{self.cpus_per_node}, {self.gpus_per_node}")
        if not SLURM_TIME.fullmatch(self.time):
            raise UserError(f"--time {self.time!r} is not a SLURM time limit; give minutes, MM:SS, HH:MM:SS, D-HH, "
                            "D-HH:MM, D-HH:MM:SS or UNLIMITED, e.g. --time 04:00:00 or --time 2-00")
        if self.memory is not None and not SLURM_MEMORY.fullmatch(self.memory):
            raise UserError(f"--mem {self.memory!r} is not a SLURM memory size; give a whole number with an optional "
                            "K, M, G or T suffix (megabytes without one), e.g. --mem 64G")
        if self.job_name is not None and not JOB_NAME.fullmatch(self.job_name):
            raise UserError(f"--job-name {self.job_name!r}: use letters, digits, '.', '_' and '-' only, e.g. "
                            "--job-name restore-lsid")
        for flag, value in (("--partition", self.partition), ("--account", self.account)):
            if value is not None and not SBATCH_WORD.fullmatch(value):
                raise UserError(f"{flag} {value!r} goes on an #SBATCH line: give a non-empty value without spaces, "
                                "quotes, '#' or '\\'")

    def output_dir(self) -> str:
        """``--log-dir`` as the ``#SBATCH --output`` line gives it: a relative one stays relative, so that SLURM
        reads it from the folder sbatch runs in (the project root), wherever the project lies on the cluster."""
        path = os.path.normpath(self.log_dir)
        if not SBATCH_WORD.fullmatch(path):
            raise UserError(f"--log-dir {self.log_dir!r} goes on an #SBATCH line: give a folder whose path has no "
                            "spaces, quotes, '#' or '\\', e.g. --log-dir /shared/slurm-logs")
        return path

    def log_path(self, project: str = PROJECT_ROOT) -> str:
        """The absolute ``--log-dir`` on this machine (a relative one is under the project): where the script goes."""
        path = self.output_dir()
        return path if os.path.isabs(path) else os.path.join(project, path)


def job_name(run: RunArgs, options: SlurmOptions) -> str:
    """``--job-name``, or ``restore-<space>-<run name>`` with anything but letters, digits, '.', '_', '-' made '-'."""
    return options.job_name or re.sub(r"[^A-Za-z0-9._-]+", "-", f"restore-{run.space or 'resume'}-{run.name}")


def sbatch_script(run: RunArgs, options: SlurmOptions) -> str:
    """The batch script's text."""
    options.check()
    name = job_name(run, options)
    log_dir = options.output_dir()
    header = [
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={options.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --cpus-per-task={options.cpus_per_node}",
        f"#SBATCH --time={options.time}",
        f"#SBATCH --output={log_dir}/%x-%j.out",
        # SIGTERM to the batch shell alone, 2 minutes before the time limit: the driver stops while Ray is still up
        "#SBATCH --signal=B:TERM@120",
    ]
    if options.gpus_per_node:
        header.append(f"#SBATCH --gpus-per-node={options.gpus_per_node}")
    for flag, value in (("partition", options.partition), ("account", options.account), ("mem", options.memory)):
        if value:
            header.append(f"#SBATCH --{flag}={value}")
    setup = "\n".join(options.setup or ["if [ -f .venv/bin/activate ]; then source .venv/bin/activate; fi"])
    sweep = shlex.join([options.python, "sweeps/run.py", *run.args])
    ray = f"{shlex.quote(options.python)} -m ray.scripts.scripts"  # the Ray of --python, not whichever `ray` is on PATH
    return "\n".join(header) + f"""
# Written by sweeps/submit.py slurm. A Ray cluster across the allocation, then the sweep against it.
set -euo pipefail
cd "$SLURM_SUBMIT_DIR"  # sbatch runs from the project root
if [ ! -f sweeps/run.py ]; then
    echo "error: $SLURM_SUBMIT_DIR is not the project root (no sweeps/run.py); run sbatch from the project root" >&2
    exit 2
fi
{setup}

# Token authentication: a fresh token for this job, in the environment that srun passes to every node.
export RAY_AUTH_MODE=token
RAY_AUTH_TOKEN="$({shlex.quote(options.python)} -c 'import secrets; print(secrets.token_hex(32))')"
export RAY_AUTH_TOKEN
unset RAY_AUTH_TOKEN_PATH RAY_ADDRESS

mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head_node="${{nodes[0]}}"
# the head's address as the other nodes reach it: its first non-loopback IPv4 one (`hostname --ip-address` alone
# gives 127.0.1.1 on a default Debian host); a loopback one only serves a one-node job
head_ip="$(srun --overlap --nodes=1 --ntasks=1 -w "$head_node" \\
    bash -c 'hostname -I 2>/dev/null; hostname --ip-address 2>/dev/null' | tr ' ' '\\n' \\
    | grep -E '^[0-9]+(\\.[0-9]+){{3}}$' | grep -v '^127\\.' | head -n 1 || true)"
head_ip="${{head_ip:-127.0.0.1}}"
echo "ray head: $head_ip"
# Ray's ports, from the job id: jobs that share a node must not collide (Ray's defaults are fixed numbers)
port=$((20000 + (SLURM_JOB_ID % 2000) * 10))
dashboard_port=$((port + 1))
ports=(--dashboard-agent-listen-port=$((port + 2)) --dashboard-agent-grpc-port=$((port + 3))
       --metrics-export-port=$((port + 4)) --runtime-env-agent-port=$((port + 5)))
temp_dir="/tmp/ray-$SLURM_JOB_ID"
cpus="${{SLURM_CPUS_PER_TASK:-{options.cpus_per_node}}}"

cleanup() {{ kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }}
trap cleanup EXIT

srun --overlap --nodes=1 --ntasks=1 -w "$head_node" \\
    {ray} start --head --block --node-ip-address="$head_ip" --port="$port" \\
    --dashboard-host=127.0.0.1 --dashboard-port="$dashboard_port" \\
    --ray-client-server-port=$((port + 6)) "${{ports[@]}}" \\
    --num-cpus="$cpus" --num-gpus={options.gpus_per_node} --temp-dir="$temp_dir" --disable-usage-stats &
for _ in $(seq 180); do
    {ray} status --address "$head_ip:$port" >/dev/null 2>&1 && break
    sleep 1
done
for node in "${{nodes[@]:1}}"; do
    srun --overlap --nodes=1 --ntasks=1 -w "$node" \\
        {ray} start --block --address="$head_ip:$port" --num-cpus="$cpus" --num-gpus={options.gpus_per_node} \\
        "${{ports[@]}}" --temp-dir="$temp_dir" --disable-usage-stats &
done
{shlex.quote(options.python)} - "$head_ip:$port" "${{#nodes[@]}}" 300 <<'WAIT'
import sys, time
import ray
ray.init(address=sys.argv[1], logging_level="ERROR")
deadline = time.time() + float(sys.argv[3])
while sum(n["Alive"] for n in ray.nodes()) < int(sys.argv[2]) and time.time() < deadline:
    time.sleep(2)
alive = sum(n["Alive"] for n in ray.nodes())
print(f"ray cluster: {{alive}} of {{sys.argv[2]}} nodes", flush=True)
if alive < int(sys.argv[2]):
    sys.exit(f"error: only {{alive}} of {{sys.argv[2]}} nodes joined the Ray head at {{sys.argv[1]}} within "
             f"{{sys.argv[3]}} s; the job stops here: the workers' lines above say why")
WAIT
echo "dashboard: ssh -N -L 8265:127.0.0.1:$dashboard_port $head_node, then open http://127.0.0.1:8265"

# the driver in the background, so that a SIGTERM to this shell (the --signal lead time, or
# scancel --batch --signal=TERM) reaches it while Ray is still up: it saves the experiment and exits with 143
{sweep} --address "$head_ip:$port" &
driver=$!
trap 'kill -TERM "$driver" 2>/dev/null || true' TERM
while true; do
    status=0
    wait "$driver" || status=$?
    kill -0 "$driver" 2>/dev/null || break  # still running: the wait was cut short by the TERM above
done
exit "$status"
"""


def write_script(text: str, path: str) -> str:
    """Write the batch script (executable) at ``path``, creating its folder; returns the absolute path.

    Raises:
        UserError: the folder cannot be created or written.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, 0o755)
    except OSError as err:
        raise UserError(f"--log-dir {folder}: cannot write the batch script there ({err.strerror}); give a folder "
                        "you can write, e.g. --log-dir /shared/slurm-logs") from None
    return os.path.abspath(path)


def submit_script(path: str, log_dir: str) -> str | None:
    """``sbatch`` the script; returns the job's id (None: no sbatch on this machine)."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        return None
    os.makedirs(log_dir, exist_ok=True)
    # from the project root: the script cds to the folder sbatch ran in, and a relative --output is read from it
    proc = subprocess.run([sbatch, "--parsable", path], capture_output=True, text=True, cwd=PROJECT_ROOT)
    job_id = proc.stdout.strip().split(";")[0] or None
    if proc.returncode != 0 or job_id is None:
        raise UserError(f"sbatch refused the script: {proc.stderr.strip().splitlines()[-1] if proc.stderr else ''}")
    return job_id


def scontrol_beside_sbatch() -> str:
    """The ``scontrol`` of the SLURM whose ``sbatch`` submitted the job."""
    sbatch = shutil.which("sbatch")
    return (shutil.which("scontrol", path=os.path.dirname(sbatch)) if sbatch else None) or "scontrol"


# -- the launch target's interface (sweeps.launch.cli) ---------------------------------------------------------------
NAME = "slurm"
HELP = "write a SLURM batch script (Ray head + workers) and sbatch it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The route's own options (before ``--``)."""
    parser.add_argument("--nodes", type=int, default=1,
                        help="nodes of the job: the Ray head and a worker on each other")
    parser.add_argument("--cpus-per-node", type=int, default=8, help="CPUs per node (sbatch --cpus-per-task)")
    parser.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node (sbatch --gpus-per-node)")
    parser.add_argument("--time", default="04:00:00", help="wall-time limit of the job")
    parser.add_argument("--partition", help="SLURM partition (default: the cluster's)")
    parser.add_argument("--account", help="SLURM account to charge (default: yours)")
    parser.add_argument("--mem", help="memory per node, e.g. 64G")
    parser.add_argument("--job-name", help="the job's name (default: restore-<space>-<run name>)")
    parser.add_argument("--setup", action="append", default=[], metavar="LINE",
                        help="shell line run before Ray starts, e.g. 'module load cuda' (repeatable; default: "
                        "activate .venv when there is one)")
    parser.add_argument("--log-dir", default="slurm-logs", help="where the script and the job's output go")
    parser.add_argument("--python", default="python", help="the Python that runs Ray and sweeps/run.py on the nodes")
    parser.add_argument("--print", action="store_true", help="print the script instead of submitting it")
    parser.add_argument("--wait", action="store_true",
                        help="block until the job ends, showing its state, and exit with its exit status")


def launch(args: argparse.Namespace, run_args: list[str]) -> int:
    """Check the route's options and the sweeps/run.py arguments, then submit (or write) the sweep."""
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
    job_id = submit_script(path, log_dir)
    if job_id is None:
        print(f"sbatch is not on this machine; the script is {path}: copy the project to the cluster and run "
              f"sbatch {os.path.relpath(path, PROJECT_ROOT)} from the project root there")
        return 0
    print(f"submitted SLURM job {job_id}: {path}")
    print(f"  output: {log_dir}/<job name>-{job_id}.out    cancel: scancel {job_id}", flush=True)
    if not args.wait:
        return 0
    code = wait_for_job(scontrol_beside_sbatch(), job_id)
    print(f"SLURM job {job_id} ended with exit code {code}")
    return code
