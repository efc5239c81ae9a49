"""Which mounted file systems are data worth inventorying and measuring."""

from __future__ import annotations

from forewarn.agent.collectors.disks import Mount, is_data_fs, is_network, one_per_device


def test_real_file_systems_are_kept() -> None:
    for fstype, mount in [
        ("ext4", "/"),
        ("xfs", "/srv"),
        ("btrfs", "/home"),
        ("vfat", "/boot/efi"),
        ("fuseblk", "/media/usb"),
        ("zfs", "/tank"),
        ("ext4", "/run/media/alice/USB"),
        ("nfs4", "/mnt/share"),
    ]:
        assert is_data_fs(fstype, mount), (fstype, mount)


def test_pseudo_file_systems_are_dropped() -> None:
    for fstype, mount in [
        ("proc", "/proc"),
        ("sysfs", "/sys"),
        ("tmpfs", "/run"),
        ("tmpfs", "/dev/shm"),
        ("devtmpfs", "/dev"),
        ("cgroup2", "/sys/fs/cgroup"),
        ("squashfs", "/snap/core22/1380"),
        ("fuse.gvfsd-fuse", "/run/user/1000/gvfs"),
        ("ext4", "/proc/some-bind"),
    ]:
        assert not is_data_fs(fstype, mount), (fstype, mount)


def test_an_overlay_counts_only_as_a_container_root() -> None:
    assert is_data_fs("overlay", "/")
    assert not is_data_fs("overlay", "/var/lib/docker/overlay2/abc/merged")


def test_network_file_systems_are_known_as_such() -> None:
    assert is_network("nfs4") and is_network("CIFS") and is_network("fuse.sshfs")
    assert not is_network("ext4")
    assert Mount("server:/export", "/mnt/nfs", "nfs").network


def test_bind_mounts_count_once_at_the_shortest_mount_point() -> None:
    mounts = [
        Mount("/dev/sda1", "/var/lib/kubelet/pods/abc/volume-subpaths/x", "ext4"),
        Mount("/dev/sda1", "/", "ext4"),
        Mount("/dev/sdb1", "/srv", "xfs"),
        Mount("/dev/sda1", "/home", "ext4"),
        Mount("none", "/a", "ext4"),
        Mount("none", "/b", "ext4"),
    ]
    assert [m.mount for m in one_per_device(mounts)] == ["/", "/a", "/b", "/srv"]
