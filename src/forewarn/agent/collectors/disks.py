"""File systems that hold data: which are mounted where, and how big they are.

The metrics collector uses the same choice of file systems, so a disk in the inventory and
its disk.used_percent series always agree.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import psutil

# Kernel and memory file systems: no data lives there that a technician would size.
PSEUDO_FS = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs",
        "devpts", "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc",
        "pstore", "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs",
        "tmpfs", "tracefs", "nfsd", "overlay", "aufs", "iso9660", "udf", "zram", "none",
        "autofs4", "lxcfs", "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal", "fuse.snapfuse",
        "fuse.xdg-document-portal", "shm", "nullfs", "map", "kernfs",
    }
)  # fmt: skip
# Network file systems: statvfs on one whose server is gone can block for minutes.
NETWORK_FS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs", "davfs",
        "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.glusterfs", "fuse.davfs2", "lustre",
    }
)  # fmt: skip
# Where a container's root is an overlay, "/" is still the disk its owner cares about.
ROOT_ONLY_FS = frozenset({"overlay", "aufs"})
MAX_DISKS = 1000


@dataclass(frozen=True)
class Mount:
    device: str
    mount: str
    fstype: str

    @property
    def network(self) -> bool:
        return is_network(self.fstype)


def is_network(fstype: str) -> bool:
    """Whether a file system type is served over the network."""
    return fstype.lower() in NETWORK_FS


def is_data_fs(fstype: str, mount: str) -> bool:
    """Whether a mounted file system holds data worth inventorying and measuring."""
    kind = fstype.lower()
    if kind in ROOT_ONLY_FS:
        return mount == "/"
    if kind in PSEUDO_FS:
        return False
    # fuseblk is NTFS/exFAT on a real disk; other FUSE types are mostly virtual.
    if kind.startswith("fuse.") and kind not in NETWORK_FS:
        return False
    return not mount.startswith(("/proc/", "/sys/", "/dev/"))


def data_mounts() -> list[Mount] | None:
    """Mounted data file systems, one per mount point, sorted by mount point; None on error."""
    try:
        # On Linux all=False would drop a container's overlay "/": filter ourselves instead.
        parts = psutil.disk_partitions(all=sys.platform.startswith("linux"))
    except (OSError, RuntimeError):
        return None
    seen: dict[str, Mount] = {}
    for p in parts:
        if not is_data_fs(p.fstype, p.mountpoint):
            continue
        # Containers bind single files (/etc/hosts) from the host's disk: not file systems.
        if not is_network(p.fstype) and not os.path.isdir(p.mountpoint):
            continue
        # A later mount on the same point hides the earlier one; keep the visible one.
        seen[p.mountpoint] = Mount(p.device, p.mountpoint, p.fstype)
    return one_per_device(list(seen.values()))


def one_per_device(mounts: list[Mount]) -> list[Mount]:
    """Each file system once, at its shortest mount point, sorted by mount point.

    Bind mounts show one file system at many places (a Kubernetes node has one per pod
    volume); counting each would repeat the same numbers and make the inventory change
    whenever a pod comes or goes.
    """
    best: dict[str, Mount] = {}
    for m in sorted(mounts, key=lambda m: (len(m.mount), m.mount)):
        # Some file systems name no device ("none"); those cannot be told apart.
        key = m.device if m.device and m.device != "none" else "\0" + m.mount
        best.setdefault(key, m)
    return sorted(best.values(), key=lambda m: m.mount)


def total_bytes(mount: Mount) -> int | None:
    """A file system's size; None for network ones (never risk a hang) or on error."""
    if mount.network:
        return None
    try:
        return int(psutil.disk_usage(mount.mount).total)
    except (OSError, RuntimeError):
        return None


def collect() -> list[dict[str, Any]] | None:
    """The Disks section of the inventory; None when the mount table could not be read."""
    mounts = data_mounts()
    if mounts is None:
        return None
    return [
        {
            "device": m.device[:255],
            "mount": m.mount[:1000],
            "fstype": m.fstype[:255],
            "total_bytes": total_bytes(m),
        }
        for m in mounts[:MAX_DISKS]
    ]
