"""`trace2skill skills ...`: import, list, show, history, diff, review, rollback, publish, export, validate, usage.

A thin shell over `trace2skill.skills_store`: each command calls one library method and prints the
result for people (rich tables) or, with `--json`, for programs.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from trace2skill.cli.main import State, cli, pass_state
from trace2skill.cli.output import Column, echo_json, emit, format_options, is_structured, resolve_format
from trace2skill.errors import InvalidInput, NotFound
from trace2skill.models import Skill
from trace2skill.skills_store import (
    SkillReview,
    SkillStore,
    SkillVersion,
    ValidationReport,
    diff_skills,
    read_skill_dir,
    validate_skill,
)

__all__ = ["skills"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
allow_secrets_option = click.option(
    "--allow-secrets",
    is_flag=True,
    help="Keep .env files, private keys and files holding credentials (refused by default).",
)


def _echo_json(value: Any) -> None:
    echo_json(value)


def _store(state: State) -> SkillStore:
    return state.workspace.skills


def _version_json(v: SkillVersion) -> dict[str, Any]:
    return v.model_dump(mode="json")


def _when(v: SkillVersion) -> str:
    return v.created_at.strftime("%Y-%m-%d %H:%M:%S")


def _print_report(report: ValidationReport) -> None:
    for error in report.errors:
        click.echo(f"warning: imported with --force, but it breaks a rule: {error}", err=True)
    for warning in report.warnings:
        click.echo(f"validation warning: {warning}", err=True)


@cli.group()
def skills() -> None:
    """Versioned skills: import, inspect, diff, roll back, publish and export."""


@skills.command("import")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--name", help="Skill name (default: SKILL.md's name, else the folder's name).")
@click.option("-m", "--message", multiple=True, help="Changelog line for the new version (repeatable).")
@click.option("--no-publish", is_flag=True, help="Record the version without publishing it.")
@click.option(
    "--force", is_flag=True, help="Import and publish a skill that breaks the Agent Skills rules (each is named)."
)
@allow_secrets_option
@json_option
@pass_state
def import_(
    state: State,
    folder: Path,
    name: str | None,
    message: tuple[str, ...],
    no_publish: bool,
    force: bool,
    allow_secrets: bool,
    as_json: bool,
) -> None:
    """Import a skill folder; records a new version only when its content changed.

    A folder that breaks the Agent Skills rules is refused, naming each rule, unless --force."""
    store = _store(state)
    version, created = store.import_dir(
        folder,
        name=name,
        changelog=list(message) or None,
        publish=not no_publish,
        allow_secrets=allow_secrets,
        force=force,
    )
    report = validate_skill(store.load(version.name, version.version))
    published = store.published_version(version.name)
    if as_json:
        _echo_json(
            {
                "created": created,
                "version": _version_json(version),
                "published_version": published,
                "published_path": str(store.published_path(version.name)) if published else None,
                "validation": report.model_dump(),
            }
        )
    else:
        if created:
            where = f", published to {store.published_path(version.name)}" if published == version.version else ""
            click.echo(f"Imported {version.name} as version {version.version}{where}.")
        else:
            click.echo(f"{version.name} is unchanged: still version {version.version}.")
    _print_report(report)


SKILL_COLUMNS = (
    Column("name", ident=True),
    Column("head", "version", width=7),
    Column("published_version", "published", width=9, cell=lambda row: Text(str(row["published_version"] or "-"))),
    Column("versions", priority=2, width=8),
    Column(
        "updated_at",
        "updated (UTC)",
        priority=3,
        width=16,
        cell=lambda row: Text(str(row["updated_at"])[:16].replace("T", " ")),
    ),
    Column("digest", priority=9, width=64),
    Column("description", priority=1, width=24, fill=True),
)


_NO_SKILLS = "No skills yet: add one with `trace2skill skills import DIR`."


@skills.command("list")
@format_options
@pass_state
def list_(state: State, output_format: str | None, as_json: bool, no_headers: bool) -> None:
    """List skills with their latest and published versions."""
    fmt = resolve_format(output_format, as_json)
    rows = [s.model_dump(mode="json") for s in _store(state).list()]
    if is_structured(fmt):
        emit(rows, SKILL_COLUMNS, fmt, headers=not no_headers, empty=_NO_SKILLS)
        return
    emit(rows, SKILL_COLUMNS, fmt, empty=_NO_SKILLS)


def _show_file(store: SkillStore, name: str, path: str, version: int | None, as_json: bool) -> None:
    data = store.read_file(name, path, version)
    if not as_json:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        payload: dict[str, Any] = {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        payload = {"base64": base64.b64encode(data).decode("ascii")}
    _echo_json({"name": name, "version": store.get_version(name, version).version, "path": path, **payload})


def _show_provenance(v: SkillVersion) -> None:
    if not v.provenance:
        click.echo(f"{v.name} version {v.version} has no provenance (author {v.author}).")
        return
    click.echo(f"{v.name} version {v.version}: {len(v.provenance)} edit(s) by {v.author}")
    for entry in v.provenance:
        edit_id = entry.get("edit_id") or "-"
        click.echo(f"  {edit_id}  {entry.get('op') or '?'} {entry.get('file') or '?'}: {entry.get('summary') or ''}")
        support = entry.get("support") or []
        click.echo(f"      supported by {len(support)} trajectories: {', '.join(support) if support else '(none)'}")


@skills.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, help="Version number (default: latest).")
@click.option("--provenance", is_flag=True, help="List each edit of the version with its supporting trajectories.")
@click.option("--file", "file_path", help="Print one file of the skill (raw bytes; --json gives text or base64).")
@json_option
@pass_state
def show(state: State, name: str, version: int | None, provenance: bool, file_path: str | None, as_json: bool) -> None:
    """Show a version: metadata, changelog, files and SKILL.md."""
    store = _store(state)
    if file_path is not None:
        _show_file(store, name, file_path, version, as_json)
        return
    v = store.get_version(name, version)
    if as_json:
        files = [f.model_dump() for f in store.list_files(name, v.version)]
        payload: dict[str, Any] = {
            "version": _version_json(v),
            "published_version": store.published_version(name),
            "files": files,
        }
        if not provenance:
            payload["skill_md"] = store.read_file(name, "SKILL.md", v.version).decode("utf-8", "replace")
        _echo_json(payload)
        return
    if provenance:
        _show_provenance(v)
        return
    published = store.published_version(name)
    review = store.review(name, v.version)
    held = f" ({review.summary()})" if review is not None and review.held else ""
    click.echo(f"{v.name} version {v.version}{' (published)' if published == v.version else ''}{held}")
    click.echo(f"  digest   sha256:{v.digest}")
    click.echo(f"  parent   {v.parent or '-'}")
    click.echo(f"  author   {v.author}{f' (run {v.run_id})' if v.run_id else ''}")
    click.echo(f"  created  {_when(v)}")
    click.echo(f"  files    {v.file_count} ({v.total_bytes:,} bytes)")
    for line in v.changelog:
        click.echo(f"  - {line}")
    click.echo("")
    for f in store.list_files(name, v.version):
        click.echo(f"  {'x' if f.executable else ' '} {f.size:>9,}  {f.path}")
    click.echo("")
    try:
        click.echo(store.read_file(name, "SKILL.md", v.version).decode("utf-8", "replace"), nl=False)
    except NotFound:
        pass


def _history_version(row: Mapping[str, Any]) -> Text:
    return Text(f"{row['version']}{' *' if row['published'] else ''}")


HISTORY_COLUMNS = (
    Column("version", ident=True, cell=_history_version),
    Column(
        "created_at",
        "created (UTC)",
        priority=3,
        width=19,
        cell=lambda row: Text(str(row["created_at"])[:19].replace("T", " ")),
    ),
    Column("author", width=16),
    Column("parent", priority=4, width=6, cell=lambda row: Text(str(row["parent"] or "-"))),
    Column("digest", priority=5, width=12, cell=lambda row: Text(str(row["digest"])[:12])),
    Column("published", priority=9),
    Column("run_id", priority=9),
    Column(
        "changelog",
        priority=1,
        width=24,
        fill=True,
        cell=lambda row: Text(
            (row["changelog"][0] if row["changelog"] else "")
            + (f" (+{len(row['changelog']) - 1} more)" if len(row["changelog"]) > 1 else "")
        ),
    ),
    Column("review_summary", "review", priority=2, width=24),
)
"""`skills history`: in tsv/csv the changelog lines are joined with `,`; --format json has them as a list,
with each version's scores and review."""

