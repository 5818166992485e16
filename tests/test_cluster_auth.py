"""Joining a Ray cluster that uses token authentication (Ray 2.60's `ray start` default when the
head has a token): a missing or wrong token, or a cluster that does not answer, is exit 2 with
the fix named and nothing written. Joining with the right token, through `--address auto` and
through RAY_ADDRESS, is tests/test_cluster_launcher.py's part.

A real head is started with `ray start --head` on a free port, in token mode with its own token
file, and stopped by process id (`ray stop` would stop every Ray on the machine). Each command runs
in its own process: Ray reads its authentication settings once per process.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.ray_processes import stop_cluster

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TINY_STUDY = {
    "name": "joined",
    "data": {"preset": "TS2", "size": 300, "chain_lengths": [3, 4]},
    "model": {"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2, "d_mlp": 64, "pe": "rope"},
    "train": {"lr": 3e-3, "batch_size": 64, "epochs": 1, "device": "cpu"},
    "seeds": [0],
    "search": {"algorithm": "grid"},
    "objective": {"metric": "val/acc", "mode": "max"},
    "suites": ["reversed_chain/len=3"],
    "resources": {"cpu": 1, "gpu": 0, "workers": 1},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(home: Path, **extra) -> dict:
    """This environment without any Ray address or authentication setting, HOME a fresh folder
    (so ~/.ray/auth_token is not the user's), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "HOME": str(home), **extra}


@pytest.fixture(scope="module")
def token_head(tmp_path_factory):
    """A one-CPU head in token mode: (address, token file)."""
    root = tmp_path_factory.mktemp("token-head")
    token_file = root / "token"
    token_file.write_text(secrets.token_hex(32))
    port = free_port()
    env = clean_env(root / "home", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_file))
    subprocess.run([BIN / "ray", "start", "--head", f"--port={port}", "--num-cpus=1",
                    "--include-dashboard=false", "--disable-usage-stats"],
                   env=env, check=True, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}", token_file
    finally:
        stop_cluster(port)


def platform(args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "platform", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "joined.yaml"
    path.write_text(yaml.safe_dump(TINY_STUDY))
    return path


@pytest.mark.parametrize("auth", [
    {},                                                        # the platform's old behaviour: no token
    {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64},    # a wrong token
    {"RAY_AUTH_MODE": "token"},                                # token mode, no token anywhere
], ids=["no-token", "wrong-token", "token-mode-without-token"])
def test_a_missing_or_wrong_token_is_exit_2_naming_the_fix(token_head, study, tmp_path, auth):
    address, _ = token_head
    runs = tmp_path / "runs"
    done = platform(["study", str(study), "--address", address, "--runs-dir", str(runs)],
                    clean_env(tmp_path / "home", **auth), tmp_path)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert f"--address {address}" in message and "RAY_AUTH_TOKEN" in message
    assert "Traceback" not in done.stderr
    assert not runs.exists()


def test_a_cluster_that_does_not_answer_is_exit_2(study, tmp_path):
    runs = tmp_path / "runs"
    address = f"127.0.0.1:{free_port()}"
    done = platform(["study", str(study), "--runs-dir", str(runs)],
                    clean_env(tmp_path / "home", RAY_ADDRESS=address), tmp_path)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert f"RAY_ADDRESS {address}: no Ray cluster answers" in message and "ray start --head" in message
    assert not runs.exists()
