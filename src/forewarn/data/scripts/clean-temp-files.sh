#!/bin/bash
# name: clean-temp-files
# description: Delete files not modified for DAYS days under the temporary directories (and the empty folders they leave), staying on each directory's own file system. Exit 0 done, 3 bad parameters.
# timeout: 900
# param: DAYS=7 | files older than this many days are deleted
# param: DIRS=/tmp /var/tmp | space-separated directories to clean
set -u
case "${DAYS:-}" in ''|*[!0-9]*) echo "UNKNOWN: DAYS must be a whole number, not '${DAYS:-}'"; exit 3;; esac
if [ "$DAYS" -lt 1 ]; then echo "UNKNOWN: DAYS must be at least 1"; exit 3; fi
total_files=0; total_bytes=0
for dir in ${DIRS:-}; do
    case "$dir" in /|/bin|/boot|/etc|/home|/lib|/lib64|/root|/sbin|/srv|/usr|/var)
        echo "refusing to clean $dir: not a temporary directory"; exit 3;; esac
    [ -d "$dir" ] || { echo "$dir: not a directory, skipped"; continue; }
    # -mtime +N: modified more than N*24 h ago; -xdev: never into another mounted file system.
    list=$(find "$dir" -xdev -mindepth 1 -type f -mtime +"$((DAYS - 1))" -printf '%s\n' 2>/dev/null)
    files=$(printf '%s' "$list" | grep -c . || true)
    bytes=$(printf '%s\n' "$list" | awk '{s+=$1} END {print s+0}')
    find "$dir" -xdev -mindepth 1 -type f -mtime +"$((DAYS - 1))" -delete 2>/dev/null
    find "$dir" -xdev -mindepth 1 -type d -empty -mtime +"$((DAYS - 1))" -delete 2>/dev/null
    echo "$dir: deleted $files files, $bytes bytes"
    total_files=$((total_files + files)); total_bytes=$((total_bytes + bytes))
done
echo "total: $total_files files, $total_bytes bytes freed"
exit 0
