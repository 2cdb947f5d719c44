"""Talking to a Ray dashboard before a job is sent: its address, whether it is a Ray dashboard at all, and whether
the cluster behind it checks tokens (a Jobs API runs whatever it is sent, so one reached over the network must)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from restore_core.errors import UserError
from sweeps.cluster.security import host_of, is_loopback


def dashboard_url(address: str) -> str:
    """``http://host:8265`` from ``host``, ``host:port`` or a full URL (Ray's Jobs API is on the dashboard port).

    Raises:
        UserError: not an http(s) address with a host and, when given, a port in 1..65535.
    """
    accepted = (f"--address {address}: give the dashboard's HTTP address as http://HOST:PORT with PORT in 1..65535 "
                "(8265 when left out), e.g. http://127.0.0.1:8265")
    try:
        parts = urlsplit(address if "://" in address else f"http://{address}")
        port = parts.port
    except ValueError:  # a broken [IPv6] host, or a port that is not a number or above 65535
        raise UserError(accepted) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise UserError(accepted)
    netloc = parts.netloc if port else f"{parts.netloc.rstrip(':')}:8265"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def not_ray(url: str, answer: str) -> UserError:
    return UserError(f"the server at {url} is not a Ray dashboard ({answer}); give the head's dashboard address, e.g. "
                     "http://127.0.0.1:8265 through ssh -L 8265:127.0.0.1:8265 <head>")


def _get_json(url: str, path: str, timeout: float) -> dict:
    """The JSON object a Ray dashboard answers at ``path`` (a public endpoint).

    Raises:
        urllib.error.HTTPError: an HTTP error status.
        UserError: nothing answers, or the answer is not a JSON object (not a Ray dashboard).
    """
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise UserError(f"cannot reach the Ray dashboard at {url}: {reason}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise not_ray(url, f"its answer to {path} is not JSON")
    return answer


def authentication_mode(url: str, timeout: float = 10.0) -> str:
    """The cluster's ``RAY_AUTH_MODE`` as its dashboard reports it (a public endpoint): ``token`` or ``disabled``.

    Raises:
        UserError: nothing answers at ``url``, or what answers is not a Ray dashboard.
    """
    try:
        return str(_get_json(url, "/api/authentication_mode", timeout).get("authentication_mode", "disabled"))
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise UserError(f"the Ray dashboard at {url} answered {err.code} {err.reason}") from None
    try:  # a Ray from before token authentication has no such endpoint, but tells its version
        version = _get_json(url, "/api/version", timeout)
    except urllib.error.HTTPError as err:
        raise not_ray(url, f"it answered {err.code} {err.reason} to /api/authentication_mode and /api/version") \
            from None
    if "ray_version" not in version:
        raise not_ray(url, "its answer to /api/version names no ray_version")
    return "disabled"


def check_access(url: str, token: str | None, insecure: bool) -> None:
    """Refuse to send code over the network to a cluster that does not check tokens (unless ``--insecure``)."""
    host = host_of(url)
    if is_loopback(host) or insecure:
        return
    if token is None:
        raise UserError(f"refusing to submit to {host}, which is not loopback, without token authentication: set "
                        "RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH, or run `ray get-auth-token` with the cluster's token "
                        "in ~/.ray/auth_token), tunnel to the head with ssh -L, or pass --insecure")
    if authentication_mode(url) != "token":
        raise UserError(f"the cluster at {host} does not check tokens (its head runs without RAY_AUTH_MODE=token), "
                        "so anyone who reaches it can run code; restart it with RAY_AUTH_MODE=token, or pass "
                        "--insecure")
