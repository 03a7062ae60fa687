"""The guard that keeps tests on loopback refuses anything else, before a packet leaves."""

from __future__ import annotations

import socket

import pytest

from tests.network_guard import OutsideLoopback


@pytest.mark.parametrize("address", [("10.255.255.1", 80), ("93.184.215.14", 443), ("example.com", 443)])
def test_a_connection_beyond_loopback_fails_the_test(address: tuple[str, int]) -> None:
    with socket.socket() as sock, pytest.raises(OutsideLoopback, match="tests stay on loopback"):
        sock.connect(address)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def test_looking_up_a_name_fails_the_test_before_dns_is_asked() -> None:
    with pytest.raises(OutsideLoopback, match=r"look up 'hooks\.slack\.com'"):
        socket.create_connection(("hooks.slack.com", 443), timeout=2)
