"""Whether a trial failed because the Ray node it ran on died (a machine lost, its raylet killed, a preempted node).

A trial whose node dies fails with Ray's actor error (``ActorUnavailableError`` or ``ActorDiedError``), which says
that the worker process is gone, not why. The node is known from the error's actor (Ray's state API keeps dead
actors with their node), and Ray's GCS declares a node dead only after missing its heartbeats for a while (about
30 s by default), so a node whose raylet no longer accepts connections counts as lost at once.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import ray
from ray import cloudpickle
from ray.exceptions import RayActorError
from ray.util.state import get_actor

from analysis.rundir import NODE_KEY

NODE_LOST = "node lost"  # the reason a trial failed with when its node died (results.csv, the progress table)
RAYLET_PROBE_S = 2.0  # a live raylet accepts a connection at once, even when busy (the kernel accepts it)


def trial_lost_its_node(trial: Any) -> bool:
    """Whether the failed Ray Tune ``trial`` failed because its node died: its error is Ray's actor error (the worker
    process is gone, not an exception raised by the training code) and the node of that actor is gone."""
    error = pickled_error(trial)
    if not isinstance(error, RayActorError):
        return False
    node_id = actor_node(error.actor_id) or (trial.last_result or {}).get(NODE_KEY)
    return node_is_gone(node_id)


def pickled_error(trial: Any) -> BaseException | None:
    """The exception a trial failed with, from its driver-side copy (``Trial.get_pickled_error`` reads the copy under
    the storage, which Ray uploads only at its next sync)."""
    path = trial.pickled_error_file
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as handle:
            return cloudpickle.load(handle)
    except Exception:  # an exception class this process cannot unpickle: not one of Ray's actor errors
        return None


def actor_node(actor_id: str | None) -> str | None:
    """The node an actor ran on, from Ray's state API (None: unknown, e.g. through Ray Client or without the
    dashboard that serves the API)."""
    if not actor_id:
        return None
    try:
        actor = get_actor(actor_id, address=ray.get_runtime_context().gcs_address)
    except Exception:  # the state API is optional (ray[default]); the node of the trial's last report is the fallback
        return None
    return getattr(actor, "node_id", None) or None


def node_is_gone(node_id: str | None) -> bool:
    """Whether the Ray node ``node_id`` is dead (Ray's GCS says so, or its raylet refuses connections)."""
    if not node_id:
        return False
    node = next((n for n in ray.nodes() if n.get("NodeID") == node_id), None)
    if node is None:  # a node of another cluster (a run resumed elsewhere): nothing is known of it here
        return False
    if not node.get("Alive"):
        return True
    return not accepts_connections(node.get("NodeManagerAddress", ""), node.get("NodeManagerPort", 0))


def accepts_connections(host: str, port: int) -> bool:
    if not host or not port:
        return True  # nothing to probe: trust the GCS, which holds the node as alive
    try:
        socket.create_connection((host, int(port)), timeout=RAYLET_PROBE_S).close()
    except OSError:
        return False
    return True
