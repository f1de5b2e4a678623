"""Fixtures of the SSH executor's tests: real OpenSSH servers on loopback (tests/ssh/sshd.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.credentials.services import credential_create
from apps.inventory.services import host_create
from tests.engine.conftest import hook_server, make_workflow, run  # noqa: F401 (fixtures of the end-to-end tests)
from tests.ssh.sshd import SSHD, TEST_PASSWORD, TEST_USER, SSHServer, ensure_test_user, keygen


@pytest.fixture(scope="session")
def ssh_client_key(tmp_path_factory) -> Path:
    # A missing server is a broken set-up, not a reason to pass quietly (make test installs it).
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        pytest.fail("openssh-server is not installed: run scripts/test-prerequisites (as root) or "
                    "apt-get install openssh-server")
    return keygen(tmp_path_factory.mktemp("ssh-client") / "id_ed25519")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory, ssh_client_key) -> Iterator[SSHServer]:
    """One server for the session (per xdist worker), reached as 127.0.0.2 and 127.0.0.3."""
    server = SSHServer(tmp_path_factory.mktemp("sshd"), addresses=("127.0.0.2", "127.0.0.3"),
                       client_key=ssh_client_key).start()
    yield server
    server.close()


@pytest.fixture
def make_sshd(tmp_path, ssh_client_key) -> Iterator[Callable[..., SSHServer]]:
    """Servers of one test (to stop one, or to offer another host key)."""
    servers: list[SSHServer] = []

    def make(address: str = "127.0.0.4") -> SSHServer:
        server = SSHServer(tmp_path / f"sshd-{len(servers)}", addresses=(address,), client_key=ssh_client_key)
        servers.append(server.start())
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def test_user() -> str:
    if not ensure_test_user():
        pytest.fail(f"the password and sudo tests need the local user {TEST_USER}: run the suite as root "
                    "once (it creates the user and its sudoers entry)")
    return TEST_USER


@pytest.fixture
def key_credential(org, ssh_client_key, sshd) -> Any:
    return credential_create(organization=org, actor=None, name="ssh-key", kind="ssh_key", username=sshd.user,
                             secret=ssh_client_key.read_text())


@pytest.fixture
def password_credential(org, test_user) -> Any:
    return credential_create(organization=org, actor=None, name="ssh-password", kind="password",
                             username=test_user, secret=TEST_PASSWORD)


@pytest.fixture
def ssh_host(org, sshd, key_credential) -> Callable[..., Any]:
    def make(hostname: str = "web-1", address: str = "127.0.0.2", server: SSHServer | None = None,
             **fields: Any) -> Any:
        fields.setdefault("credential", key_credential)
        return host_create(organization=org, actor=None, hostname=hostname, primary_ip=address,
                           connection="ssh", port=(server or sshd).port, **fields)

    return make
