#!/bin/bash
# name: clean-package-caches
# description: Remove downloaded package files from the package manager's cache (apt-get clean, dnf/yum clean packages). Installed software is not touched. Exit 0 cleaned, 3 no known package manager.
# timeout: 600
# param: DRY_RUN=no | yes: only say what would be removed
set -u
say_size() { du -sh "$1" 2>/dev/null | cut -f1; }
if command -v apt-get >/dev/null 2>&1; then
    cache=/var/cache/apt/archives
    echo "apt cache before: $(say_size "$cache")"
    if [ "${DRY_RUN:-no}" = yes ]; then
        echo "dry run: would run apt-get clean"; exit 0
    fi
    apt-get clean || exit 2
    echo "apt cache after: $(say_size "$cache")"
    exit 0
fi
for tool in dnf yum; do
    if command -v "$tool" >/dev/null 2>&1; then
        if [ "${DRY_RUN:-no}" = yes ]; then
            echo "dry run: would run $tool clean packages"; exit 0
        fi
        "$tool" -q clean packages || exit 2
        echo "$tool: package cache cleaned"
        exit 0
    fi
done
echo "UNKNOWN: no apt-get, dnf or yum on this machine"
exit 3
