"""Loopback detection, Ray's token lookup order and the port probe."""

import socket

import pytest

from restore_core.errors import UserError
from sweeps.cluster.security import host_of, is_loopback, port_is_free, read_auth_token


@pytest.mark.parametrize("address, host, loopback", [
    ("http://127.0.0.1:8265", "127.0.0.1", True),
    ("localhost:6379", "localhost", True),
    ("[::1]:8265", "::1", True),
    ("http://127.5.0.1", "127.5.0.1", True),
    ("ray://10.0.0.5:10001", "10.0.0.5", False),
    ("https://head.example.org/ray", "head.example.org", False),
    ("0.0.0.0:8265", "0.0.0.0", False),
])
def test_host_and_loopback(address, host, loopback):
    assert host_of(address) == host and is_loopback(host) is loopback


def test_the_token_is_found_where_ray_looks(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert read_auth_token() is None
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("from-home\n")
    assert read_auth_token() == "from-home"
    (tmp_path / "token").write_text("from-path")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "token"))
    assert read_auth_token() == "from-path"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "from-env")
    assert read_auth_token() == "from-env"
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    with pytest.raises(UserError, match="RAY_AUTH_TOKEN_PATH=.*missing cannot be read"):
        read_auth_token()  # a broken setting is an error, as in Ray, never a silent fallback


def test_port_is_free_sees_a_listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
    assert port_is_free("127.0.0.1", port)
