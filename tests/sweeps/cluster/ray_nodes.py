"""A real multi-node Ray cluster on this machine: a head and worker nodes started with ``ray start`` (each with its
own CPUs, custom resource, temp dir and ports, token authentication on), a worker node's processes killed as a lost
machine's would be, and everything stopped again, also when a test fails.

``ray stop`` stops every Ray of the machine (other test runs' too), so each node is stopped through its own
``ray start --block`` process and whatever else runs from its temp dir.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field

import psutil

from tests.conftest import free_port
from tests.sweeps.submission import clean_env
from tests.worker_forks import python_command

STARTUP_S = 240  # a loaded 2-core machine has taken over a minute to start a node


def cluster_env(token: str, **extra: str) -> dict[str, str]:
    """This environment with Ray's token on and no other Ray address or token settings, plus ``extra``."""
    return clean_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, **extra)


@dataclass
class RayNode:
    """One ``ray start --block`` process and its temp dir."""

    name: str
    process: subprocess.Popen
    temp_dir: str
    log: object

    def processes(self) -> list[psutil.Process]:
        """Every process of this node: the ``ray start`` process, its descendants, and what runs from its temp dir
        (Ray's daemons reparent to init when their parent dies). A process forked by the session's server
        (tests/worker_forks.py: ``ray start`` itself, the node's agents, monitors and workers) is not among them, but
        its client is, and it ends when its client does."""
        found: dict[int, psutil.Process] = {}
        try:
            root = psutil.Process(self.process.pid)
            for proc in [root, *root.children(recursive=True)]:
                found[proc.pid] = proc
        except psutil.Error:
            pass
        for proc in psutil.process_iter(["cmdline"]):
            if any(self.temp_dir in part for part in proc.info["cmdline"] or []):
                found[proc.pid] = proc
        return list(found.values())

    def kill_machine(self) -> list[int]:
        """SIGKILL every process of the node at once (its raylet, its workers and the trials they run), as a machine
        lost would be; returns their pids. Killing the raylet alone leaves a tiny trial time to finish on the dying
        node before its worker process notices, so the loss would not be seen."""
        processes = self.processes()
        if not any(_name(proc) == "raylet" for proc in processes):
            raise AssertionError(f"no raylet runs for the Ray node {self.name} ({self.temp_dir})")
        for proc in processes:
            try:
                proc.kill()
            except psutil.Error:
                continue
        return [proc.pid for proc in processes]

    def stop(self) -> None:
        """Stop every process of the node (SIGTERM, then SIGKILL after 1 s) and remove its temp dir. Nothing here needs
        them to end gracefully, and a head's processes (``ray start``, GCS, raylet, dashboard, agents) outlast SIGTERM:
        every one of them was still running after 5 s, and a wait of 30 s was waited out to the end."""
        processes = self.processes()
        for proc in processes:
            try:
                proc.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(processes, timeout=1)
        for proc in alive + self.processes():
            try:
                proc.kill()
            except psutil.Error:
                pass
        self.log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


@dataclass
class Cluster:
    """A head (``head_node`` resource) and workers (``worker_node``) of one Ray cluster with token authentication."""

    folder: str
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    nodes: list[RayNode] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        return cluster_env(self.token, **extra)

    def _start(self, name: str, args: list[str]) -> RayNode:
        temp_dir = f"/tmp/rn-{secrets.token_hex(3)}"  # short: Ray's Unix sockets live under it
        ports = ["--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--metrics-export-port",
                 "--runtime-env-agent-port", "--node-manager-port", "--object-manager-port"]
        # `ray start` forked, its node's workers, agents and dashboard too (tests/worker_forks.py)
        command = [*python_command(), "-m", "ray.scripts.scripts", "start", "--block", "--node-ip-address",
                   "127.0.0.1", "--temp-dir", temp_dir, "--disable-usage-stats", *args]
        for option in ports:
            command += [option, str(free_port())]
        log = open(os.path.join(self.folder, f"{name}.log"), "w")  # noqa: SIM115 (closed by RayNode.stop)
        node = RayNode(name, subprocess.Popen(command, env=self.env(), stdout=log, stderr=subprocess.STDOUT),
                       temp_dir, log)
        self.nodes.append(node)
        return node

    def start_head(self, cpus: int) -> RayNode:
        head = self._start("head", ["--head", "--port", str(self.port), "--dashboard-host", "127.0.0.1",
                                    "--dashboard-port", str(self.dashboard_port), "--ray-client-server-port",
                                    str(free_port()), "--num-cpus", str(cpus), "--resources", '{"head_node": 1}'])
        self.wait_for_nodes(lambda nodes: any("head_node" in n["resources_total"] for n in nodes), head)
        return head

    def start_worker(self, cpus: int) -> tuple[RayNode, str]:
        """A worker node joined to the head; returns it and its Ray node id."""
        known = {n["node_id"] for n in self.node_list()}
        worker = self._start(f"worker{len(self.nodes)}", ["--address", self.address, "--num-cpus", str(cpus),
                                                          "--resources", '{"worker_node": 1}'])
        joined = self.wait_for_nodes(lambda nodes: [n for n in nodes if n["node_id"] not in known and
                                                    n["state"] == "ALIVE"], worker)
        return worker, joined[0]["node_id"]

    def head_id(self) -> str:
        return next(n["node_id"] for n in self.node_list() if "head_node" in n["resources_total"])

    def node_list(self) -> list[dict]:
        """Every node the head knows, alive or dead, from the dashboard's state API (with the token)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.dashboard_port}/api/v0/nodes?detail=1&limit=100",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["data"]["result"]["result"]

    def wait_for_nodes(self, condition, node: RayNode):
        deadline = time.time() + STARTUP_S
        while True:
            try:
                found = condition(self.node_list())
                if found:
                    return found
            except OSError:  # the dashboard is not up yet
                pass
            assert node.process.poll() is None, f"the Ray node {node.name} ended (see {node.log.name})"
            assert time.time() < deadline, f"the Ray node {node.name} did not start in {STARTUP_S} s"
            time.sleep(1)

    def stop(self) -> None:
        for node in reversed(self.nodes):  # workers first: a head stopped first leaves them retrying
            node.stop()
        self.nodes.clear()
