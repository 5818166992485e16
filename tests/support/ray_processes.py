"""Stop one Ray cluster on this machine by process id, leaving every other Ray here running.

`ray stop` kills every Ray process on the machine (the tests' own embedded Ray, a study running
beside them); `ray down` with the local provider leaves the head running. A cluster is found by
its GCS port: its gcs_server names the session directory, which every other process of that
cluster names too, or descends from one that does. Linux only (it reads /proc).
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

CURRENT_CLUSTER = Path("/tmp/ray/ray_current_cluster")


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we may read."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        table[int(entry.name)] = (parent, cmdline)
    return table


def session_dirs(gcs_port: int, table: dict | None = None) -> set[str]:
    """The session directory (``/tmp/ray/session_...``) of the cluster on ``gcs_port``."""
    return {session for _, cmdline in (table or _processes()).values()
            if "gcs_server" in cmdline and f"--gcs_server_port={gcs_port} " in cmdline + " "
            for session in re.findall(r"--log_dir=(\S+)/logs", cmdline)}


def cluster_pids(gcs_port: int) -> set[int]:
    table = _processes()
    marks = {f":{gcs_port} ", f"={gcs_port} "} | {Path(s).name for s in session_dirs(gcs_port, table)}
    pids = {pid for pid, (_, cmdline) in table.items()
            if "ray" in cmdline and any(mark in cmdline + " " for mark in marks)}
    grown = True
    while grown:  # add descendants (Ray renames its workers to ray::Name, which names nothing)
        children = {pid for pid, (parent, _) in table.items() if parent in pids} - pids
        pids |= children
        grown = bool(children)
    return pids - {os.getpid()}


def stop_cluster(gcs_port: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL what is left, every process of the cluster on ``gcs_port``; forget it
    as the machine's current cluster if `ray start` recorded it so."""
    pids = cluster_pids(gcs_port)
    _send(pids, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        time.sleep(0.2)
        pids = {pid for pid in pids if _alive(pid)}
    _send(pids, signal.SIGKILL)
    if CURRENT_CLUSTER.exists() and CURRENT_CLUSTER.read_text().strip().endswith(f":{gcs_port}"):
        CURRENT_CLUSTER.unlink()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _send(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
