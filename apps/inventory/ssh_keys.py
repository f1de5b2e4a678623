"""Reading the host key an SSH server offers (the scan behind POST .../scan-host-key/ and
the key the SSH executor saw). No authentication is attempted and nothing is trusted here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncssh

from apps.core.errors import Conflict

CONNECT_TIMEOUT_SECONDS = 10


class HostUnreachable(Conflict):
    """The scan is refused for now: nothing answered (the host is down, the port or
    address is wrong). A 409 like every refusal; nothing was recorded."""

    default_code = "host_unreachable"


@dataclass(frozen=True)
class OfferedKey:
    algorithm: str
    public_key: str  # "<algorithm> <base64>"
    fingerprint_sha256: str  # "SHA256:..."


def offered_key(key: asyncssh.SSHKey) -> OfferedKey:
    public = key.export_public_key("openssh").decode().split()
    return OfferedKey(algorithm=public[0], public_key=" ".join(public[:2]),
                      fingerprint_sha256=key.get_fingerprint("sha256"))


def ssh_address(host: object) -> str:
    return getattr(host, "primary_ip", None) or getattr(host, "hostname", "")


def scan_host_key(address: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS) -> OfferedKey:
    """The key the server at address:port offers; HostUnreachable when it does not answer."""
    try:
        key = asyncio.run(asyncio.wait_for(asyncssh.get_server_host_key(address, port, config=None), timeout))
    except (TimeoutError, OSError, asyncssh.Error) as exc:
        raise HostUnreachable(f"Could not read the SSH host key of {address}:{port}: {exc}") from exc
    if key is None:
        raise HostUnreachable(f"{address}:{port} offered no SSH host key.")
    return offered_key(key)
