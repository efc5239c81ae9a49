"""`forewarn agent ...` (also `forewarn-agent ...`): enroll, run, collect, status.

argparse rather than Typer: this runs on every client machine, and Typer with Rich would
add more resident memory than the rest of the agent. Exit codes: 0 ok, 1 failure, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from forewarn.agent import AGENT_VERSION, state
from forewarn.agent.buffer import DEFAULT_MAX_BYTES, Buffer, BufferStats, new_batch_id
from forewarn.agent.client import Client, ClientError, enroll
from forewarn.agent.collectors.authlog import AuthReader
from forewarn.agent.job_worker import LongPoll
from forewarn.agent.jobs import APT_ROOT_ENV, DNF_ROOT_ENV, SERVICE_MANAGER_ENV, JobRunner
from forewarn.agent.posture import Assessor
from forewarn.agent.runner import (
    Outcome,
    Runner,
    Schedule,
    build_batch,
    finite_sample,
    full_inventory,
    real_sources,
)
from forewarn.agent.sweeps import Sweeper
from forewarn.agent.watch import (
    LOG_DIRS_ENV,
    Watcher,
    log_dirs_from_env,
)
from forewarn.domain.clock import SystemClock

OK, FAILURE, USAGE = 0, 1, 2
LOCK_FILE = "agent.lock"
_MACHINE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

log = logging.getLogger("forewarn.agent")


class Failure(Exception):
    """A failure to report in one line and exit 1 (or `code`)."""

    def __init__(self, message: str, code: int = FAILURE) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None, prog: str = "forewarn agent") -> int:
    """Parse the command line, run the command, return the exit code."""
    args = _parser(prog).parse_args(argv)
    _configure_logging(getattr(args, "verbose", False))
    try:
        code: int = args.command(args)
        return code
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except state.StateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        return 130


# ---- commands -------------------------------------------------------------------------------


def cmd_enroll(args: argparse.Namespace) -> int:
    """Exchange an enrolment token for this machine's identity; keep it in the state dir."""
    directory = state.state_dir(args.state_dir)
    existing = state.load(directory)
    if existing and not args.force:
        raise Failure(
            f"already enrolled as agent {existing.agent_id} with {existing.server} "
            f"(state in {directory}); add --force to replace that enrolment "
            "(its unsent batches are discarded)"
        )
    ca_file = str(Path(args.ca_file).resolve()) if args.ca_file else None
    with _exclusive(directory):
        try:
            answer = enroll(args.server, args.token, host_facts(), ca_file=ca_file)
        except ValueError as exc:
            raise Failure(str(exc), USAGE) from exc
        except OSError as exc:  # an unreadable --ca-file
            raise Failure(f"cannot use --ca-file {args.ca_file}: {exc}") from exc
        except ClientError as exc:
            raise Failure(f"enrolment failed: {exc}") from exc
        enrolment = _enrolment(args.server, answer, ca_file)
        # Only now, with a new identity in hand, is the old one given up.
        if existing:
            state.forget(directory)
        state.save(directory, enrolment)
    print(
        f"enrolled as agent {enrolment.agent_id} (asset {enrolment.asset_id}, organization "
        f"{enrolment.org_id}) with {enrolment.server}; state in {directory}\n"
        "start it with: systemctl enable --now forewarn-agent  (or: forewarn agent run)"
    )
    return OK


def cmd_run(args: argparse.Namespace) -> int:
    """Collect and check in every interval until SIGTERM (or once with --once)."""
    directory = state.state_dir(args.state_dir)
    enrolment = _require_enrolment(directory)
    max_bytes = int(args.buffer_max_mb * 1024 * 1024)
    with _exclusive(directory), Buffer(state.buffer_file(directory), max_bytes=max_bytes) as buffer:
        client = _client(enrolment)
        runner = Runner(
            buffer,
            client,
            real_sources(),
            schedule=_schedule(args, enrolment),
            watcher=Watcher(args.log_dir or log_dirs_from_env()),
            sweeper=Sweeper(directory / "sweeps"),
            assessor=Assessor(),
            auth=AuthReader(),
            jobs=JobRunner(
                enrolment.agent_id,
                enrolment.server_public_key,
                apt_root=os.environ.get(APT_ROOT_ENV, "").strip() or None,
                dnf_root=os.environ.get(DNF_ROOT_ENV, "").strip() or None,
                service_manager=os.environ.get(SERVICE_MANAGER_ENV, "").strip() or "systemctl",
            ),
        )
        poll = None
        if not args.once and not args.no_long_poll and runner.workers is not None:
            poll = _long_poll(enrolment, runner)
        try:
            return _run(runner, enrolment, directory, once=args.once)
        finally:
            if poll is not None:
                poll.stop()
            runner.close()