_HISTORY_TABLE_HIDDEN = ("published", "run_id", "review_summary")


@skills.command("history")
@click.argument("name")
@format_options
@pass_state
def history(state: State, name: str, output_format: str | None, as_json: bool, no_headers: bool) -> None:
    """List every version of a skill, oldest first."""
    fmt = resolve_format(output_format, as_json)
    store = _store(state)
    versions = store.history(name)
    published = store.published_version(name)
    scores: dict[int, list[Any]] = {}
    for score in store.scores(name):
        scores.setdefault(score.version, []).append(score)
    reviews = store.reviews(name)
    rows = [
        {
            **_version_json(v),
            "published": v.version == published,
            "scores": [s.model_dump(mode="json") for s in scores.get(v.version, [])],
            "review": _review_json(reviews[v.version]) if v.version in reviews else None,
            "review_summary": reviews[v.version].summary() if v.version in reviews else None,
        }
        for v in versions
    ]
    if fmt in ("json", "ndjson"):
        emit([{k: v for k, v in row.items() if k != "review_summary"} for row in rows], HISTORY_COLUMNS, fmt)
        return
    if is_structured(fmt):
        emit(rows, HISTORY_COLUMNS, fmt, headers=not no_headers)
        return
    emit(rows, [c for c in HISTORY_COLUMNS if c.key not in _HISTORY_TABLE_HIDDEN], fmt)
    for v in versions:
        for s in scores.get(v.version, []):
            verdict = f" ({s.verdict})" if s.verdict else ""
            click.echo(
                f"version {v.version}: {s.suite}:{s.split} with {s.model}: {s.passed}/{s.total} = {s.rate:.1%}{verdict}"
            )
        if v.version in reviews:
            click.echo(f"version {v.version}: {reviews[v.version].summary()}")
    if published is not None:
        click.echo(f"* published: version {published}")
    pending = [r.version for r in reviews.values() if r.held]
    if pending:
        click.echo(
            f"held for review: version{'s' if len(pending) > 1 else ''} {', '.join(map(str, pending))} "
            f"(`trace2skill skills review {name}`)"
        )


