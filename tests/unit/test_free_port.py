"""free_port: ports for the servers tests and benchmarks start, never the same one to two processes
(pytest-xdist's workers) and never one an outgoing connection could take first."""

from __future__ import annotations

import socket
from concurrent.futures import ProcessPoolExecutor

from deploy.local import PORT_RANGE, free_port


def ports(count: int) -> list[int]:
    return [free_port() for _ in range(count)]


def test_two_processes_never_get_the_same_port_and_each_port_binds() -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(ports, [300, 300])
    assert len(set(first)) == len(first) and len(set(second)) == len(second)
    assert not set(first) & set(second)
    low, high = PORT_RANGE
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    assert all(low <= port <= high < ephemeral_low for port in first + second)
    for port in first[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
