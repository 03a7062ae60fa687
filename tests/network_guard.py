"""No test reaches beyond loopback: a connection to any other address fails the test that made it.

Installed for the whole session by tests/conftest.py (like python-telegram-bot's offline request
class): sockets may connect to 127.0.0.0/8, ::1, `localhost` and Unix sockets only. Child processes
the tests start are given loopback addresses by the tests themselves.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


class OutsideLoopback(AssertionError):
    """A test tried to reach a host that is not this machine."""


def is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name: resolving it would already reach DNS


def _check(address: Any) -> None:
    if not is_loopback(address):
        raise OutsideLoopback(f"a test tried to connect to {address!r}: tests stay on loopback")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """Names other than localhost would ask DNS, which is beyond loopback too."""
    if host is not None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost" and not _is_address(name):
            raise OutsideLoopback(f"a test tried to look up {name!r}: tests stay on loopback")
        if _is_address(name) and not is_loopback((name, 0)):
            raise OutsideLoopback(f"a test tried to reach {name!r}: tests stay on loopback")
    return _getaddrinfo(host, *args, **kwargs)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%")[0])
        return True
    except ValueError:
        return False


def install() -> None:
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