@skills.command("diff")
@click.argument("name")
@click.argument("v1", type=int)
@click.argument("v2", type=int)
@json_option
@pass_state
def diff(state: State, name: str, v1: int, v2: int, as_json: bool) -> None:
    """Unified diff from version V1 to version V2."""
    out = _store(state).diff(name, v1, v2)
    if as_json:
        _echo_json({"name": name, "from": v1, "to": v2, "diff": out})
    elif out:
        click.echo(out, nl=False)
    else:
        click.echo(f"versions {v1} and {v2} of {name} have the same content", err=True)


def _review_json(review: SkillReview) -> dict[str, Any]:
    return {**review.model_dump(mode="json", exclude={"name"}), "summary": review.summary()}


def _review_diff(store: SkillStore, name: str, v: SkillVersion) -> str:
    """What the held version changes: against the version it was built on, or against nothing."""
    if v.parent is not None:
        return store.diff(name, v.parent, v.version)
    return diff_skills(Skill(name=name, files=()), store.load(name, v.version))


@skills.command("review")
@click.argument("name")
@click.option("--version", "version", type=int, help="One version (default: every version still held).")
@json_option
@pass_state
def review(state: State, name: str, version: int | None, as_json: bool) -> None:
    """Show versions held for review: why each was held and its diff against the version it was built on."""
    store = _store(state)
    if version is not None:
        one = store.review(name, store.get_version(name, version).version)
        if one is None:
            raise InvalidInput(f"version {version} of {name!r} was never held for review")
        held = [one]
    else:
        held = store.pending(name)
    entries = []
    for r in held:
        v = store.get_version(name, r.version)
        entries.append((r, v, _review_diff(store, name, v)))
    if as_json:
        _echo_json(
            [
                {**_review_json(r), "parent": v.parent, "author": v.author, "run_id": v.run_id, "diff": diff}
                for r, v, diff in entries
            ]
        )
        return
    if not entries:
        published = store.published_version(name)
        click.echo(f"Nothing of {name} is held for review (published: version {published or '-'}).")
        return
    for r, v, diff in entries:
        source = f"{v.author}{f' (run {v.run_id})' if v.run_id else ''}"
        click.echo(f"{name} version {v.version}, built on version {v.parent or '-'} by {source}: {r.summary()}")
        click.echo("Held because:")
        for reason in r.reasons:
            click.echo(f"  - {reason}")
        click.echo("")
        click.echo(diff or "(no change in content)\n", nl=False)
        click.echo("")
        if r.held:
            click.echo(
                f"Publish it with `trace2skill skills publish {name} --version {v.version}`; until then it stays "
                "unpublished."
            )
        click.echo("")


