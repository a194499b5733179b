"""Real servers on loopback for the sync tests: Debian's OpenSSH sshd with a throwaway host
key and user key, and wsgidav (a WebDAV server) with a user and password."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def keygen(path: Path, kind: str = "ed25519") -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return (path.with_suffix(".pub") if path.suffix else Path(str(path) + ".pub")).read_text().strip()


@dataclass
class SshServer:
    port: int
    root: Path  # the store folder on the "server"
    user: str
    user_key: Path
    known_hosts: Path
    host_public: str
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{self.root}"

    def drop_connections(self) -> None:
        """Cut every live SSH connection (the server's per-connection processes), as a
        flaky link would; the listening server stays up."""
        subprocess.run(["pkill", "-KILL", "-P", str(self.proc.pid)], check=False)

    def stop(self) -> None:
        stop(self.proc)


def start_sshd(folder: Path) -> SshServer:
    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "host_ed25519"
    host_public = keygen(host_key)
    user_key = folder / "user_ed25519"
    user_public = keygen(user_key)
    (folder / "authorized_keys").write_text(user_public + "\n")
    os.chmod(folder / "authorized_keys", 0o600)
    root = folder / "store"
    root.mkdir()
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True)
    wait_port(port, proc, "sshd")
    known = folder / "known_hosts"
    kind, key = host_public.split()[:2]
    known.write_text(f"[127.0.0.1]:{port} {kind} {key}\n")
    import getpass

    return SshServer(port, root, getpass.getuser(), user_key, known, host_public, proc)


@dataclass
class DavServer:
    port: int
    root: Path
    user: str
    password: str
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"webdav://{self.user}@127.0.0.1:{self.port}/store"

    def stop(self) -> None:
        stop(self.proc)


def start_webdav(folder: Path) -> DavServer:
    import json

    root = folder / "dav"
    (root / "store").mkdir(parents=True)
    port = free_port()
    config = folder / "wsgidav.json"
    config.write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "port": port,
                "provider_mapping": {"/": str(root)},
                "http_authenticator": {
                    "domain_controller": None,
                    "accept_basic": True,
                    "accept_digest": False,
                    "default_to_digest": False,
                },
                "simple_dc": {"user_mapping": {"*": {"fieldwork": {"password": "s3cret-dav"}}}},
                "verbose": 1,
                "logging": {"enable": False},
                "server": "cheroot",
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgidav.server.server_cli", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_port(port, proc, "wsgidav")
    return DavServer(port, root / "store", "fieldwork", "s3cret-dav", proc)
