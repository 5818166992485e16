"""Fixtures shared by every test module.

No test may touch ~/.cache/axiomatic: ``AXIOMATIC_CACHE`` points at a temporary directory for the
whole run. It is one directory per pytest session, so suites built by one test (about ten seconds
for all of them) are reused by the next; a test that needs an empty cache builds its own
``Store(root=tmp_path / ...)``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("axiomatic-cache")


@pytest.fixture(autouse=True)
def axiomatic_cache(session_cache, monkeypatch):
    """The dataset cache every test (and every subprocess it starts) uses."""
    monkeypatch.setenv("AXIOMATIC_CACHE", str(session_cache))
    return session_cache


@pytest.fixture(scope="session", autouse=True)
def short_lease_settle():
    """Every study start in object storage waits the lease's settle, 2 s by default, to part two
    drivers that start within the same second; no test starts two so, so the local disk's 0.2 s
    does. Session-wide: module fixtures start studies too, and subprocess drivers inherit it."""
    from axiomatic.study.lease import SETTLE_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SETTLE_ENV, "0.2")
        yield


@pytest.fixture(scope="session")
def published_dir():
    """The paper's published evaluation files; tests that need them skip where they are absent."""
    from axiomatic.data import suites

    directory = suites.published_dir()
    if not (directory / "index.json").is_file():
        pytest.skip(f"published evaluation files not found at {directory} "
                    f"(set {suites.PUBLISHED_ENV} to their directory)")
    return directory


@pytest.fixture(autouse=True)
def one_thread():
    """The test machine has two shared cores: one torch thread per test keeps it from thrashing."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tensorboard_scalars():
    """Reads a directory's TensorBoard scalars back as TensorBoard shows them: {tag: {step: value}}
    (a later event file's purge hides what earlier ones hold past it)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(directory) -> dict[str, dict[int, float]]:
        events = EventAccumulator(str(directory))
        events.Reload()
        return {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}

    return read
