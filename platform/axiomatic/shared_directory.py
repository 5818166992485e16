"""Whether a local run directory can serve a cluster of several nodes.

A study kept in a local directory has its cells write their history and checkpoints into
``runs/<study>/cells/`` on the node that runs them, and the driver reads them there to report and
to resume. On several nodes that folder must be the same storage everywhere (an NFS/EFS mount at
one path): on a disk local to one node, a cell on another node would write where the driver never
looks. (A study kept in object storage, ``--storage s3://...``, needs no such mount.) A study is refused before it starts when
its run directory lies on a filesystem type that is always node-local; an unknown type (a FUSE
mount, a cluster filesystem) is taken at its word.
"""

from __future__ import annotations

from pathlib import Path

from axiomatic.errors import UserError

NODE_LOCAL = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "overlay", "tmpfs", "ramfs",
              "vfat", "exfat", "ntfs", "ntfs3", "squashfs"}
MOUNTS = Path("/proc/mounts")


def filesystem_of(path: Path) -> tuple[str, str] | None:
    """(mount point, filesystem type) that holds ``path``, existing or to be made (symbolic links
    followed as far as they exist); None where /proc/mounts cannot tell (not Linux)."""
    if not MOUNTS.is_file():
        return None
    target = Path(path).resolve()
    best = None
    for line in MOUNTS.read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape(fields[1])
        if _within(target, point) and (best is None or len(point) > len(best[0])):
            best = (point, fields[2])
    return best


def require_shared(runs: Path, nodes: int, cluster: str) -> None:
    """Refuse a run directory on node-local storage when the cluster has several nodes."""
    if nodes < 2:
        return
    found = filesystem_of(runs)
    if found and found[1] in NODE_LOCAL:
        point, kind = found
        raise UserError(
            f"run directory {runs}: on a filesystem local to this node ({kind} mounted at {point}), but the "
            f"cluster at {cluster} has {nodes} nodes: cells on the others would write their history and "
            "checkpoints to their own disks, where this driver never reads them. Keep the study in object "
            "storage (--storage s3://bucket/prefix), or mount shared storage (NFS, EFS) at the same path on "
            "every node and give --storage (or --runs-dir) there (docs/cluster.md).")


def _within(path: Path, mount_point: str) -> bool:
    return mount_point == "/" or path == Path(mount_point) or Path(mount_point) in path.parents


def _unescape(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes (\040 ...)
    return field.encode().decode("unicode_escape") if "\\" in field else field


