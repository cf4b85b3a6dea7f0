"""Helpers of the deployment tests: the production profile (deploy/dagster.production.yaml) made
loadable on this machine, a real PostgreSQL server started from Debian's binaries, server processes
(`dagster dev`, `dagster-daemon`) started in their own process group and stopped with it."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "deploy" / "dagster.production.yaml"
DOCS = REPO / "docs" / "deploy.md"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"

# The environment the production profile reads (see its header); the Postgres ones are replaced by
# the test server's when there is one.
PROFILE_ENV = {
    "DAGSTER_PG_HOST": "postgres.example.internal", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": "not-a-secret",
    "DAGSTER_K8S_JOB_NAMESPACE": "pii-assets", "DAGSTER_K8S_JOB_IMAGE": "registry.example/pii-assets:1.0",
    "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance", "DAGSTER_K8S_PG_PASSWORD_SECRET": "dagster-postgresql",
    "DAGSTER_K8S_SERVICE_ACCOUNT": "pii-assets-runs",
}

# No cluster here: the launcher reads this kubeconfig instead of the in-cluster one. Building
# K8sRunLauncher only parses it; an API call would go to a closed loopback port and fail.
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: unused}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: pii-assets}}]
current-context: none
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def profile_config(kubeconfig: Path) -> dict:
    """The production profile as a dict, its run launcher pointed at ``kubeconfig`` (written here)."""
    config = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    kubeconfig.write_text(KUBECONFIG, encoding="utf-8")
    launcher = config["run_launcher"]["config"]
    launcher["load_incluster_config"] = False
    launcher["kubeconfig_file"] = str(kubeconfig)
    return config


def write_profile(home: Path) -> Path:
    """$DAGSTER_HOME/dagster.yaml = the production profile, usable without a cluster."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(profile_config(home / "kubeconfig")), encoding="utf-8")
    return home


# ---------------------------------------------------------------- PostgreSQL

PG_PROGRAMS = ("initdb", "pg_ctl", "postgres")


def find_postgres_bin() -> tuple[Path | None, str]:
    """The directory holding initdb, pg_ctl and postgres ($PII_ASSETS_PG_BIN if set, else $PATH, then
    Debian's /usr/lib/postgresql/<version>/bin, newest first), or None and what is missing."""
    if os.environ.get("PII_ASSETS_PG_BIN"):  # an explicit choice, e.g. a PostgreSQL outside Debian
        directory = Path(os.environ["PII_ASSETS_PG_BIN"])
        if all((directory / name).is_file() for name in PG_PROGRAMS):
            return directory, ""
        return None, f"PII_ASSETS_PG_BIN={directory} does not hold {', '.join(PG_PROGRAMS)}"
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for directory in candidates:
        if all((directory / name).is_file() for name in PG_PROGRAMS):
            return directory, ""
    return None, ("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on $PATH nor in "
                  "/usr/lib/postgresql/*/bin: install Debian's `postgresql` (`make system-deps`)")


class PostgresServer:
    """A throw-away PostgreSQL cluster: trust auth, 127.0.0.1 on a free port, socket in its own dir.

    initdb refuses to run as root, so as root the server runs as the ``postgres`` user (Debian's
    package creates it) or ``nobody``, in a directory under /tmp that user owns."""

    def __init__(self, bin_dir: Path, user: str = "dagster", db: str = "dagster_test"):
        self.bin, self.user, self.db = bin_dir, user, db
        self.port = None
        self.run_as = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.run_as = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            if self.run_as is None:
                raise RuntimeError("running as root and no `postgres` or `nobody` user to run the server as")
        self.dir = Path(tempfile.mkdtemp(prefix="pii-assets-pg-"))
        if self.run_as:
            os.chown(self.dir, self.run_as.pw_uid, self.run_as.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.started = False

    def _run(self, *args, timeout=90):
        kwargs = {}
        if self.run_as:
            kwargs = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        return subprocess.run([str(a) for a in args], cwd=self.dir, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)

    def start(self):
        r = self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", self.user, "-E", "UTF8",
                      "--locale=C", "--no-sync")
        if r.returncode:
            raise RuntimeError(f"initdb failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        for attempt in range(3):  # the free port may be taken between picking and binding it
            self.port = free_port()
            options = (f"-h 127.0.0.1 -p {self.port} -k {self.dir} "
                       "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
            r = self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60",
                          "start")
            if r.returncode == 0:
                self.started = True
                break
        else:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {r.stdout}{r.stderr}\n{log}")
        conn = self.connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.db}"')
        finally:
            conn.close()
        return self

    def connect(self, db=None):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=db or self.db)

    def query(self, sql, params=()):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    @property
    def env(self) -> dict:
        return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_DB": self.db,
                "DAGSTER_PG_USERNAME": self.user, "DAGSTER_PG_PASSWORD": ""}

    def stop(self):
        try:
            if self.started:
                r = self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop")
                if r.returncode:  # last resort: the postmaster's pid is the first line of postmaster.pid
                    pid_file = self.data / "postmaster.pid"
                    if pid_file.exists():
                        os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
                self.started = False
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    bin_dir, missing = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(missing)
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed (it comes with dagster-postgres: pip install -e '.[dev]')")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- server processes


def _default_sigint():
    # `dagster dev` / `dagster-daemon` ignore SIGTERM when they inherit an ignored SIGINT (a
    # background job of a non-interactive shell does): reset it before exec.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_process(args, env, log_path: Path, cwd=REPO) -> subprocess.Popen:
    log = open(log_path, "wb")
    try:
        return subprocess.Popen([str(a) for a in args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_default_sigint)
    finally:
        log.close()


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to the whole process group (the webserver, the daemon, their code servers), then
    SIGKILL whatever is left after ``timeout`` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:  # children that outlived their parent are still in the group
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(5)


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None,
             log_path: Path | None = None, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        tail = log_path.read_text(errors="replace")[-3000:] if log_path and log_path.exists() else ""
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}\n{tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{tail}")
        time.sleep(interval)


def server_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DAGSTER_", "PYTEST_", "PII_ASSETS_", "LABEL_STUDIO_", "OPENAI_"))}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env
