"""Installed software, from each package manager the machine has.

SOURCES is a registry: each source knows its tool and answers a list of packages, [] when
its tool is absent here, or None when the tool is present but failed. Windows (registry
uninstall keys) and macOS (pkgutil, /Applications) slot in as further sources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forewarn.agent.collectors._run import find_tool, run_tool

Package = dict[str, Any]
PACKAGE_TIMEOUT = 20.0  # rpm on a cold cache can take several seconds
MAX_PACKAGES = 50_000

# The source package and its version: Debian's and Ubuntu's vulnerability records name
# source packages ("openssl" for libssl3), and a binary rebuilt alone ("+b1") keeps its
# source's version. Sent only where they differ from the binary's own name and version.
DPKG_ARGV = [
    "dpkg-query",
    "-W",
    "-f=${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}"
    "\\t${source:Package}\\t${source:Version}\\n",
]
# EPOCH is a field of its own: rpm prints "(none)" for it, which the parser leaves out.
RPM_ARGV = ["rpm", "-qa", "--qf", "%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"]


def _package(name: str, version: str, arch: str, source: str) -> Package:
    return {"name": name[:255], "version": version[:255], "arch": arch[:255], "source": source}


def parse_dpkg(text: str) -> list[Package]:
    """Installed packages from dpkg-query output (name, version, arch, status abbreviation,
    and, in DPKG_ARGV's format, source package and source version).

    The status abbreviation's second letter is the package's state: "i" is installed
    (whatever the wanted state, so held packages count); "c" (config files only),
    "n" (not installed) and half-installed states are not.
    """
    out = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) == 4:
            fields += ["", ""]
        if len(fields) != 6:
            continue
        name, version, arch, status, src_name, src_version = fields
        if not name or not version or len(status) < 2 or status[1] != "i":
            continue
        package = _package(name, version, arch, "dpkg")
        if src_name and src_name != name:
            package["source_name"] = src_name[:255]
        if src_version and src_version != version:
            package["source_version"] = src_version[:255]
        out.append(package)
    return out


def parse_rpm(text: str) -> list[Package]:
    """Installed packages from rpm -qa output (name, epoch, version-release, arch)."""
    out = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        name, epoch, version, arch = (f.strip() for f in fields)
        # gpg-pubkey "packages" are the keys rpm trusts, not software.
        if not name or not version or name == "gpg-pubkey":
            continue
        if epoch and epoch != "(none)":
            version = f"{epoch}:{version}"
        out.append(_package(name, version, "" if arch == "(none)" else arch, "rpm"))
    return out


def dpkg_packages() -> list[Package] | None:
    """Packages dpkg knows installed: [] without dpkg, None when dpkg-query failed."""
    if find_tool("dpkg-query") is None:
        return []
    text = run_tool(DPKG_ARGV, timeout=PACKAGE_TIMEOUT)
    return None if text is None else parse_dpkg(text)


def rpm_packages() -> list[Package] | None:
    """Packages rpm knows installed: [] without rpm, None when rpm failed."""
    if find_tool("rpm") is None:
        return []
    text = run_tool(RPM_ARGV, timeout=PACKAGE_TIMEOUT)
    return None if text is None else parse_rpm(text)


SOURCES: dict[str, Callable[[], list[Package] | None]] = {
    "dpkg": dpkg_packages,
    "rpm": rpm_packages,
}


def merge_sources(results: list[list[Package] | None]) -> list[Package] | None:
    """One sorted list from every source's answer; None if any source present failed.

    A partial list would tell the server that the missing packages were removed, so an
    unknown answer is better than a wrong one.
    """
    if any(r is None for r in results):
        return None
    merged = [p for r in results if r is not None for p in r]
    merged.sort(key=lambda p: (p["source"], p["name"], p["arch"], p["version"]))
    return merged[:MAX_PACKAGES]


def collect() -> list[Package] | None:
    """The Packages section of the inventory."""
    return merge_sources([source() for source in SOURCES.values()])
