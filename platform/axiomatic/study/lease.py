"""One driver per study: a lease kept where the study is kept.

``<storage>/<study>.lease.json`` (beside the run, so that ``--new`` archives the run and never
the lease) names its holder: a random id, the host, the process id and a heartbeat the holder
rewrites every HEARTBEAT_S seconds. ``platform study`` takes it before it writes anything of the
run and holds it to its end; a second driver, from any machine or ``--runs-dir``, is refused
while the lease is fresh. A lease is stale when its heartbeat is older than STALE_S (a driver
that was killed, or lost its storage for that long), or at once when its holder ran in this
machine's process space and is gone; a stale lease is taken over with a message.

Object stores offer no atomic create here (pyarrow has no conditional PUT), so taking a lease is
write, wait SETTLE_S (a fraction of it on a local disk), read back: of two drivers that start
within the same second, the one whose write landed last keeps it and the other is refused.
Heartbeats compare clocks across machines: they must agree to well within STALE_S (NTP does).
The environment may set the heartbeat (``AXIOMATIC_LEASE_HEARTBEAT_S``, below STALE_S) and the
settle (``AXIOMATIC_LEASE_SETTLE_S``, on any storage).

A holder that finds its lease taken over (it was not heard from for STALE_S) stops its study as
Ctrl-C would, and says so.
"""

from __future__ import annotations

import _thread
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from axiomatic.errors import UserError
from axiomatic.location import Location

HEARTBEAT_S = 10.0
STALE_S = 60.0
SETTLE_S = 2.0
LOCAL_SETTLE_S = 0.2  # a local write lands in microseconds
HEARTBEAT_ENV = "AXIOMATIC_LEASE_HEARTBEAT_S"  # sooner: a takeover is noticed sooner, for more writes
SETTLE_ENV = "AXIOMATIC_LEASE_SETTLE_S"  # longer: for a store whose writes land later than 2 s


@dataclass(frozen=True)
class Holder:
    holder: str  # a random id: a restarted driver with a reused pid is another holder
    host: str
    process_space: str  # host and pid namespace: where the pid can be looked up
    pid: int
    heartbeat: float  # time.time() of the holder's last write

    def __str__(self) -> str:
        return f"driver {self.pid} on {self.host}, last heard from {time.time() - self.heartbeat:.0f} s ago"

    def why_stale(self) -> str | None:
        """Why this holder no longer holds the study, or None while it does."""
        if self.process_space == process_space() and not _runs(self.pid):
            return "no longer runs"
        if time.time() - self.heartbeat > STALE_S:
            return f"has not renewed it for over {STALE_S:.0f} s"
        return None


class Lease:
    """The lease object ``<name>.lease.json`` in ``place``, as this driver holds it."""

    def __init__(self, place: Location, name: str, study: str):
        self.place, self.file, self.study = place, f"{name}.lease.json", study
        self.me = Holder(uuid.uuid4().hex, socket.gethostname(), process_space(), os.getpid(), time.time())
        self.lost: str | None = None  # who took the lease over while this driver held it
        self.heartbeat_s = _seconds_from_environment(HEARTBEAT_ENV, HEARTBEAT_S, below=STALE_S)
        self.settle_s = _seconds_from_environment(SETTLE_ENV, LOCAL_SETTLE_S if place.is_local else SETTLE_S)
        self._stop = threading.Event()
        self._heart = threading.Thread(target=self._beat, name="study-lease", daemon=True)

    @property
    def where(self) -> str:
        return f"{self.place.uri.split('?', 1)[0].rstrip('/')}/{self.file}"

    def take(self, notify) -> None:
        """Take the lease, or refuse (exit 2) while another driver holds it; ``notify`` is told
        of a stale lease taken over."""
        found = self._read()
        if found is not None and found.holder != self.me.holder:
            why = found.why_stale()
            if why is None:
                raise self._refusal(found)
            notify(f"took over the lease of study {self.study} ({self.where}) from {found}, which {why}")
        self._write()
        time.sleep(self.settle_s)  # of two drivers writing at the same moment, the last write wins
        found = self._read()
        if found is None or found.holder != self.me.holder:
            raise self._refusal(found)
        self._heart.start()

    def release(self) -> None:
        """Stop the heartbeat and remove the lease if it is still this driver's. A storage that no
        longer answers keeps it: it goes stale by itself."""
        self._stop.set()
        if self._heart.is_alive():
            self._heart.join()  # never a heartbeat written after the lease is removed
        try:
            found = self._read()
            if found is not None and found.holder == self.me.holder:
                self.place.delete(self.file)
        except OSError:
            pass

    def _refusal(self, found: Holder | None) -> UserError:
        holder = found or "a driver that has since let go"
        return UserError(f"{self.study}: another 'platform study' is running on this study ({holder}; "
                         f"lease {self.where}). Wait for it to end, or stop it; a lease not renewed for "
                         f"{STALE_S:.0f} s is taken over.")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                found = self._read()
            except OSError:  # the storage paused: the next beat tries again
                continue
            if found is None or found.holder != self.me.holder:
                self.lost = str(found) if found else "nobody (the lease was removed)"
                _thread.interrupt_main(signal.SIGINT)  # stop the study as Ctrl-C does
                return
            try:
                self._write()
            except OSError:
                continue

    def _read(self) -> Holder | None:
        if not self.place.is_file(self.file):
            return None
        try:
            return Holder(**self.place.read_json(self.file))
        except (ValueError, TypeError):  # a damaged lease (written by hand) holds nothing
            return None

    def _write(self) -> None:
        self.place.write_json(self.file, asdict(Holder(**{**asdict(self.me), "heartbeat": time.time()})))


def _seconds_from_environment(name: str, default: float, below: float = float("inf")) -> float:
    """A duration in seconds from environment variable ``name``, else ``default``."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")  # refused below, as a number out of range is
    if not 0 < seconds < below:
        limit = f" and below {below:.0f}" if below != float("inf") else ""
        raise UserError(f"{name}={text!r}: expected seconds above 0{limit}")
    return seconds


def process_space() -> str:
    """Where a process id means one process: this host's name and pid namespace (containers on
    one host share the name but not the namespace)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}:{namespace}"


def _runs(pid: int) -> bool:
    """Whether process ``pid`` of this process space runs (a zombie, killed and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it runs
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (macOS): os.kill's answer stands
        return True
