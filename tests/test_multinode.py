"""A real two-node Ray cluster on this machine (a head, and a second node joined to it with
`ray start --address`), stopped by process id afterwards: a study whose run directory lies on a
node-local filesystem is refused before anything is written, since cells on the second node would
write their checkpoints where the driver never reads them."""

from __future__ import annotations

import pytest

from axiomatic import shared_storage
from support.ray_processes import stop_cluster
from test_cluster_auth import BIN, clean_env, free_port, platform, study  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    import subprocess

    port = free_port()
    env = clean_env(tmp_path_factory.mktemp("two-nodes-home"), RAY_AUTH_MODE="disabled")
    start = lambda *args: subprocess.run([BIN / "ray", "start", "--num-cpus=1", "--disable-usage-stats", *args],
                                         env=env, check=True, capture_output=True, timeout=120)
    try:
        start("--head", f"--port={port}", "--include-dashboard=false")
        start(f"--address=127.0.0.1:{port}", "--resources={\"second_node\": 1}")
        yield f"127.0.0.1:{port}", env
    finally:
        stop_cluster(port)


def test_node_local_run_directory_is_refused_on_two_nodes(two_nodes, study, tmp_path):
    address, env = two_nodes
    runs = tmp_path / "runs"
    kind = shared_storage.filesystem_of(tmp_path)[1]
    assert kind in shared_storage.NODE_LOCAL, f"{tmp_path} is on {kind}: this test needs a local disk"
    done = platform(["study", str(study), "--address", address, "--runs-dir", str(runs)], env, tmp_path)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "has 2 nodes" in message and f"on a filesystem local to this node ({kind}" in message
    assert not runs.exists()


def test_filesystem_types_come_from_the_longest_mount_point(tmp_path, monkeypatch):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\n"
                      "fs:/export /shared\\040data nfs4 rw 0 0\n")
    monkeypatch.setattr(shared_storage, "MOUNTS", mounts)
    assert shared_storage.filesystem_of(tmp_path) == ("/", "ext4")
    assert shared_storage.filesystem_of("/shared data/runs/x") == ("/shared data", "nfs4")
    shared_storage.require_shared("/shared data/runs", nodes=3, cluster="head:6379")  # no error
    with pytest.raises(Exception, match="has 3 nodes"):
        shared_storage.require_shared(tmp_path, nodes=3, cluster="head:6379")
    shared_storage.require_shared(tmp_path, nodes=1, cluster="head:6379")  # one node: its own disk is fine
