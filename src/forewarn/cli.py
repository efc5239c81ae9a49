"""The `forewarn` command: serve, db, user, org, token, asset, discover, data, report."""

from __future__ import annotations

import gc
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from forewarn.check_cli import CHECK_CONTEXT, check
from forewarn.config import Settings
from forewarn.services import (
    bootstrap,
    builtin_scripts,
    discovery,
    enrollment,
    importing,
    lifecycle,
    orgs,
    users,
    vulndata,
    vulns,
)
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import (
    EnrollTokenCreate,
    ImportReport,
    OrgCreate,
    TokenCreate,
    UserCreate,
)
from forewarn.services.scope import SYSTEM

app = typer.Typer(help="Forewarn: proactive IT management.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="People who log in.", no_args_is_help=True)
org_app = typer.Typer(help="Client organizations.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
asset_app = typer.Typer(help="Assets: devices, websites and services.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(org_app, name="org")
app.add_typer(token_app, name="token")
app.add_typer(asset_app, name="asset")
enroll_app = typer.Typer(help="Enrolment tokens that let machines join.", no_args_is_help=True)
app.add_typer(enroll_app, name="enroll-token")
app.command(context_settings=CHECK_CONTEXT)(check)

out = Console()
err = Console(stderr=True)


def _context() -> Context:
    ctx = Context.from_settings(Settings())
    bootstrap.migrate(ctx)
    return ctx


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print the message (plain text, never markup: it may quote user input) and exit."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _explain(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
    )


def tune_gc() -> None:
    """Collect cyclic garbage less often in the long-running server.

    Requests make many short-lived objects that reference counting frees; the cyclic
    collector's default gen-0 threshold (700 allocations) made it walk the server's large
    caches (metric series ids, ORM state) thousands of times a second: with it, ingest ran at
    half the rate (bench_ingest: 638 -> 1,311 check-ins/s, p99 382 -> 67 ms). Objects made
    during start-up are frozen out of collection altogether.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


ROLES = ("api", "poller", "worker")


@app.command()
def serve(
    bind: Annotated[str | None, typer.Option(help="HOST:PORT (default FOREWARN_BIND)")] = None,
    local_agent: Annotated[
        bool, typer.Option(help="also enrol and run an agent for this machine")
    ] = False,
    role: Annotated[
        str,
        typer.Option(
            help="what this process does, comma separated: api (HTTP and dashboard), poller "
            "(runs due checks), worker (scheduled jobs). Several processes over one "
            "PostgreSQL share the work."
        ),
    ] = "api,poller,worker",
) -> None:
    """Migrate the database, make sure an admin exists, and serve the API and dashboard."""
    from forewarn.api.app import create_app
    from forewarn.api.server import run_server

    roles = {r.strip() for r in role.split(",") if r.strip()}
    if not roles or roles - set(ROLES):
        raise fail(f"--role takes a comma-separated list of {', '.join(ROLES)}, not {role!r}", 2)
    settings = Settings()
    settings.run_poller = settings.run_poller and "poller" in roles
    settings.run_jobs = settings.run_jobs and "worker" in roles
    host, _, port = (bind or settings.bind).rpartition(":")
    if not host or not port.isdigit():
        raise fail(f"--bind must be HOST:PORT, not {bind!r}", 2)
    ctx = Context.from_settings(settings)
    bootstrap.migrate(ctx)
    _warn_of_settings(settings)
    if "api" not in roles:
        if local_agent:
            raise fail("--local-agent needs the api role (the agent reports to it)", 2)
        tune_gc()
        _serve_background(ctx, roles)
        return
    password = bootstrap.ensure_admin(ctx)
    builtin_scripts.install(ctx)  # the ready-made maintenance tasks, up to date
    if password:
        out.print(
            f"First start: created owner [bold]{settings.admin_user}[/] with password "
            f"[bold]{password}[/] — shown once; change it after logging in."
        )
    url = f"http://{host}:{port}"
    out.print(f"Forewarn on {url}  (API docs at /api/docs; roles: {', '.join(sorted(roles))})")
    agent = None
    if local_agent:
        from forewarn.local_agent import LocalAgent

        agent = LocalAgent(ctx, url.replace("0.0.0.0", "127.0.0.1"))
        agent.prepare()
        agent.start()
        out.print("This machine's agent reports into the organization 'This machine'.")
    app = create_app(ctx)
    tune_gc()
    try:
        run_server(app, host.strip("[]"), int(port))
    finally:
        if agent:
            agent.stop()


def _warn_of_settings(settings: Settings) -> None:
    """Say at start what is not set up yet (the server runs anyway)."""
    from forewarn.services import alerts

    hint = alerts.link_hint(settings)
    if hint:
        err.print(f"[yellow]Warning:[/] {escape(hint)}")


def _serve_background(ctx: Context, roles: set[str]) -> None:
    """A poller and/or worker process without HTTP, until SIGINT or SIGTERM."""
    import signal
    import threading

    from forewarn.services.jobs import Scheduler
    from forewarn.services.notify import Notifier
    from forewarn.services.poller import PollerThread

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    poller = PollerThread(ctx) if "poller" in roles else None
    scheduler = Scheduler(ctx) if "worker" in roles else None
    notifier = Notifier(ctx) if "worker" in roles else None
    for part in (poller, scheduler, notifier):
        if part:
            part.start()
    out.print(f"Forewarn {', '.join(sorted(roles))} running; stop with Ctrl-C.")
    try:
        done.wait()
    finally:
        for part in (poller, notifier, scheduler):
            if part:
                part.stop()


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def agent(ctx: typer.Context) -> None:
    """The endpoint agent: enroll, run, collect, status (`forewarn agent --help`)."""
    # Only reached when forewarn.cli was called directly: the `forewarn` entry point sends
    # agent commands to the light agent CLI before this module is even imported.
    from forewarn.agent.main import main as agent_main

    raise typer.Exit(agent_main(list(ctx.args), prog="forewarn agent"))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration and stop."""
    ctx = Context.from_settings(Settings())
    bootstrap.migrate(ctx)
    out.print(f"database at head ({ctx.db.dialect})")


@user_app.command("create")
def user_create(
    username: str,
    password: Annotated[
        str | None, typer.Option(help="prompted for when not given", show_default=False)
    ] = None,
    owner: Annotated[bool, typer.Option(help="provider-wide owner: sees every client")] = False,
    email: str = "",
    display_name: str = "",
) -> None:
    """Create a user (add them to organizations with memberships or invitations)."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(
            username=username,
            password=password,
            email=email,
            display_name=display_name,
            is_owner=owner,
        )
        user = users.create_user(_context(), SYSTEM, data)
    except ValidationError as exc:
        raise fail(_explain(exc), 2) from exc
    except ServiceError as exc:
        raise fail(exc.detail) from exc
    out.print(f"created user {user.username} (id {user.id})")


@org_app.command("create")
def org_create(
    name: str,
    employees: int = 0,
    hourly_cost: Annotated[str, typer.Option(help="loaded cost of one staff hour")] = "0",
    currency: str = "USD",
    timezone: str = "UTC",
    slug: str | None = None,
) -> None:
    """Create a client organization."""
    try:
        data = OrgCreate.model_validate(
            {
                "name": name,
                "employees": employees,
                "hourly_cost": hourly_cost,
                "currency": currency,
                "timezone": timezone,
                "slug": slug,
            }
        )
        org = orgs.create(_context(), SYSTEM, data)
    except ValidationError as exc:
        raise fail(_explain(exc), 2) from exc
    except ServiceError as exc:
        raise fail(exc.detail) from exc
    out.print(f"created organization {org.name} (id {org.id}, slug {org.slug})")


@org_app.command("list")
def org_list() -> None:
    """Organizations with their site and asset counts."""
    table = Table("id", "name", "slug", "sites", "assets")
    for row in orgs.overview(_context(), SYSTEM):
        table.add_row(str(row.org.id), row.org.name, row.org.slug, str(row.sites), str(row.assets))
    out.print(table)


@token_app.command("create")
def token_create(
    username: Annotated[str, typer.Option("--user", help="whose token it is")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    expires_in_days: int | None = None,
) -> None:
    """Create an API token; its secret is printed once, on standard output alone."""
    ctx = _context()
    try:
        user_id = users.id_for_username(ctx, username)
        created = users.create_token(
            ctx, SYSTEM, TokenCreate(name=name, expires_in_days=expires_in_days), user_id
        )
    except ValidationError as exc:
        raise fail(_explain(exc), 2) from exc
    except ServiceError as exc:
        raise fail(exc.detail) from exc
    err.print(f"token {created.prefix}… for {username}; keep it, it is not shown again")
    print(created.token)


@enroll_app.command("create")
def enroll_token_create(
    org: Annotated[str, typer.Option(help="organization id or slug")],
    site: Annotated[int | None, typer.Option(help="site id the machines belong to")] = None,
    uses: Annotated[int | None, typer.Option(help="how many machines may use it")] = None,
    expires_in_days: Annotated[int | None, typer.Option(help="days it stays valid")] = 7,
    name: str = "",
) -> None:
    """Create an enrolment token; prints it once, with the command an agent runs."""
    ctx = _context()
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id
        created = enrollment.create_token(
            ctx,
            SYSTEM,
            EnrollTokenCreate(
                org_id=org_id,
                site_id=site,
                name=name,
                max_uses=uses,
                expires_in_days=expires_in_days,
            ),
        )
    except ValidationError as exc:
        raise fail(_explain(exc), 2) from exc
    except ServiceError as exc:
        raise fail(exc.detail, 2 if exc.status == 404 else 1) from exc
    url = f"http://{ctx.settings.bind}"
    err.print(f"on each machine: forewarn agent enroll --server {url} --token {created.token}")
    print(created.token)


@asset_app.command("import")
def asset_import(
    file: Annotated[Path, typer.Argument(help="a CSV file with a header row")],
    org: Annotated[str, typer.Option(help="organization id or slug")],
    skip_bad: Annotated[
        bool, typer.Option(help="import the good rows even if some are bad")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="check every row, store nothing")] = False,
) -> None:
    """Import assets from a CSV inventory; every row is checked before anything is written."""
    # The file first: a wrong path should not wait for the database.
    data = _read_inventory(file, Settings().import_max_bytes)
    ctx = _context()
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id
    except ServiceError as exc:
        raise fail(f"{exc.detail}: {org}", 2) from exc
    try:
        with _progress() as bar:
            task = bar.add_task("importing", total=None)
            report = importing.import_assets(
                ctx,
                SYSTEM,
                org_id,
                data,
                skip_bad=skip_bad,
                dry_run=dry_run,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except ServiceError as exc:
        _print_row_errors(exc.errors)
        raise fail(exc.detail) from exc
    _print_row_errors([e.model_dump() for e in report.errors], report.errors_omitted)
    out.print(escape(_import_summary(report)))
    if report.created == 0 and report.skipped:
        raise typer.Exit(1)


def _read_inventory(file: Path, max_bytes: int) -> bytes:
    """The file's bytes, or exit 2 with why it cannot be read."""
    if not file.exists():
        raise fail(f"no such file: {file}", 2)
    if not file.is_file():
        raise fail(f"not a file: {file}", 2)
    try:
        importing.check_size(file.stat().st_size, max_bytes)
        return file.read_bytes()
    except ServiceError as exc:
        raise fail(exc.detail, 2) from exc
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc


def _progress() -> Progress:
    # Only on a terminal: a bar in a log file or a pipe is noise.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=True,
        disable=not out.is_terminal,
    )


def _print_row_errors(errors: list[dict[str, Any]], omitted: int = 0) -> None:
    """The problems as a table on standard error: line, column, problem."""
    if not errors:
        return
    table = Table("line", "column", "problem", title="rows with problems", title_justify="left")
    for e in errors:
        # Text(), not markup: cell values from the file may contain [brackets].
        table.add_row(str(e.get("line", "")), Text(str(e.get("column", ""))), Text(e["message"]))
    err.print(table)
    if omitted:
        err.print(f"... and {omitted:,} more problems not listed")


def _import_summary(report: ImportReport) -> str:
    verb = "would import" if report.dry_run else "imported"
    parts = [f"{verb} {report.created} asset{'s' if report.created != 1 else ''}"]
    if report.sites_created:
        made = "would create" if report.dry_run else "created"
        parts.append(f"{made} sites: {', '.join(report.sites_created)}")
    if report.skipped:
        parts.append(f"skipped {report.skipped} bad row{'s' if report.skipped != 1 else ''}")
    return "; ".join(parts)


# --- network discovery (issue 4) -------------------------------------------------------------

discover_app = typer.Typer(help="Network discovery: sweep client networks.", no_args_is_help=True)
app.add_typer(discover_app, name="discover")


@discover_app.command("add")
def discover_add(
    cidr: Annotated[str, typer.Argument(help="e.g. 192.168.1.0/24; at most a /22")],
    org: Annotated[str, typer.Option(help="organization id or slug")],
    site: Annotated[int | None, typer.Option(help="site that adopted devices go to")] = None,
    community: Annotated[
        list[str] | None, typer.Option(help="SNMP v2c community to try (repeatable)")
    ] = None,
    agent: Annotated[
        int | None,
        typer.Option(help="id of an agent on that network that sweeps it for the server"),
    ] = None,
) -> None:
    """Allow a network to be swept for an organization."""
    ctx = _context()
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id
        data = discovery.NetworkCreate(
            org_id=org_id,
            cidr=cidr,
            site_id=site,
            snmp_communities=community or [],
            agent_id=agent,
        )
        net = discovery.create_network(ctx, SYSTEM, data)
    except ValidationError as exc:
        raise fail(_explain(exc), 2) from exc
    except ServiceError as exc:
        raise fail(exc.detail, 2 if exc.status in (404, 422) else 1) from exc
    out.print(f"network {net.cidr} added (id {net.id}); sweep it: forewarn discover run {net.id}")


@discover_app.command("list")
def discover_list(org: Annotated[str, typer.Option(help="organization id or slug")]) -> None:
    """The networks entered for an organization."""
    ctx = _context()
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id
    except ServiceError as exc:
        raise fail(exc.detail, 2) from exc
    table = Table("id", "network", "site", "communities", "swept by")
    for n in discovery.list_networks(ctx, SYSTEM, org_id=org_id, limit=500).items:
        by = f"agent {n.agent_id}" if n.agent_id else "server"
        table.add_row(str(n.id), n.cidr, str(n.site_id or ""), str(n.snmp_communities), by)
    out.print(table)


@discover_app.command("run")
def discover_run(network: Annotated[int, typer.Argument(help="id from discover list")]) -> None:
    """Sweep one network now (bounded: 200 probes/s, 120 s at most) and show what is on it."""
    ctx = _context()
    try:
        run = discovery.run(ctx, SYSTEM, network)
    except ServiceError as exc:
        raise fail(exc.detail, 2 if exc.status == 404 else 1) from exc
    if run.status == "running":
        out.print(
            f"run {run.id}: the network's agent sweeps it after its next check-in; see the "
            "result on the discovery page or GET /api/v1/discovery/runs"
        )
        return
    if run.status != "done":
        raise fail(f"run {run.id} failed: {run.error}")
    table = Table("address", "MAC", "name", "open TCP ports", "kind", "state")
    cursor: str | None = None
    while True:
        page = discovery.list_devices(ctx, SYSTEM, network_id=network, limit=500, cursor=cursor)
        for d in page.items:
            ports = " ".join(map(str, d.open_ports))
            name = Text(d.sys_name or d.hostname)  # device-supplied: never read as markup
            table.add_row(d.address, d.mac, name, ports, d.kind_guess, d.state)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    out.print(table)
    err.print(f"run {run.id}: {run.addresses} addresses swept, {run.found} found, {run.new} new")


data_app = typer.Typer(
    help="Dated data: the end-of-life table and vulnerability data (OSV, KEV, EPSS).",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--date {value!r} is not a date (YYYY-MM-DD)", 2) from None


def _check_file(file: Path) -> None:
    if not file.exists():
        raise fail(f"no such file: {file}", 2)
    if not file.is_file():
        raise fail(f"not a file: {file}", 2)


def _file_kind(file: Path, kind: str | None) -> str | None:
    """ "osv" / "kev" / "epss" for vulnerability data (by content, or --kind), None for an
    end-of-life file."""
    if kind == "eol":
        return None
    try:
        with file.open("rb") as stream:
            head = stream.read(4096)
        return vulndata.detect(head, kind)
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    except ServiceError as exc:
        raise fail(exc.detail, 2) from exc


def _import_vulns(file: Path, kind: str, when: date | None) -> None:
    ctx = _context()
    try:
        with file.open("rb") as stream:
            loaded = vulndata.import_file(ctx, file.name, stream, kind=kind, data_date=when)
    except ServiceError as exc:
        raise fail(exc.detail) from exc
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    table = Table("data set", "records", "data date")
    for item in loaded:
        table.add_row(item.label, str(item.records), str(item.data_date))
    out.print(table)
    err.print(f"imported {', '.join(d.name for d in loaded)} from {file.name}")
    report = vulns.refresh_all(ctx)
    err.print(
        f"matched {report.assets} asset(s): {report.sync.opened} finding(s) opened, "
        f"{report.sync.resolved} resolved"
    )


@data_app.command("import")
def data_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="an OSV ecosystem zip (all.zip), CISA's KEV JSON, an EPSS CSV (.gz too), "
            "an endoflife.date JSON or a distro-info CSV"
        ),
    ],
    product: Annotated[
        str | None,
        typer.Option(help="end of life: product a file of one product is about"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--date", help="YYYY-MM-DD the data is true of (default: the file's own)"),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="osv, kev, epss or eol: the format, when not told by the content"),
    ] = None,
) -> None:
    """Load newer data; a file that cannot be read whole changes nothing."""
    when = _day(as_of)
    _check_file(file)
    found = _file_kind(file, kind)
    if found is not None:
        _import_vulns(file, found, when)
        return
    raw = _read_inventory(file, lifecycle.MAX_FILE_BYTES)
    ctx = _context()
    try:
        loaded = lifecycle.import_file(ctx, file.name, raw, product=product, data_date=when)
    except ServiceError as exc:
        raise fail(exc.detail) from exc
    table = Table("product", "releases", "data date", "in force")
    for item in loaded:
        day = str(item.data_date or "")
        table.add_row(item.product, str(item.releases), day, "yes" if item.in_force else "no")
    out.print(table)
    err.print(f"imported {len(loaded)} product(s) from {file.name}")


@data_app.command("status")
def data_status() -> None:
    """Which data is loaded, from where, and as of when."""
    ctx = _context()
    table = Table("product", "releases", "source", "data date", "in force")
    for item in lifecycle.status(ctx):
        table.add_row(
            item.product,
            str(item.releases),
            Text(item.source),
            str(item.data_date or "unknown"),
            "yes" if item.in_force else "no (another source wins)",
        )
    out.print(table)
    loaded = vulndata.status(ctx)
    vuln_table = Table("vulnerability data", "records", "source", "data date", "imported")
    for d in loaded:
        vuln_table.add_row(
            d.label,
            str(d.records),
            Text(d.source),
            str(d.data_date),
            d.imported_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    if not loaded:
        vuln_table.add_row("none imported", "", "forewarn data import FILE", "", "")
    out.print(vuln_table)


posture_app = typer.Typer(
    help="Posture policies: security checks the agents run.", no_args_is_help=True
)
app.add_typer(posture_app, name="posture")


@posture_app.command("import")
def posture_import(
    file: Annotated[Path, typer.Argument(help="the policy, YAML (docs/posture.md)")],
    org: Annotated[
        str | None,
        typer.Option(help="organization id or slug; left out: for every organization"),
    ] = None,
) -> None:
    """Check a posture policy and put it in force (replacing one of the same id)."""
    from forewarn.security.posture_policy import MAX_BYTES
    from forewarn.services import posture

    ctx = _context()
    try:
        source = file.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id if org else None
        policy = posture.import_policy(ctx, SYSTEM, source, org_id)
    except ServiceError as exc:
        raise fail(f"{file}: {exc.detail}", 2 if exc.status in (404, 422) else 1) from exc
    where = f"organization {org_id}" if org_id else "every organization"
    out.print(
        f"policy {policy.policy_id} ({policy.checks} checks) in force for {where} (id {policy.id})"
    )


@posture_app.command("list")
def posture_list(
    org: Annotated[str | None, typer.Option(help="organization id or slug")] = None,
) -> None:
    """The posture policies: shipped, the provider's and the organizations'."""
    from forewarn.services import posture

    ctx = _context()
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id if org else None
    except ServiceError as exc:
        raise fail(exc.detail, 2) from exc
    table = Table("id", "policy", "name", "level", "organization", "checks", "digest")
    for p in posture.list_policies(ctx, SYSTEM, org_id):
        table.add_row(
            str(p.id or ""),
            p.policy_id,
            Text(p.name),
            p.level,
            str(p.org_id or ""),
            str(p.checks),
            p.digest,
        )
    out.print(table)


report_app = typer.Typer(help="Client reports: the monthly IT report.", no_args_is_help=True)
app.add_typer(report_app, name="report")


def _write(file: Path, data: bytes) -> None:
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {file}: {exc.strerror or exc}", 2) from exc


@report_app.command("monthly")
def report_monthly(
    org: Annotated[str, typer.Argument(help="organization id or slug")],
    month: Annotated[
        str | None,
        typer.Option(help="YYYY-MM in the organization's time zone (default: last month)"),
    ] = None,
    pdf: Annotated[Path | None, typer.Option(help="write the PDF here")] = None,
    html: Annotated[Path | None, typer.Option(help="write the HTML here")] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="write the JSON document here")
    ] = None,
) -> None:
    """Generate and store an organization's monthly report (replacing that month's), and
    write it as PDF, HTML or JSON."""
    import json

    from forewarn.reports import monthly as paper
    from forewarn.services import monthly_report

    ctx = _context()
    try:
        found = orgs.resolve_ref(ctx, SYSTEM, org)
        period = month or monthly_report.last_month(found.timezone, ctx.clock.now())
        report = monthly_report.generate(ctx, SYSTEM, found.id, period)
    except ServiceError as exc:
        raise fail(exc.detail, 2 if exc.status in (404, 422) else 1) from exc
    doc = report.document
    if json_file:
        _write(json_file, json.dumps(doc, indent=2, ensure_ascii=False).encode())
    if html:
        _write(html, paper.html(doc).encode())
    if pdf:
        _write(pdf, paper.pdf(doc))
    out.print(
        f"report {report.id}: {escape(found.name)}, {doc['period']['label']}: "
        f"{escape(doc['headline']['text'])}"
    )
    if doc["no_data"]:
        out.print(escape(doc["no_data_reason"]))


