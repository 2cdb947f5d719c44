"""What the tests of ``sweeps/submit.py`` share: an environment without Ray's address and token settings, this
machine's outward address, a Ray head of their own (``ray start --head`` with its own ports and temp dir, stopped
after), whether this machine's SLURM takes jobs, and a copy of the example plugin files."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT, free_port
from tests.worker_forks import python_command, python_first_on_path

BIN = os.path.dirname(sys.executable)
EXAMPLES = os.path.join(ROOT, "examples", "plugins")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Ray's address and token settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH", "RAY_API_SERVER"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `python` and `ray` of this virtual environment
    return {**env, **extra}


def outward_address() -> str | None:
    """The IPv4 address other machines reach this one by, or None when it has only loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP connect sends nothing; it picks the outward interface
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@contextlib.contextmanager
def ray_head(folder, mode: str, host: str = "127.0.0.1", token: str | None = None):
    """``ray start --head`` with ``RAY_AUTH_MODE=mode``, its dashboard on ``host``, one declared GPU and its own
    ports and temp dir; yields (dashboard url, GCS address) once the dashboard answers, stops the node after."""
    port, dashboard = free_port(), free_port()
    temp_dir = f"/tmp/rt-{secrets.token_hex(3)}"  # short: Ray's Unix sockets live under it
    # `ray start` forked, its node's workers, agents and dashboard too (tests/worker_forks.py)
    command = [*python_command(), "-m", "ray.scripts.scripts", "start", "--head", "--block", "--node-ip-address",
               "127.0.0.1", "--port", str(port), "--dashboard-host", host, "--dashboard-port", str(dashboard),
               "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
               "--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port()),
               "--ray-client-server-port", str(free_port()), "--num-cpus", "2", "--num-gpus", "1",
               "--temp-dir", temp_dir, "--disable-usage-stats"]
    # its jobs' `python` forked too
    env = python_first_on_path(clean_env(RAY_AUTH_MODE=mode, **({"RAY_AUTH_TOKEN": token} if token else {})))
    log = open(folder / "head.log", "w")  # noqa: SIM115 (closed below)
    head = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{host}:{dashboard}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        deadline = time.time() + 120
        while True:
            try:
                request = urllib.request.Request(f"{url}/api/version", headers=headers)
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert head.poll() is None and time.time() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        yield url, f"127.0.0.1:{port}"
    finally:
        # every process of the node at once, as the cluster tests stop theirs: `ray start --block` on SIGTERM gives
        # each of its node's processes in turn a second to end and a second once killed (6-17 s in all here)
        from tests.sweeps.cluster.ray_nodes import RayNode  # (which imports this module)

        RayNode("head", head, temp_dir, log).stop()


def slurm_ready() -> bool:
    """True when ``sbatch`` is here and ``sinfo`` shows a node that is up and takes jobs."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%a %T"], capture_output=True, text=True)
    return state.returncode == 0 and any(line.startswith("up") and ("idle" in line or "mix" in line)
                                         for line in state.stdout.splitlines())


def copy_plugins(tmp_path) -> str:
    """examples/plugins' tiny_net.py and tiny_space.py copied into ``tmp_path/mine``; returns that folder."""
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("tiny_net.py", "tiny_space.py"):
        shutil.copy(os.path.join(EXAMPLES, name), folder / name)
    return str(folder)
