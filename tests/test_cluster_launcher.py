"""The mission's cluster path, for real, on this machine: Ray's own cluster launcher (`ray up`,
`ray exec`, `ray job submit`, `ray down`) with its `local` provider, over SSH to 127.0.0.1, on a
cluster config derived from cluster.local.yaml, in token-authentication mode.

The test runs its own sshd on a free port of 127.0.0.1 with its own configuration, host key and
authorized-keys file, and a throwaway client key; it touches neither the machine's ssh
configuration nor anyone's keys. Ray's launcher has no SSH port setting, so SSH reaches that port
through a ProxyCommand (tests/support/tcp_relay.py). The head runs this project's virtualenv
(the config's setup commands would build one). Everything started is stopped by process id:
`ray down` leaves the local provider's head running, and `ray stop` would stop every Ray here.

openssh-server and rsync come from Debian's packages: `make test` installs them when missing. The
test fails, never skips, without them.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from support.ray_processes import session_dirs, stop_cluster
from test_cluster_auth import TINY_STUDY, clean_env, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SSHD = Path("/usr/sbin/sshd")
RELAY = Path(__file__).parent / "support" / "tcp_relay.py"
BOOTSTRAP_FILES = [Path.home() / "ray_bootstrap_config.yaml", Path.home() / "ray_bootstrap_key.pem"]


def require_tools() -> None:
    missing = [name for name, found in [("sshd", SSHD.is_file()), ("ssh", shutil.which("ssh")),
                                        ("ssh-keygen", shutil.which("ssh-keygen")),
                                        ("rsync", shutil.which("rsync"))] if not found]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: `make test` installs openssh-server and rsync "
                    "from Debian's packages (apt-get) when it can")


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"sshd did not listen on 127.0.0.1:{port} within {timeout} s")


@pytest.fixture(scope="module")
def sshd():
    """(work folder, sshd port, client key) of an sshd on 127.0.0.1 that lets in this user with
    the throwaway key alone."""
    require_tools()
    root = Path(tempfile.mkdtemp(prefix="axl", dir="/tmp"))  # short: ssh control sockets live under it
    for name in ("client_key", "host_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", root / name], check=True)
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    port = free_port()
    (root / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {root / 'host_key'}",
        f"PidFile {root / 'sshd.pid'}", f"AuthorizedKeysFile {root / 'authorized_keys'}",
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
        f"AllowUsers {getpass.getuser()}", ""]))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder; Debian's service makes it
    log = open(root / "sshd.log", "w")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", root / "sshd_config"], stderr=log,
                            start_new_session=True)
    try:
        wait_for_port(port, proc)
        yield root, port, root / "client_key"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def derived_config(root: Path, ssh_port: int, key: Path, gcs_port: int, dashboard_port: int) -> dict:
    """cluster.local.yaml pointed at 127.0.0.1 with the throwaway key; the project's virtualenv
    instead of the setup commands; ports, token and folders of this test's own."""
    config = yaml.safe_load((REPO / "cluster.local.yaml").read_text())
    remote = root / "remote"
    venv = BIN.parent
    config["cluster_name"] = f"axiomatic-test-{gcs_port}"
    config["provider"].update(head_ip="127.0.0.1", worker_ips=[])
    config["auth"] = {"ssh_user": getpass.getuser(), "ssh_private_key": str(key),
                      "ssh_proxy_command": f"{sys.executable} {RELAY} 127.0.0.1 {ssh_port}"}
    config["file_mounts"] = {str(remote / "axiomatic"): str(REPO), str(remote / "study"): str(root / "study"),
                             str(remote / "auth_token"): str(root / "auth_token")}
    config["setup_commands"] = [f"test -x {venv}/bin/platform"]
    # Ports of its own: any other Ray on this machine (a study beside the tests) holds the default
    # ones, and a job agent that cannot bind its port leaves `ray job submit` without an agent.
    agent_ports = (f"--dashboard-agent-listen-port={free_port()} --dashboard-agent-grpc-port={free_port()} "
                   f"--runtime-env-agent-port={free_port()} --metrics-export-port={free_port()}")
    config["head_start_ray_commands"] = [
        f"RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={remote / 'auth_token'} {venv}/bin/ray start --head "
        f"--port={gcs_port} --num-cpus=2 --include-dashboard=true --dashboard-host=127.0.0.1 "
        f"--dashboard-port={dashboard_port} {agent_ports} --disable-usage-stats "
        "--autoscaling-config=~/ray_bootstrap_config.yaml"]
    config["worker_start_ray_commands"] = []
    return config