def _long_poll(enrolment: state.Enrolment, runner: Runner) -> LongPoll:
    """The fast path for jobs, on its own connection (a request held open must not hold up
    the check-ins)."""
    wait = 25.0
    client = Client(
        enrolment.server,
        agent_token=enrolment.agent_token,
        ca_file=enrolment.ca_file,
        timeout=wait + 15,
    )
    poll = LongPoll(client.wait_for_jobs, runner.offer_jobs, wait=wait)
    poll.start()
    return poll


def _client(enrolment: state.Enrolment) -> Client:
    try:
        return Client(
            enrolment.server, agent_token=enrolment.agent_token, ca_file=enrolment.ca_file
        )
    except ValueError as exc:  # a hand-edited agent.json
        raise Failure(f"agent.json: {exc}") from exc
    except OSError as exc:  # the CA file given at enrolment is gone
        raise Failure(f"cannot read the CA file {enrolment.ca_file}: {exc}") from exc


def _schedule(args: argparse.Namespace, enrolment: state.Enrolment) -> Schedule:
    """The enrolment's interval (then the server's), unless the command line pins one."""
    defaults = Schedule()
    return Schedule(
        interval=args.interval or enrolment.interval,
        server_sets_interval=args.interval is None,
        inventory_interval=_first(args.inventory_interval, defaults.inventory_interval),
        full_inventory_interval=_first(
            args.full_inventory_interval, defaults.full_inventory_interval
        ),
    )


def _first(value: float | None, default: float) -> float:
    return default if value is None else value


def _run(runner: Runner, enrolment: state.Enrolment, directory: Path, *, once: bool) -> int:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: runner.stop())
    log.info(
        "forewarn-agent %s: agent %d checking in to %s every %g s; state in %s",
        AGENT_VERSION,
        enrolment.agent_id,
        enrolment.server,
        runner.interval,
        directory,
    )
    outcome = runner.run_once() if once else runner.run()
    if outcome is Outcome.PENDING:
        depth = runner.buffer.stats().depth
        log.error("could not reach the server; %d batches kept for the next run", depth)
    elif outcome is Outcome.STOPPED:
        told = runner.farewell()
        log.info("stopped%s", "; the server was told" if told else "")
    ok = outcome in (Outcome.SENT, Outcome.STOPPED, Outcome.FINISHED)
    return OK if ok else FAILURE


