"""timedatectl and chronyc tracking output, and which daemon keeps time."""

from __future__ import annotations

from forewarn.agent.collectors.timesync import (
    parse_chronyc_tracking,
    parse_timedatectl,
    time_service,
)

CHRONY_SYNCED = """\
Reference ID    : A9FEA97B (169.254.169.123)
Stratum         : 4
Ref time (UTC)  : Mon Jun 02 09:15:30 2025
System time     : 0.000012345 seconds slow of NTP time
Last offset     : -0.000004152 seconds
RMS offset      : 0.000021120 seconds
Frequency       : 3.456 ppm fast
Residual freq   : -0.000 ppm
Skew            : 0.011 ppm
Root delay      : 0.000367868 seconds
Root dispersion : 0.000208542 seconds
Update interval : 16.1 seconds
Leap status     : Normal
"""

CHRONY_UNSYNCED = """\
Reference ID    : 00000000 ()
Stratum         : 0
Ref time (UTC)  : Thu Jan 01 00:00:00 1970
System time     : 1.250000000 seconds fast of NTP time
Leap status     : Not synchronised
"""


def test_timedatectl() -> None:
    assert parse_timedatectl("NTP=yes\nNTPSynchronized=yes\n") == (True, True)
    assert parse_timedatectl("NTP=no\nNTPSynchronized=no\n") == (False, False)
    assert parse_timedatectl("NTPSynchronized=maybe\n") == (None, None)
    assert parse_timedatectl("") == (None, None)


def test_chronyc_tracking() -> None:
    synced, offset = parse_chronyc_tracking(CHRONY_SYNCED)
    assert synced is True
    assert offset is not None and abs(offset - -0.012345) < 1e-9
    synced, offset = parse_chronyc_tracking(CHRONY_UNSYNCED)
    assert synced is False
    assert offset == 1250.0


def test_chronyc_malformed() -> None:
    assert parse_chronyc_tracking("") == (None, None)
    assert parse_chronyc_tracking("System time : lots seconds fast\nLeap status :\n") == (
        None,
        None,
    )


def test_time_service_from_process_names() -> None:
    assert time_service({"bash", "chronyd", "sshd"}) == "chrony"
    assert time_service({"systemd-timesyn"}) == "systemd-timesyncd"
    assert time_service({"ntpd"}) == "ntp"
    assert time_service({"bash"}) == ""
