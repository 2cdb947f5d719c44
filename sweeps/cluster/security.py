"""Who may reach a Ray cluster: loopback addresses and Ray's token authentication.

Ray's dashboard and Jobs API run any code they are sent. They listen on 127.0.0.1 unless the user asks otherwise,
and a cluster reached over the network must check Ray's token (``RAY_AUTH_MODE=token``). The token is looked up
the way Ray itself does: ``RAY_AUTH_TOKEN``, then the file named by ``RAY_AUTH_TOKEN_PATH``, then
``~/.ray/auth_token`` (written by ``ray get-auth-token --generate``).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from restore_core.errors import UserError

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def host_of(address: str) -> str:
    """The host of ``http://host:port``, ``host:port``, ``ray://host:port`` or ``[v6]:port``."""
    text = address if "://" in address else f"//{address}"
    return (urlsplit(text).hostname or "").lower()


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names of this machine's loopback."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_auth_token() -> str | None:
    """Ray's authentication token for this user, or None when there is none."""
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if token:
        return token
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise UserError(f"RAY_AUTH_TOKEN_PATH={path} cannot be read: {err.strerror}") from None
        if not token:
            raise UserError(f"RAY_AUTH_TOKEN_PATH={path} is empty; it must hold the cluster's token")
        return token
    default = Path.home() / ".ray" / "auth_token"
    if default.is_file():
        token = default.read_text(encoding="utf-8").strip()
        return token or None
    return None


def port_is_free(host: str, port: int) -> bool:
    """Can the dashboard listen on ``host:port`` now (nothing else listens there)?

    Raises:
        UserError: ``host`` is not an address of this machine, or the port cannot be bound for another reason
            than being in use (e.g. a port below 1024 without the privilege).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT does not count
        try:
            sock.bind((host, port))
        except OSError as err:  # socket.gaierror too: not a name or address at all
            if err.errno == errno.EADDRINUSE:
                return False
            if isinstance(err, socket.gaierror) or err.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                raise UserError(f"--dashboard-host {host!r} is not an address of this machine; use 127.0.0.1 "
                                "(default), another address of one of its interfaces, or 0.0.0.0 (every interface)") \
                    from None
            raise UserError(f"cannot listen on port {port} of {host} ({err.strerror}); pass --dashboard-port with "
                            "another port (1024 or above without root)") from None
    return True