@skills.command("rollback")
@click.argument("name")
@click.argument("version", type=int)
@allow_secrets_option
@json_option
@pass_state
def rollback(state: State, name: str, version: int, allow_secrets: bool, as_json: bool) -> None:
    """Publish the content of VERSION again, as a new version."""
    store = _store(state)
    before = store.head(name).version
    new = store.rollback(name, version, allow_secrets=allow_secrets)
    if as_json:
        _echo_json({"created": new.version != before, "version": _version_json(new)})
    elif new.version == before:
        click.echo(f"{name} version {before} already has the content of version {version}; nothing to do.")
    else:
        click.echo(f"Rolled {name} back to the content of version {version}, published as version {new.version}.")


@skills.command("publish")
@click.argument("name")
@click.option("--version", "version", type=int, help="Version number (default: latest).")
@click.option("--force", is_flag=True, help="Replace the published folder even if it holds changes this version lacks.")
@allow_secrets_option
@json_option
@pass_state
def publish(state: State, name: str, version: int | None, force: bool, allow_secrets: bool, as_json: bool) -> None:
    """Publish a version to the skills folder (a hand edit found there is recorded first).

    A version held for review is published too: running this is the review. The reasons it was held
    are printed first."""
    store = _store(state)
    target = store.get_version(name, version).version
    held = store.review(name, target)
    overridden = list(held.reasons) if held is not None and held.held else []
    if overridden and not as_json:
        click.echo(f"{name} version {target} was held for review; publishing it overrides {len(overridden)} reasons:")
        for reason in overridden:
            click.echo(f"  - {reason}")
    path = store.publish(name, target, force=force, allow_secrets=allow_secrets, reviewed=True)
    published = store.published_version(name)
    if as_json:
        _echo_json({"name": name, "published_version": published, "path": str(path), "overrode": overridden})
    else:
        click.echo(f"{name} version {published} is published at {path}.")


@skills.command("sync")
@click.argument("name")
@json_option
@pass_state
def sync(state: State, name: str, as_json: bool) -> None:
    """Record a hand edit of the published folder as a new version."""
    recorded = _store(state).sync_published(name)
    if as_json:
        _echo_json({"created": recorded is not None, "version": _version_json(recorded) if recorded else None})
    elif recorded:
        click.echo(f"Recorded the hand edit of {name} as version {recorded.version}.")
    else:
        click.echo(f"The published folder of {name} has no unrecorded changes.")


