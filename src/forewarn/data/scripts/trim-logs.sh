#!/bin/bash
# name: trim-logs
# description: Trim old logs: the systemd journal down to DAYS days (journalctl --vacuum-time) and rotated log files (*.gz, *.1, *.old, ...) older than DAYS under LOG_DIR. Current logs are never touched. Exit 0 done, 3 bad parameters.
# timeout: 900
# param: DAYS=14 | keep this many days of logs
# param: LOG_DIR=/var/log | where rotated log files are looked for
# param: VACUUM_JOURNAL=yes | no: leave the systemd journal alone
set -u
case "${DAYS:-}" in ''|*[!0-9]*) echo "UNKNOWN: DAYS must be a whole number, not '${DAYS:-}'"; exit 3;; esac
if [ "$DAYS" -lt 1 ]; then echo "UNKNOWN: DAYS must be at least 1"; exit 3; fi
if [ "${VACUUM_JOURNAL:-yes}" = yes ]; then
    if command -v journalctl >/dev/null 2>&1; then
        journalctl --vacuum-time="${DAYS}d" 2>&1 | tail -n 3
    else
        echo "journalctl not installed: no journal to trim"
    fi
fi
dir=${LOG_DIR:-/var/log}
[ -d "$dir" ] || { echo "UNKNOWN: $dir is not a directory"; exit 3; }
rotated='.*\.\(gz\|xz\|bz2\|zst\|old\|[0-9]+\)$'
list=$(find "$dir" -xdev -type f -regex "$rotated" -mtime +"$((DAYS - 1))" -printf '%s\n' 2>/dev/null)
files=$(printf '%s' "$list" | grep -c . || true)
bytes=$(printf '%s\n' "$list" | awk '{s+=$1} END {print s+0}')
find "$dir" -xdev -type f -regex "$rotated" -mtime +"$((DAYS - 1))" -delete 2>/dev/null
echo "$dir: deleted $files rotated logs, $bytes bytes"
exit 0
