"""The README's examples run, so they cannot rot.

Convention: an HTML comment on the line right before a fenced block marks it for the tests.

    <!-- test -->                          run this ```bash / ```console block
    <!-- test expect="text" ... -->        ... and require each text in its output
    <!-- test file=NAME -->                write this block (e.g. the JSON example) to NAME first

Marked blocks run in order, in one bash session (so `export` carries over, as it does for a reader),
through the installed `trace2skill` command, with a temporary HOME, working folder, TMPDIR and
TRACE2SKILL_HOME, and no provider keys. Blocks that need a key or a client binary stay unmarked;
every `trace2skill` command line in any block is still checked against the real command tree.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from trace2skill.cli import cli
from trace2skill.models import Trajectory

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent
DROP_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "TRACE2SKILL_MODEL",
    "TRACE2SKILL_TOKEN",
    "CLAUDE_CONFIG_DIR",
)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
MARK = re.compile(r"<!--\s*test\b(.*?)-->\s*$")


@dataclass
class Block:
    lang: str
    body: str
    line: int
    marked: bool = False
    expect: list[str] = field(default_factory=list)
    file: str | None = None


def parse(text: str) -> list[Block]:
    blocks = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        block = Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        mark = MARK.search(before)
        if mark:
            block.marked = True
            options = mark.group(1)
            block.expect = re.findall(r'expect="([^"]*)"', options)
            named = re.search(r"\bfile=(\S+)", options)
            block.file = named.group(1) if named else None
        blocks.append(block)
    return blocks


BLOCKS = parse(README.read_text(encoding="utf-8"))


def _commands(body: str) -> list[str]:
    """Command lines of a shell block: continuations joined, comments and blank lines dropped."""
    joined = body.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def test_the_readme_opens_with_make_demo_and_make_test() -> None:
    first = BLOCKS[0]
    assert first.lang == "bash" and first.line < 6
    assert [shlex.split(c, comments=True) for c in _commands(first.body)] == [["make", "demo"], ["make", "test"]]


def test_the_json_example_is_a_valid_trajectory() -> None:
    (example,) = [b for b in BLOCKS if b.lang == "json" and b.marked]
    trajectory = Trajectory.model_validate(json.loads(example.body))
    assert trajectory.outcome.status == "failure" and trajectory.reference is not None
    assert {p.type for m in trajectory.messages for p in m.content} >= {"text", "tool_call", "tool_result"}


def _invocations(command: str) -> list[list[str]]:
    """Each `trace2skill ...` call in one command line, as its arguments (inside $(...) and after pipes too)."""
    calls = []
    for m in re.finditer(r"(?:^|[|;&(]\s*)trace2skill\b([^|;&()]*)", command):
        args = shlex.split(m.group(1), comments=True)
        calls.append([a for a in args if not a.startswith("$")])
    return calls


def _check(args: list[str]) -> None:
    """Walk the click command tree: every subcommand and option shown must exist."""
    command: click.Command = cli
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg in ("--help", "--version"):
            continue
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            options = [p for p in command.params if isinstance(p, click.Option)]
            option = next((p for p in options if name in p.opts + p.secondary_opts), None)
            assert option is not None, f"`{command.name}` has no option {name}"
            if not option.is_flag and "=" not in arg and args:
                args.pop(0)
        elif isinstance(command, click.Group):
            sub = command.get_command(click.Context(command), arg)
            assert sub is not None, f"`{command.name}` has no subcommand {arg!r}"
            command = sub


def test_every_trace2skill_command_in_the_readme_exists_with_the_options_shown() -> None:
    checked = 0
    for block in BLOCKS:
        if block.lang not in ("bash", "console"):
            continue
        for command in _commands(block.body):
            for args in _invocations(command.removeprefix("$ ")):
                _check(args)
                checked += 1
    assert checked >= 20


def _script(blocks: list[Block]) -> str:
    lines = ["set -euo pipefail"]
    for i, block in enumerate(blocks):
        if block.file:
            lines.append(f"cat > {shlex.quote(block.file)} <<'README_EOF'\n{block.body}README_EOF")
            continue
        lines.append(f"echo '@@block {i}@@'; echo '@@block {i}@@' >&2")
        body = block.body
        if block.lang == "console":
            body = "\n".join(line[2:] for line in body.splitlines() if line.startswith("$ "))
        lines.append(body)
    lines.append("echo '@@end@@'")
    return "\n".join(lines) + "\n"


def test_the_marked_examples_run_against_a_fresh_home(tmp_path: Path) -> None:
    marked = [b for b in BLOCKS if b.marked]
    runnable = [b for b in marked if not b.file]
    assert len(runnable) >= 6 and all(b.lang in ("bash", "console") for b in runnable)
    user, cwd, tmp = tmp_path / "user", tmp_path / "cwd", tmp_path / "tmp"
    for folder in (user, cwd, tmp):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env.update(
        HOME=str(user),
        TMPDIR=str(tmp),
        TRACE2SKILL_HOME=str(tmp_path / "home"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    done = subprocess.run(
        ["bash", "-c", _script(marked)], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    outputs = re.split(r"^@@block (\d+)@@\n", done.stdout, flags=re.MULTILINE)
    last = outputs[-2] if len(outputs) > 1 else "none"
    assert done.returncode == 0 and done.stdout.endswith("@@end@@\n"), (
        f"README block {last} (line {marked[int(last)].line if last != 'none' else '?'}) failed:\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    by_block = {int(outputs[i]): outputs[i + 1] for i in range(1, len(outputs), 2)}
    for i, block in enumerate(marked):
        for text in block.expect:
            assert text in by_block.get(i, ""), f"README line {block.line}: {text!r} not in the output"
    assert (user / ".claude" / "skills" / "spreadsheet-qa" / "SKILL.md").is_file()
    assert (cwd / ".agents" / "skills" / "spreadsheet-qa" / "SKILL.md").is_file()


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.marked and not b.file], ids=lambda b: f"line{b.line}")
def test_each_marked_block_says_what_it_expects(block: Block) -> None:
    assert block.expect, f"README line {block.line}: a marked block should name output to expect"