def cmd_collect(args: argparse.Namespace) -> int:
    """Print the batch this agent would send first (full inventory), sending nothing."""
    sources = real_sources()
    now = SystemClock().now().timestamp()
    sample = finite_sample(sources.sample(now))
    batch = build_batch(now, [sample], full_inventory(sources.inventory()))
    # The ids the buffer would assign; shown so the output is a complete, valid batch.
    batch = {"v": batch["v"], "batch_id": new_batch_id(), "seq": 0, **batch}
    if args.json:
        json.dump(batch, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _print_summary(batch, sys.stdout)
    return OK


def cmd_status(args: argparse.Namespace) -> int:
    """Enrolment, buffer depth and size, quarantine, last delivery and last error."""
    directory = state.state_dir(args.state_dir)
    enrolment = state.load(directory)
    report: dict[str, Any] = {"state_dir": str(directory), "enrolled": enrolment is not None}
    if enrolment:
        report["enrolment"] = enrolment.public()
    path = state.buffer_file(directory)
    if path.exists():
        with Buffer(path) as buffer:
            report["buffer"] = _buffer_report(buffer)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_status(report, sys.stdout)
    return OK if enrolment else FAILURE


# ---- helpers --------------------------------------------------------------------------------


def host_facts() -> dict[str, str]:
    """What the server records about this machine at enrolment."""
    machine_id = _read_first_line("/etc/machine-id")
    return {
        "hostname": socket.gethostname()[:255],
        "machine_id": machine_id if _MACHINE_ID.match(machine_id) else "",
        "os": _os_name()[:255],
        "agent_version": AGENT_VERSION,
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key == "PRETTY_NAME":
                return value.strip().strip('"')
    uname = os.uname()
    return f"{uname.sysname} {uname.release}"


def _read_first_line(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


def _enrolment(server: str, answer: dict[str, Any], ca_file: str | None) -> state.Enrolment:
    try:
        return state.Enrolment(
            server=server.strip().rstrip("/"),
            agent_id=int(answer["agent_id"]),
            asset_id=int(answer.get("asset_id", 0)),
            org_id=int(answer.get("org_id", 0)),
            agent_token=str(answer["agent_token"]),
            server_public_key=str(answer["server_public_key"]),
            interval=int(answer.get("interval") or 60),
            enrolled_at=SystemClock().now().timestamp(),
            ca_file=ca_file,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Failure(f"the server's enrolment answer is malformed: {exc}") from exc


def _require_enrolment(directory: Path) -> state.Enrolment:
    enrolment = state.load(directory)
    if enrolment is None:
        raise Failure(
            f"not enrolled (no {state.state_file(directory)}): "
            "run forewarn agent enroll --server URL --token TOKEN first"
        )
    return enrolment


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """Hold the state directory's lock: one agent (or enrolment) at a time per directory."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Failure(
                f"another forewarn agent is using {directory} "
                "(stop it first: systemctl stop forewarn-agent)"
            ) from None
        yield
    finally:
        os.close(fd)


def _buffer_report(buffer: Buffer) -> dict[str, Any]:
    stats: BufferStats = buffer.stats()
    return {
        "depth": stats.depth,
        "bytes": stats.bytes,
        "inventory_batches": stats.inventory_batches,
        "oldest": stats.oldest_created,
        "quarantined": stats.quarantined,
        "dropped_batches": stats.dropped_batches,
        "stripped_batches": stats.stripped_batches,
        "last_delivery": _float_meta(buffer, "last_ack_at"),
        "last_error": buffer.get_meta("last_error"),
        "last_error_at": _float_meta(buffer, "last_error_at"),
        "interval": _float_meta(buffer, "interval"),
    }


def _float_meta(buffer: Buffer, key: str) -> float | None:
    value = buffer.get_meta(key)
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    ago = SystemClock().now().timestamp() - ts
    at = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{at} ({_duration(ago)} ago)"


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _print_status(report: dict[str, Any], out: IO[str]) -> None:
    enrolment = report.get("enrolment")
    if not enrolment:
        out.write(f"not enrolled (state dir {report['state_dir']})\n")
    else:
        out.write(
            f"enrolled:      agent {enrolment['agent_id']}, asset {enrolment['asset_id']}, "
            f"organization {enrolment['org_id']} with {enrolment['server']}\n"
        )
    buf = report.get("buffer")
    if not buf:
        out.write("buffer:        none yet (the agent has not run)\n")
        return
    if buf["interval"]:
        out.write(f"interval:      {buf['interval']:g} s (set by the server)\n")
    out.write(
        f"buffer:        {buf['depth']} batches waiting, {buf['bytes'] / 1024:.1f} KiB"
        f" ({buf['inventory_batches']} with inventory)"
        + (f", oldest from {_when(buf['oldest'])}" if buf["depth"] else "")
        + "\n"
    )
    out.write(f"quarantined:   {buf['quarantined']}\n")
    if buf["dropped_batches"] or buf["stripped_batches"]:
        out.write(
            f"over the size bound: dropped {buf['dropped_batches']} metric batches, "
            f"stripped samples from {buf['stripped_batches']}\n"
        )
    out.write(f"last delivery: {_when(buf['last_delivery'])}\n")
    if buf["last_error"] and (buf["last_error_at"] or 0) >= (buf["last_delivery"] or 0):
        out.write(f"last error:    {buf['last_error']} at {_when(buf['last_error_at'])}\n")


def _print_summary(batch: dict[str, Any], out: IO[str]) -> None:
    sample = batch["samples"][0] if batch["samples"] else {"points": [], "top": []}
    out.write(
        f"sample: {len(sample['points'])} metric points, {len(sample.get('top', []))} processes\n"
    )
    inventory = batch["inventory"] or {}
    for name, section in inventory.items():
        if name == "full" or section is None:
            continue
        size = f"{len(section)} items" if isinstance(section, list) else "1 record"
        out.write(f"inventory.{name}: {size}\n")
    raw = json.dumps(batch, separators=(",", ":")).encode("utf-8")
    out.write(f"batch: {len(raw) / 1024:.1f} KiB of JSON (use --json to see it)\n")


def _configure_logging(verbose: bool) -> None:
    # No timestamps: under systemd the journal adds them; interactively they are noise.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )


def _at_least(minimum: float, unit: str) -> Any:
    """An argparse type: a number of `unit`s, at least `minimum`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of {unit}: {text!r}") from None
        if not minimum <= value < 10**8:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g} {unit}")
        return value

    return parse


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="The Forewarn endpoint agent: collects and checks in."
    )
    parser.add_argument("--version", action="version", version=f"forewarn-agent {AGENT_VERSION}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        help=f"where the enrolment and buffer live (default ${state.STATE_DIR_ENV} "
        f"or {state.DEFAULT_STATE_DIR})",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="name", required=True, metavar="COMMAND")

    p = commands.add_parser("enroll", parents=[common], help="enrol this machine with a server")
    p.add_argument("--server", required=True, help="the server URL, https://forewarn.example")
    p.add_argument("--token", required=True, help="the one-time enrolment token")
    p.add_argument("--force", action="store_true", help="replace an existing enrolment")
    p.add_argument("--ca-file", help="PEM file of a private CA that signed the server's cert")
    p.set_defaults(command=cmd_enroll)

    p = commands.add_parser("run", parents=[common], help="collect and check in until stopped")
    p.add_argument("--once", action="store_true", help="one collection and delivery, then exit")
    p.add_argument(
        "--interval",
        type=_at_least(0.1, "seconds"),
        metavar="S",
        help="check in every S seconds whatever the server says (tests, benchmarks)",
    )
    p.add_argument(
        "--inventory-interval",
        type=_at_least(0, "seconds"),
        metavar="S",
        help="look for inventory changes every S seconds (default 900)",
    )
    p.add_argument(
        "--full-inventory-interval",
        type=_at_least(0, "seconds"),
        metavar="S",
        help="send the whole inventory every S seconds (default 86400)",
    )
    p.add_argument(
        "--buffer-max-mb",
        type=_at_least(1, "MB"),
        default=DEFAULT_MAX_BYTES / 1024 / 1024,
        metavar="MB",
        help="bound of the unsent backlog; past it the oldest metrics go first (default 50)",
    )
    p.add_argument(
        "--no-long-poll",
        action="store_true",
        help="take jobs only from check-in answers (no request held open at the server)",
    )
    p.add_argument(
        "--log-dir",
        action="append",
        metavar="DIR",
        help="a directory whose files log checks may read (repeatable; default /var/log, "
        f"or ${LOG_DIRS_ENV} as DIR:DIR)",
    )
    p.set_defaults(command=cmd_run)

    p = commands.add_parser("collect", help="print what the agent would send; sends nothing")
    p.add_argument("--once", action="store_true", help="one collection (the only mode)")
    p.add_argument("--json", action="store_true", help="print the batch as JSON")
    p.set_defaults(command=cmd_collect)

    p = commands.add_parser("status", parents=[common], help="enrolment and buffer state")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(command=cmd_status)
    return parser


if __name__ == "__main__":
    sys.exit(main())
