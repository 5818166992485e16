"""Studies kept in object storage: a real S3-compatible server on 127.0.0.1 (moto's server mode),
reached through pyarrow as Ray Train and Tune reach S3. The run lives in the bucket alone: the
driver's local directory can be thrown away, and a report or a resume works from the bucket."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
import yaml

from axiomatic.errors import UserError
from axiomatic.location import ATTEMPTS_ENV, Location
from axiomatic.ray_session import ray_session
from axiomatic.study.ledger import CellStatus, Ledger
from axiomatic.train import checkpoint
from axiomatic.train.run_files import SLOTS, RunFiles
from support.s3_server import s3_bucket, under
from test_faults import saved_checkpoint  # noqa: F401 (fixture)
from test_study_run import run, study_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bucket():
    with s3_bucket() as uri:
        yield uri


@pytest.fixture(scope="module")
def local_ray(bucket):
    # started after the server set the credentials, so every worker has them
    with ray_session(num_cpus=2, log_to_driver=False):
        yield


def scratch_left() -> list[Path]:
    root = Path(tempfile.gettempdir()) / "axiomatic-cells"
    return list(root.iterdir()) if root.is_dir() else []


def test_a_study_kept_in_s3_is_reported_and_resumed_from_the_bucket_alone(bucket, local_ray, tmp_path, capsys):
    storage = under(bucket, "runs")
    path = study_file(tmp_path, name="s3grid", seeds=[0])
    before = scratch_left()
    code, report, err = run(["study", path, "--storage", storage, "--runs-dir", str(tmp_path / "a"), "--json"],
                            capsys)
    assert code == 0, err
    assert len(report["arms"]) == 2

    root = Location(storage) / "s3grid"
    ledger = Ledger(root, tmp_path / "reader")
    cells = ledger.cells()
    assert len(cells) == 2 and all(c.status is CellStatus.DONE for c in cells)
    for cell in cells:
        history = ledger.history(cell.id)
        assert history and history[-1]["finished"] == 1
        assert cell.metrics["val/acc"] == history[-1]["val/acc"]
        kept = ledger.cell_dir(cell.id)
        assert kept.is_file(f"{SLOTS[0]}/{checkpoint.STATE}") and not kept.exists("checkpoint")
        assert any(name.startswith("events.out.tfevents.") for name in _files(kept))
    assert root.is_file("optuna.db") and root.is_file("report/table.md") and root.is_file("fingerprint.json")
    assert scratch_left() == before  # each cell removed its node-local scratch directory

    # the driver's directory is gone: the report comes from the bucket alone, the same as the study's
    shutil.rmtree(tmp_path / "a")
    code, again, err = run(["report", str(root), "--json"], capsys)
    assert code == 0, err
    assert _arm_metrics(again) == _arm_metrics(report)

    # a second seed from a fresh driver directory: the finished cells are not run again
    Path(path).write_text(yaml.safe_dump({**yaml.safe_load(Path(path).read_text()), "seeds": [0, 1]}))
    code, extended, err = run(["study", path, "--storage", storage, "--runs-dir", str(tmp_path / "b"),
                               "--json"], capsys)
    assert code == 0, err
    attempts = {c.id: len(ledger.attempts(c.id)) for c in ledger.cells()}
    assert len(attempts) == 4 and set(attempts.values()) == {1}
    assert all(arm["seeds_done"] == 2 for arm in extended["arms"])
    database = tmp_path / "optuna.db"
    database.write_bytes(root.read_bytes("optuna.db"))
    with sqlite3.connect(database) as db:
        states = [state for (state,) in db.execute("select state from trials")]
    assert states == ["COMPLETE", "COMPLETE"]  # each arm told once, with both seeds

    # another model, with the storage named in the study file: --new archives the run in the bucket
    changed = study_file(tmp_path, name="s3grid", seeds=[0], storage=storage, baseline=None,
                         model={"preset": "tiny", "n_layer": 1, "d_model": 16, "n_head": 2, "d_mlp": 32, "pe": "rope"})
    code, _, err = run(["study", changed, "--runs-dir", str(tmp_path / "c")], capsys)
    assert code == 2 and "--new" in err
    code, renewed, err = run(["study", changed, "--runs-dir", str(tmp_path / "c"), "--new", "--json"], capsys)
    assert code == 0, err
    assert [arm["seeds_done"] for arm in renewed["arms"]] == [1]
    (archived,) = [name for name in Location(storage).subdirectories() if name.startswith("s3grid.")]
    assert len(Ledger(Location(storage) / archived, tmp_path / "old").cells()) == 4
    assert root.read_json("fingerprint.json")["model"]["d_model"] == 16


def test_unwritable_storage_is_exit_2_before_anything_is_written(bucket, tmp_path, capsys):
    path = study_file(tmp_path, name="nowhere")
    missing = under(bucket.replace("s3://studies", "s3://no-such-bucket"), "runs")
    code, _, err = run(["study", path, "--storage", missing, "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 2
    message = " ".join(err.split())
    assert "--storage: storage s3://no-such-bucket/runs/nowhere is not writable" in message
    assert "endpoint_override" not in message  # the URI is shown without its query
    assert not (tmp_path / "runs").exists()


def test_the_attempts_per_request_come_from_the_environment(bucket, monkeypatch):
    monkeypatch.setenv(ATTEMPTS_ENV, "1")
    kept = Location(under(bucket, "attempts"))
    kept.write_text("note.txt", "kept")  # the URI's endpoint and scheme survive the rebuilt filesystem
    assert kept.read_text("note.txt") == "kept"
    monkeypatch.setenv(ATTEMPTS_ENV, "none")
    with pytest.raises(UserError, match=f"{ATTEMPTS_ENV}='none': expected a whole number of attempts"):
        Location(under(bucket, "attempts"))


def test_no_credentials_against_a_server_that_does_not_check_them_is_exit_2_with_nothing_written(
        bucket, tmp_path, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance profile to fall back on
    storage = under(bucket, "anonymous")
    code, _, err = run(["study", study_file(tmp_path, name="anon"), "--storage", storage,
                        "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 2 and "--storage: storage s3://studies/anonymous/anon is not writable" in " ".join(err.split())
    monkeypatch.undo()  # the server's credentials again, to look
    assert not Location(storage).exists("anon/fingerprint.json") and not Location(storage).exists("anon/study.yaml")


def test_checkpoint_slots_in_s3_survive_a_write_cut_short(bucket, saved_checkpoint, tmp_path):
    location = Location(under(bucket, "slots/cell"))
    writer = RunFiles(location, scratch=tmp_path / "writer")
    assert writer.start("t0") is None
    for step in (5, 10):
        writer.publish(_at_step(saved_checkpoint, step, tmp_path))
    assert {location.read_json(f"{slot}/{checkpoint.STATE}")["step"] for slot in SLOTS} == {5, 10}

    # the next write goes to the older slot; killed after its first file, it leaves that slot
    # without state.json, and the newest whole checkpoint is still step 10
    location.delete(SLOTS[0])
    location.upload(saved_checkpoint / "model.pt", f"{SLOTS[0]}/model.pt")
    resume = RunFiles(location, scratch=tmp_path / "reader").fetch_checkpoint()
    assert checkpoint.read_meta(resume)["step"] == 10

    # a damaged newest slot: the older whole one is taken
    location.write_bytes(f"{SLOTS[1]}/optimizer.pt", b"cut")
    writer.publish(_at_step(saved_checkpoint, 15, tmp_path))  # into slot a, whole again
    location.write_bytes(f"{SLOTS[0]}/model.pt", b"")
    assert RunFiles(location, scratch=tmp_path / "third").fetch_checkpoint() is None


def test_a_resumed_run_forgets_history_past_its_checkpoint(bucket, saved_checkpoint, tmp_path):
    location = Location(under(bucket, "history/cell"))
    files = RunFiles(location, scratch=tmp_path / "first")
    files.start("t0")
    (files.work / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in (5, 10, 15)))
    files.publish(_at_step(saved_checkpoint, 10, tmp_path))
    again = RunFiles(location, scratch=tmp_path / "second")
    resume = again.start("t1")
    assert checkpoint.read_meta(resume)["step"] == 10
    assert [row["step"] for row in again.history()] == [5, 10]
    assert [row["step"] for row in Location(again.work).read_jsonl("metrics.jsonl")] == [5, 10]
    assert [row["resumed_from_step"] for row in location.read_jsonl("attempts.jsonl")] == [0, 10]


def _at_step(source: Path, step: int, tmp_path: Path) -> Path:
    copy = tmp_path / f"step-{step}"
    shutil.copytree(source, copy, dirs_exist_ok=True)
    state = json.loads((copy / checkpoint.STATE).read_text())
    (copy / checkpoint.STATE).write_text(json.dumps({**state, "step": step}))
    return copy


def _files(location: Location) -> list[str]:
    import pyarrow.fs as pafs

    return [info.base_name for info in location.fs.get_file_info(pafs.FileSelector(location.path))]


def _arm_metrics(report: dict) -> dict:
    return {arm["arm"]: arm["metrics"] for arm in report["arms"]}


def test_a_two_worker_cell_keeps_its_files_in_s3(bucket, local_ray, tmp_path, capsys):
    storage = under(bucket, "ddp")
    path = study_file(tmp_path, name="s3ddp", seeds=[0], baseline=None, train={
        "lr": 3e-3, "batch_size": 64, "epochs": 2, "device": "cpu"},
        model={"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2, "d_mlp": 64, "pe": "rope"},
        resources={"cpu": 1, "gpu": 0, "workers": 2})
    code, report, err = run(["study", path, "--storage", storage, "--runs-dir", str(tmp_path / "runs"), "--json"],
                            capsys)
    assert code == 0, err
    ledger = Ledger(Location(storage) / "s3ddp", tmp_path / "reader")
    (cell,) = ledger.cells()
    assert cell.status is CellStatus.DONE
    assert [row["epoch"] for row in ledger.history(cell.id)] == [1, 2]  # rank 0's reports, mirrored
    kept = ledger.cell_dir(cell.id)
    assert kept.is_file(f"{SLOTS[0]}/{checkpoint.STATE}") and kept.exists("ray")  # Ray Train's own run too