# ---- the assessment (issue 9) -----------------------------------------------------------------


class _RunByDefault(TyperGroup):
    """`forewarn assess ORG` runs an assessment; named subcommands (answers) go their way."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


assess_app = typer.Typer(
    cls=_RunByDefault,
    help="The IT risk assessment: `forewarn assess ORG [--json FILE] [--pdf FILE] "
    "[--summary-pdf FILE]`, `forewarn assess answers ORG FILE.yml`.",
    no_args_is_help=True,
)
app.add_typer(assess_app, name="assess")


def _print_assessment(doc: dict[str, Any]) -> None:
    from forewarn.reports import formatting

    overall = doc["scores"]["overall"]
    out.print(f"[bold]{escape(doc['org']['name'])}[/] — assessment {doc['id']} of {doc['as_of']}")
    if doc["no_data"]:
        out.print(f"[yellow]no data:[/] {escape(doc['message'])}")
    table = Table("area", "score /100", "coverage", "from machines", "from answers", "failing")
    for r in [overall, *doc["scores"]["functions"]]:
        table.add_row(
            Text(r["name"]),
            formatting.number(r["score"]),
            formatting.share(r["coverage"]),
            formatting.share(r["from_machines"]),
            formatting.share(r["from_answers"]),
            Text(", ".join(r["failing"][:8])),
        )
    out.print(table)
    gaps = doc["gaps"]
    out.print(
        "hidden gaps: " + ", ".join(f"{k.replace('_', ' ')} {v['count']}" for k, v in gaps.items())
    )
    comparison = doc.get("comparison")
    if comparison:
        change = comparison["overall"]["change"]
        out.print(
            f"since assessment {comparison['previous']['id']}: overall "
            f"{'—' if change is None else f'{change:+.1f}'}; improved "
            f"{', '.join(i['id'] for i in comparison['improved']) or 'none'}; worse "
            f"{', '.join(i['id'] for i in comparison['worse']) or 'none'}"
        )
    register = doc.get("risks")
    if register and register["risks"]:
        risks = Table("risk", "level", "likely a year", "range a year")
        cur = register["currency"]
        for r in register["risks"]:
            loss = r["annual_loss_exposure"]
            mark = "†" if r["typical_outage"]["defaults"] else ""
            risks.add_row(
                Text(r["title"]),
                r["level"],
                f"{formatting.money(loss['p50'], cur)}{mark}",
                f"{formatting.money(loss['p10'], cur)} to "
                f"{formatting.money(loss['p90'], cur)}{mark}",
            )
        out.print(risks)
    outage = doc.get("outage")
    if outage:
        mark = "†" if outage["defaults"] else ""
        out.print(
            f"an 8-hour outage costs {formatting.money(outage['total'], outage['currency'])}{mark}"
        )
    defaults = doc["cost_inputs"]["defaults"]
    if defaults:
        out.print(Text(f"† cost inputs using defaults: {', '.join(defaults)}", style="dim"))


@assess_app.command("run")
def assess_run(
    org: Annotated[str, typer.Argument(help="organization id or slug")],
    json_file: Annotated[
        Path | None,
        typer.Option("--json", help="also write the document (canonical JSON) here; - for stdout"),
    ] = None,
    pdf_file: Annotated[
        Path | None, typer.Option("--pdf", help="also write the full report (PDF) here")
    ] = None,
    summary_file: Annotated[
        Path | None,
        typer.Option("--summary-pdf", help="also write the one-page executive summary (PDF) here"),
    ] = None,
) -> None:
    """Assess an organization now, keep the snapshot and print its summary."""
    from forewarn.reports import assessment as paper
    from forewarn.services import assessments

    ctx = _context()
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id
        done = assessments.run(ctx, SYSTEM, org_id)
    except ServiceError as exc:
        raise fail(exc.detail, 2 if exc.status in (404, 422) else 1) from exc
    data = assessments.canonical_json(done.document)
    if json_file is not None and str(json_file) == "-":
        sys.stdout.buffer.write(data + b"\n")
        return
    _print_assessment(done.document)
    if json_file is not None:
        _write(json_file, data)
        out.print(f"document written to {escape(str(json_file))}")
    document = assessments.readable(done.document)
    for target, render, what in (
        (pdf_file, paper.pdf, "report"),
        (summary_file, paper.summary_pdf, "executive summary"),
    ):
        if target is None:
            continue
        _write(target, render(document))
        out.print(f"{what} written to {escape(str(target))}")


@assess_app.command("answers")
def assess_answers(
    org: Annotated[str, typer.Argument(help="organization id or slug")],
    file: Annotated[Path, typer.Argument(help="the answers, YAML (docs/assessment.md)")],
) -> None:
    """Import questionnaire answers; refused whole, each problem named, when any is wrong."""
    from forewarn.assess.questionnaire import MAX_BYTES
    from forewarn.services import assessments

    ctx = _context()
    try:
        source = file.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    try:
        org_id = orgs.resolve_ref(ctx, SYSTEM, org).id
        done = assessments.import_answers(ctx, SYSTEM, org_id, source)
    except ServiceError as exc:
        for e in exc.errors:
            where = f"line {e['line']}: " if e.get("line") else ""
            err.print(Text(f"{file}: {where}{e.get('id') or ''}: {e['msg']}"), soft_wrap=True)
        raise fail(f"{file}: {exc.detail}" if not exc.errors else "answers refused, nothing stored",
                   2) from exc  # fmt: skip
    out.print(
        f"{done.answered} of {len(done.questions)} questions answered for organization {org_id}"
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
