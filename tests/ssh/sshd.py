"""A real OpenSSH server for the SSH executor's tests (Debian's openssh-server, installed by
scripts/test-prerequisites; the system's ssh service is never started).

Each server is `/usr/sbin/sshd -D -e -f <its own sshd_config>` on a free port, listening on
one or more loopback addresses (127.0.0.x act as separate hosts; never 0.0.0.0), with a
host key made for it and an authorized key made for the tests.

Users: key authentication logs in as the user running the tests (root in this sandbox,
hence `PermitRootLogin prohibit-password`); password authentication and `sudo` use
TEST_USER, a local account the fixture creates when run as root (with UsePAM no, sshd
checks its password in /etc/shadow), whose sudo asks for that password.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
TEST_USER = "opsflow-ssh-test"
TEST_PASSWORD = "ssh-test-Pw-4c1d9e"  # a local account reachable only through the tests' loopback sshd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path, comment: str = "opsflow-tests") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


def ensure_test_user() -> bool:
    """Create TEST_USER (password TEST_PASSWORD, sudo with its password); False when not root."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        return False
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", TEST_USER], capture_output=True)
    subprocess.run(["chpasswd"], input=f"{TEST_USER}:{TEST_PASSWORD}\n", text=True, check=True)
    sudoers = Path("/etc/sudoers.d/opsflow-ssh-test")
    if shutil.which("sudo") and not sudoers.exists():
        sudoers.write_text(f"{TEST_USER} ALL=(ALL) ALL\n")
        sudoers.chmod(0o440)
    return True


class SSHServer:
    def __init__(self, directory: Path, *, addresses: tuple[str, ...] = ("127.0.0.1",), port: int | None = None,
                 client_key: Path | None = None) -> None:
        self.directory = directory
        self.addresses = addresses
        self.port = port or free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(directory / "host_ed25519")
        self.client_key = client_key or keygen(directory / "client_ed25519")
        # sshd reads authorized keys as the user logging in: TEST_USER must be able to, and
        # pytest's temporary directories are private to the user running the tests.
        self.keys_dir = Path(tempfile.mkdtemp(prefix="opsflow-sshd-keys-"))
        self.keys_dir.chmod(0o755)
        self.authorized = self.keys_dir / "authorized_keys"
        self.authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        self.authorized.chmod(0o644)
        self.config = directory / "sshd_config"
        self.log = directory / "sshd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.user = getpass.getuser()

    @property
    def host_public_key(self) -> str:
        return Path(f"{self.host_key}.pub").read_text().strip()

    @property
    def fingerprint(self) -> str:
        out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.host_key}.pub"],
                             capture_output=True, text=True, check=True).stdout
        return out.split()[1]

    def write_config(self) -> None:
        listen = "\n".join(f"ListenAddress {address}:{self.port}" for address in self.addresses)
        self.config.write_text(
            f"""{listen}
HostKey {self.host_key}
PidFile {self.directory / "sshd.pid"}
AuthorizedKeysFile {self.authorized}
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
MaxSessions 20
MaxStartups 100:30:200
ClientAliveInterval 5
LogLevel VERBOSE
"""
        )

    def start(self) -> SSHServer:
        self.write_config()
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        log = self.log.open("ab")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()}")
            try:
                socket.create_connection((self.addresses[0], self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen: {self.log.read_text()}")

    def stop(self) -> None:
        """Stop the listener and every session it forked, with what runs in them: the
        machine is gone, not restarting (a listener's children outlive it otherwise)."""
        if self.process is None:
            return
        pids = [self.process.pid, *descendants(self.process.pid)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(5)
        self.process = None


    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.keys_dir, ignore_errors=True)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rfind(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
