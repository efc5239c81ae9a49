"""Vulnerability matching: 2,000 installed packages against an index of 50,000 OSV records.

Synthetic data in the shapes OSV publishes for Debian (generated here, nothing fetched):
records name source packages of one release ("Debian:12"); most have one ECOSYSTEM range
`introduced 0 / fixed <dpkg version>` ("1.2.3-4+deb12u5", "2:9.0.1378-2~deb12u1"), some are
not fixed yet, some use `last_affected`, some have two intervals or a `versions` list, with
epochs and tildes throughout. The installed side is 2,000 binary packages built from 1,600
source packages, half of which have records, some rebuilt alone ("+b1").

Printed beside the figure, from the same run and data:
- building the index of the 50,000 records (what a server process pays once per import);
- a naive scan (every record's entries checked for every installed package, with the same
  version comparisons) on 100 of the packages, scaled to 2,000.

Target: matching 2,000 packages in under 2 s (issue 7).

    PYTHONPATH=src .venv/bin/python bench/bench_vulns.py [--records 50000] [--installed 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from forewarn.domain import vulns as dv

ECO = "Debian:12"


def _version(rng: random.Random) -> str:
    epoch = rng.choice(["", "", "", "", "1:", "2:"])
    upstream = ".".join(str(rng.randint(0, 30)) for _ in range(rng.randint(2, 4)))
    if rng.random() < 0.15:
        upstream += rng.choice(["~rc1", "~beta2", "+dfsg", "+ds1", "~git20240101"])
    revision = str(rng.randint(1, 9))
    if rng.random() < 0.5:
        revision += rng.choice(["+deb12u", "~deb12u"]) + str(rng.randint(1, 12))
    return f"{epoch}{upstream}-{revision}"


def records(n: int, sources: list[str], rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        fixed = _version(rng)
        shape = rng.random()
        if shape < 0.70:
            ranges = [[["introduced", "0"], ["fixed", fixed]]]
        elif shape < 0.80:
            ranges = [[["introduced", "0"]]]  # not fixed yet
        elif shape < 0.88:
            ranges = [[["introduced", _version(rng)], ["last_affected", fixed]]]
        else:
            ranges = [
                [["introduced", "0"], ["fixed", fixed], ["introduced", _version(rng)]],
                [["introduced", _version(rng)], ["fixed", _version(rng)]],
            ]
        versions = [_version(rng) for _ in range(rng.randint(0, 12))] if shape > 0.6 else []
        out.append(
            {
                "id": f"DEBIAN-CVE-{2000 + i % 26}-{i:06d}",
                "package": rng.choice(sources),
                "ranges": ranges,
                "versions": versions,
            }
        )
    return out


def installed(n: int, sources: list[str], rng: random.Random) -> list[dv.Installed]:
    """n binaries of 1,600 sources (half of them with records); the binaries after the first
    1,600 are libraries of the same sources at the same versions, some rebuilt ("+b1")."""
    chosen = rng.sample(sources[: len(sources) // 2], 800) + [f"clean{i}" for i in range(800)]
    versions = {source: _version(rng) for source in chosen}
    out = []
    for i in range(n):
        source = chosen[i % len(chosen)]
        version = versions[source]
        if i < len(chosen):
            out.append(dv.Installed(source, version, "dpkg"))
            continue
        rebuild = rng.random() < 0.3
        out.append(
            dv.Installed(
                f"lib{source}-{i}",
                version + "+b1" if rebuild else version,
                "dpkg",
                source,
                version if rebuild else "",
            )
        )
    return out


def build(recs: list[dict[str, Any]]) -> dv.Index:
    index = dv.Index()
    for r in recs:
        index.add(ECO, r["package"], r["id"], r["ranges"], r["versions"])
    return index


def naive(recs: list[dict[str, Any]], subjects: list[dv.Subject]) -> int:
    """Every record looked at for every package: what an index saves."""
    found = 0
    entries = [
        (
            r["package"],
            dv.Entry(
                r["id"],
                tuple(tuple((e[0], e[1]) for e in rg) for rg in r["ranges"]),
                frozenset(r["versions"]),
            ),
        )
        for r in recs
    ]
    for s in subjects:
        for package, entry in entries:
            if package == s.name and dv.affected_by(s.version, entry, dv.dpkg_key)[0]:
                found += 1
    return found


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--installed", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    sources = [f"src{i}" for i in range(8_000)]
    recs = records(args.records, sources, rng)
    pkgs = installed(args.installed, sources, rng)
    subjects = dv.subjects(pkgs, ECO)

    build_s, index = timed(lambda: build(recs), args.repeat)

    def cold() -> list[dv.PackageHit]:
        dv.dpkg_key.cache_clear()
        dv._part_key.cache_clear()
        return dv.match(build(recs), subjects)

    cold_total, hits = timed(cold, args.repeat)
    cold_s = cold_total - build_s  # the fresh index's keys are made while matching
    warm_s, _ = timed(lambda: dv.match(index, subjects), args.repeat)
    sample = subjects[:100]
    naive_s, _ = timed(lambda: naive(recs, sample), 1)
    naive_scaled = naive_s * len(subjects) / len(sample)

    vulns = sum(len(h.vulns) for h in hits)
    print(
        f"{args.records} OSV records ({ECO}), {args.installed} installed packages "
        f"({len(subjects)} source packages looked up)"
    )
    print(f"  match, cold (new index, no version keys cached)   {cold_s * 1000:8.1f} ms")
    print(f"  match, warm (the job's next turn)                 {warm_s * 1000:8.1f} ms")
    print(f"  anchor: build the index                           {build_s * 1000:8.1f} ms")
    print(
        f"  anchor: naive scan, 100 packages x {args.records} records, x{len(subjects) // 100}"
        f"  {naive_scaled * 1000:8.0f} ms"
    )
    print(
        f"  found {len(hits)} vulnerable packages, {vulns} vulnerabilities; "
        f"target: match under 2,000 ms -> {'met' if cold_s < 2 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