@skills.command("export")
@click.argument("name")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--version", "version", type=int, help="Version number (default: latest).")
@click.option("--force", is_flag=True, help="Replace DEST/NAME even if it is not a version of this skill.")
@allow_secrets_option
@json_option
@pass_state
def export(
    state: State, name: str, dest: Path, version: int | None, force: bool, allow_secrets: bool, as_json: bool
) -> None:
    """Write a version to DEST/NAME, e.g. ~/.claude/skills or .agents/skills."""
    store = _store(state)
    v = store.get_version(name, version)
    path = store.export(name, dest, v.version, force=force, allow_secrets=allow_secrets)
    if as_json:
        _echo_json({"name": name, "version": v.version, "digest": v.digest, "path": str(path)})
    else:
        click.echo(f"Exported {name} version {v.version} to {path}.")


@skills.command("validate")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--name", help="Skill name to check against (default: the folder's name).")
@json_option
def validate(folder: Path, name: str | None, as_json: bool) -> None:
    """Check a skill folder against the Agent Skills specification; exit 1 on errors."""
    resolved = folder.expanduser().resolve()
    skill = read_skill_dir(folder, name=name or resolved.name)
    report = validate_skill(skill)
    if as_json:
        _echo_json({"folder": str(folder), **report.model_dump(), "ok": report.ok})
    else:
        click.echo(report.as_text())
    if not report.ok:
        n = len(report.errors)
        raise InvalidInput(f"{folder}: {n} validation error{'s' if n != 1 else ''}")


USAGE_COLUMNS = (
    Column("path", fill=True),
    Column("reads", width=6),
    Column("sessions", width=8),
    Column(
        "last_read",
        "last read (UTC)",
        priority=1,
        width=16,
        cell=lambda row: Text(str(row["last_read"])[:16].replace("T", " ") if row["last_read"] else "never"),
    ),
)


@skills.command("usage")
@click.argument("name")
@click.option("--version", "version", type=int, help="Version number (default: the current one, as served).")
@json_option
@pass_state
def usage(state: State, name: str, version: int | None, as_json: bool) -> None:
    """Which files of a skill agents read (over MCP, or in imported Claude Code sessions), and which never."""
    summary = state.workspace.skill_usage(name, version)
    if as_json:
        _echo_json(summary.model_dump(mode="json"))
        return
    rows = [f.model_dump(mode="json") for f in summary.files]
    click.echo(f"{name} version {summary.version}: {summary.reads} read(s) in {summary.sessions} session(s)")
    emit(rows, USAGE_COLUMNS, "table")
    if not summary.reads:
        click.echo(
            "No reads recorded yet: reads are recorded when agents read the skill through `trace2skill serve`, "
            "and from Claude Code sessions brought in by `trace2skill import` or the capture hook."
        )
        return
    if summary.never_read:
        click.echo("Never read: " + ", ".join(summary.never_read))
    else:
        click.echo("Every file was read at least once.")
    click.echo(f"Recorded trajectories that read this version: {summary.trajectories}.")


@skills.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when stdin is not a terminal).")
@json_option
@pass_state
def delete(state: State, name: str, yes: bool, as_json: bool) -> None:
    """Delete a skill with all its versions and its published folder in this home's skills folder (recorded
    runs of it stay). Refused while an evolution of it is running. Asks first on a terminal.

    \b
    Example:
      trace2skill skills delete old-skill --yes
    """
    from trace2skill.cli.traces import confirm

    store = _store(state)
    head = store.head(name)  # an unknown skill fails before any question
    running = [r["id"] for r in state.workspace.traces.list_runs(skill=name, limit=1000) if r["status"] == "running"]
    if running:
        raise InvalidInput(
            f"skill {name!r} has an evolution running ({running[0]}): wait for it to end, or stop it, then delete"
        )
    versions = "1 version" if head.version == 1 else f"{head.version} versions"
    confirm(f"Delete skill {name!r} with its {versions} and its published folder?", yes)
    removed = store.delete(name)
    if as_json:
        _echo_json({"name": name, "versions": removed, "deleted": True})
    else:
        click.echo(f"Deleted skill {name} ({removed} version{'s' if removed != 1 else ''}).")
