#!/bin/bash
# name: free-disk-space
# description: Free space on a file system a disk forecast warns about: package caches, old temporary files and old rotated logs, then report the space before and after. A remedy for the "Disk space forecast" check. Exit 0 done, 3 bad parameters.
# timeout: 1800
# param: MOUNT=/ | the file system to report on
# param: DAYS=7 | temporary files and rotated logs older than this many days go
# param: DIRS=/tmp /var/tmp | temporary directories to clean
# param: LOG_DIR=/var/log | where rotated logs are looked for
# param: CLEAN_PACKAGES=yes | no: keep the package cache
# param: VACUUM_JOURNAL=yes | no: leave the systemd journal alone
set -u
case "${DAYS:-}" in ''|*[!0-9]*) echo "UNKNOWN: DAYS must be a whole number, not '${DAYS:-}'"; exit 3;; esac
if [ "$DAYS" -lt 1 ]; then echo "UNKNOWN: DAYS must be at least 1"; exit 3; fi
mount=${MOUNT:-/}
[ -d "$mount" ] || { echo "UNKNOWN: $mount is not a directory"; exit 3; }
avail() { df -Pk "$mount" | awk 'NR==2 {print $4}'; }
before=$(avail)
if [ "${CLEAN_PACKAGES:-yes}" = yes ] && command -v apt-get >/dev/null 2>&1; then
    apt-get clean && echo "apt cache cleaned"
fi
if [ "${VACUUM_JOURNAL:-yes}" = yes ] && command -v journalctl >/dev/null 2>&1; then
    journalctl --vacuum-time="${DAYS}d" >/dev/null 2>&1 && echo "journal trimmed to ${DAYS} days"
fi
for dir in ${DIRS:-}; do
    case "$dir" in /|/bin|/boot|/etc|/home|/lib|/lib64|/root|/sbin|/srv|/usr|/var)
        echo "refusing to clean $dir: not a temporary directory"; exit 3;; esac
    [ -d "$dir" ] || continue
    n=$(find "$dir" -xdev -mindepth 1 -type f -mtime +"$((DAYS - 1))" -print -delete 2>/dev/null | grep -c . || true)
    echo "$dir: deleted $n old files"
done
logs=${LOG_DIR:-/var/log}
if [ -d "$logs" ]; then
    n=$(find "$logs" -xdev -type f -regex '.*\.\(gz\|xz\|bz2\|zst\|old\|[0-9]+\)$' -mtime +"$((DAYS - 1))" -print -delete 2>/dev/null | grep -c . || true)
    echo "$logs: deleted $n rotated logs"
fi
after=$(avail)
echo "free on $mount: before ${before} KiB, after ${after} KiB, freed $((after - before)) KiB"
exit 0