@pytest.fixture(scope="module")
def launched(sshd, tmp_path_factory):
    """`ray up -y` of the derived config: (config path, remote folder, dashboard port, environment
    holding the cluster's token); `ray down -y` and a stop by process id afterwards."""
    root, ssh_port, key = sshd
    (root / "study").mkdir()
    (root / "study" / "tiny.yaml").write_text(yaml.safe_dump(TINY_STUDY))
    (root / "auth_token").write_text(secrets.token_hex(32))
    gcs_port, dashboard_port = free_port(), free_port()
    config = root / "cluster.yaml"
    config.write_text(yaml.safe_dump(derived_config(root, ssh_port, key, gcs_port, dashboard_port)))
    env = clean_env(tmp_path_factory.mktemp("launcher-home"), RAY_AUTH_MODE="token",
                    RAY_AUTH_TOKEN_PATH=str(root / "auth_token"))
    had_bootstrap = [path.exists() for path in BOOTSTRAP_FILES]
    try:
        up = ray_cli(["up", "-y", "--no-config-cache", config], env)
        assert up.returncode == 0, up.stdout + up.stderr
        (session,) = session_dirs(gcs_port)
        yield config, root / "remote", dashboard_port, env, Path(session)
        down = ray_cli(["down", "-y", config], env)
        assert down.returncode == 0, down.stdout + down.stderr
    finally:
        stop_cluster(gcs_port)
        for path, existed in zip(BOOTSTRAP_FILES, had_bootstrap):
            if not existed:
                path.unlink(missing_ok=True)  # `ray up` writes them in the SSH user's home
        for state in Path(tempfile.gettempdir()).glob(f"cluster-axiomatic-test-{gcs_port}.*"):
            state.unlink()


def ray_cli(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "ray", *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=600)


def submit_job(dashboard_port: int, entrypoint: list[str], env, patience_s: float = 120.0):
    """`ray job submit`, again while the head's job agent has not registered yet: on a loaded
    machine the dashboard answers before it, with "No available agent ... try again later"."""
    deadline = time.monotonic() + patience_s
    while True:
        job = ray_cli(["job", "submit", "--address", f"http://127.0.0.1:{dashboard_port}", "--", *entrypoint], env)
        if "No available agent to submit job" not in job.stdout + job.stderr or time.monotonic() > deadline:
            return job
        time.sleep(3)


def study_command(remote: Path, runs: str, cache: Path) -> list[str]:
    """The study as a user runs it on the head, from the project that `ray up` synced there."""
    return ["env", f"AXIOMATIC_CACHE={cache}", f"PYTHONPATH={remote / 'axiomatic' / 'platform'}",
            str(BIN / "platform"), "study", str(remote / "study" / "tiny.yaml"), "--runs-dir", str(remote / runs)]


def test_ray_up_then_a_study_through_ray_exec_and_ray_job_submit(launched, axiomatic_cache):
    config, remote, dashboard_port, env, session = launched
    drivers = lambda: set((session / "logs").glob("python-core-driver-*"))
    before = drivers()
    assert (remote / "axiomatic" / "platform" / "axiomatic" / "ray_session.py").is_file()  # rsync
    assert not (remote / "axiomatic" / ".venv").exists()  # .gitignore filters

    # ray exec: a shell on the head, `--address auto` finds the cluster `ray up` started, the
    # token is the one the config gave every node.
    command = study_command(remote, "runs-exec", axiomatic_cache) + ["--address", "auto"]
    exec_run = ray_cli(["exec", config, f"cd {remote / 'axiomatic'} && export RAY_AUTH_TOKEN_PATH="
                        f"{remote / 'auth_token'} && {' '.join(command)}"], env)
    assert exec_run.returncode == 0, exec_run.stdout + exec_run.stderr
    assert "val/acc" in exec_run.stdout  # the report's table, printed on the head
    assert f"Ray dashboard: http://127.0.0.1:{dashboard_port}" in exec_run.stdout
    assert (remote / "runs-exec" / "joined" / "report" / "table.md").is_file()
    assert drivers() - before, "the study did not run on the cluster"
    before = drivers()

    # ray job submit: the job's driver finds the cluster through RAY_ADDRESS, which Ray sets.
    job = submit_job(dashboard_port, study_command(remote, "runs-job", axiomatic_cache) + ["--json"], env)
    assert job.returncode == 0, (job.stdout + job.stderr)[-2500:]
    assert "succeeded" in job.stdout
    assert (remote / "runs-job" / "joined" / "report" / "table.md").is_file()
    assert drivers() - before, "the job's study started a Ray of its own instead of joining"
