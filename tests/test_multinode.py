"""A real two-node Ray cluster on this machine (a head, and a second node joined to it with
`ray start --address`), stopped by process id afterwards.

A study whose run directory lies on a node-local filesystem is refused before anything is written,
since cells on the second node would write their checkpoints where the driver never reads them. A
study kept in object storage (an S3-compatible server on 127.0.0.1) runs its cells on the second
node, and its report comes from the bucket, not from that node's disk."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from axiomatic import shared_directory
from axiomatic.location import Location
from axiomatic.study.ledger import CellStatus, Ledger
from axiomatic.train.run_files import SCRATCH_VARIABLE
from support.ray_processes import stop_cluster
from support.s3_server import s3_bucket, under
from test_cluster_auth import BIN, TINY_STUDY, clean_env, free_port, platform, study  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bucket():
    with s3_bucket() as uri:  # before the nodes start: their workers inherit its credentials
        yield uri


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory, bucket):
    """(address, environment, the second node's scratch directory for cells)."""
    port = free_port()
    env = clean_env(tmp_path_factory.mktemp("two-nodes-home"), RAY_AUTH_MODE="disabled")
    scratch = tmp_path_factory.mktemp("second-node-scratch")
    start = lambda *args, **extra: subprocess.run(
        [BIN / "ray", "start", "--num-cpus=1", "--disable-usage-stats", *args], env={**env, **extra},
        check=True, capture_output=True, timeout=120)
    try:
        start("--head", f"--port={port}", "--include-dashboard=false")
        start(f"--address=127.0.0.1:{port}", "--resources={\"second_node\": 1}",
              **{SCRATCH_VARIABLE: str(scratch)})
        yield f"127.0.0.1:{port}", env, scratch
    finally:
        stop_cluster(port)


def test_node_local_run_directory_is_refused_on_two_nodes(two_nodes, study, tmp_path):
    address, env, _ = two_nodes
    runs = tmp_path / "runs"
    kind = shared_directory.filesystem_of(tmp_path)[1]
    assert kind in shared_directory.NODE_LOCAL, f"{tmp_path} is on {kind}: this test needs a local disk"
    done = platform(["study", str(study), "--address", address, "--runs-dir", str(runs)], env, tmp_path)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "has 2 nodes" in message and f"on a filesystem local to this node ({kind}" in message
    assert not runs.exists()


def test_cells_pinned_to_the_second_node_keep_everything_in_s3(two_nodes, bucket, tmp_path):
    address, env, scratch = two_nodes
    spec = {**TINY_STUDY, "name": "pinned", "model": {**TINY_STUDY["model"], "pe": {"grid": ["none", "rope"]}},
            "resources": {**TINY_STUDY["resources"], "custom": {"second_node": 1}}}
    path = tmp_path / "pinned.yaml"
    path.write_text(yaml.safe_dump(spec))
    storage = under(bucket, "cluster")
    done = platform(["study", str(path), "--address", address, "--storage", storage,
                     "--runs-dir", str(tmp_path / "driver"), "--json"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [arm["seeds_done"] for arm in report["arms"]] == [1, 1]

    ledger = Ledger(Location(storage) / "pinned", tmp_path / "reader")
    assert all(cell.status is CellStatus.DONE for cell in ledger.cells())
    attempts = [row for cell in ledger.cells() for row in ledger.attempts(cell.id)]
    assert {row["node"] for row in attempts} == {_node_with(address, env, "second_node")}
    # the cells trained in the second node's scratch directory and left nothing there
    assert [row["work"] for row in attempts if not row["work"].startswith(f"{scratch}/")] == []
    assert not any(scratch.iterdir())
    again = platform(["report", str(ledger.root), "--json"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert ([arm["metrics"] for arm in json.loads(again.stdout)["arms"]]
            == [arm["metrics"] for arm in report["arms"]])


def _node_with(address: str, env: dict, resource: str) -> str:
    """The id of the one node of the cluster that has ``resource``."""
    code = (f"import ray; ray.init({address!r}, logging_level='ERROR'); "
            f"print(*[n['NodeID'] for n in ray.nodes() if n['Alive'] and {resource!r} in n['Resources']])")
    done = subprocess.run([BIN / "python", "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (node,) = done.stdout.split()
    return node


def test_filesystem_types_come_from_the_longest_mount_point(tmp_path, monkeypatch):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\n"
                      "fs:/export /shared\\040data nfs4 rw 0 0\n")
    monkeypatch.setattr(shared_directory, "MOUNTS", mounts)
    assert shared_directory.filesystem_of(tmp_path) == ("/", "ext4")
    assert shared_directory.filesystem_of("/shared data/runs/x") == ("/shared data", "nfs4")
    shared_directory.require_shared("/shared data/runs", nodes=3, cluster="head:6379")  # no error
    with pytest.raises(Exception, match="has 3 nodes"):
        shared_directory.require_shared(tmp_path, nodes=3, cluster="head:6379")
    shared_directory.require_shared(tmp_path, nodes=1, cluster="head:6379")  # one node: its own disk is fine
