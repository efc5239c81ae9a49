#!/bin/bash
# name: smart-health
# description: Read the SMART health verdict of every disk smartctl finds. Exit 0 all passed, 1 a disk could not be read, 2 a disk reports failing health, 3 smartctl not installed (apt-get install smartmontools).
# timeout: 300
set -u
if ! command -v smartctl >/dev/null 2>&1; then
    echo "UNKNOWN: smartctl not installed (package smartmontools)"
    exit 3
fi
disks=$(smartctl --scan 2>/dev/null | awk '{print $1 " " $2 " " $3}')
if [ -z "$disks" ]; then
    echo "UNKNOWN: smartctl found no disks (a virtual machine or a container?)"
    exit 3
fi
worst=0
while read -r dev _ kind; do
    out=$(smartctl -H -d "$kind" "$dev" 2>&1)
    verdict=$(printf '%s\n' "$out" | grep -Ei 'overall-health|health status' | head -n 1)
    case "$verdict" in
        *PASSED*|*": OK"*) echo "$dev: PASSED";;
        *FAILED*|*FAILING*) echo "$dev: FAILING: $verdict"; worst=2;;
        *) echo "$dev: no verdict: $(printf '%s' "$out" | tail -n 1)"; [ $worst -lt 1 ] && worst=1;;
    esac
done <<< "$disks"
exit $worst
