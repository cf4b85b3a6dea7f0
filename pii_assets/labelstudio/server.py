"""Start and stop a local Label Studio (its own virtualenv) on a loopback port: for tests,
benchmarks and anyone who wants a throw-away server from Python. ``make labelstudio`` starts
the long-lived one."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    email: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server(venv: Path, data_dir: Path, timeout: float = 180.0) -> Iterator[Server]:
    """A fresh server with an admin user and a legacy API token; killed (with its children) on exit."""
    binary = Path(venv) / "bin" / "label-studio"
    if not binary.exists():
        raise FileNotFoundError(f"no Label Studio at {binary}: run `make labelstudio-venv`")
    data_dir.mkdir(parents=True, exist_ok=True)
    port, token, email = free_port(), secrets.token_hex(20), "reviewer@example.com"
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir), "LABEL_STUDIO_USERNAME": email,
           "LABEL_STUDIO_PASSWORD": secrets.token_hex(8), "LABEL_STUDIO_USER_TOKEN": token,
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(binary), "start", "--no-browser", "--internal-host", "127.0.0.1",
                                 "--port", str(port), "--data-dir", str(data_dir)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"Label Studio did not start within {timeout:.0f} s:\n{tail}")
                time.sleep(1)
            yield Server(url, token, email)
        finally:
            _stop(proc)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
