"""Task suites with fixed splits: a user's JSONL file, or a public benchmark read in place.

A suite is a list of tasks, each with a reference and the name of the scorer that checks it, and
each in exactly one split (`evolve` to learn from, `test` to measure on, or a user's own names).
The same task id in two splits is refused: a skill measured on what it learned from proves nothing.

Built-in suites read their data where it lies (never copied): `wikitq` (WikiTableQuestions:
`training.tsv` to evolve, `pristine-unseen-tables.tsv` to test; the table inline, one answer, no
tools), `wikitq-small` (the same, tables of at most 1,500 characters, which a small local model
reads in seconds) and `spreadsheetbench` (SpreadsheetBench-Verified: tasks 0-199 to evolve, 200-399
to test, as in the paper; workbooks in, a workbook out, tools). Their data folder comes from
`--data`, else `$TRACE2SKILL_DATA`, else `./data` or `../shared/data` below the working folder.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.skills_store.paths import safe_relpath

__all__ = [
    "BUILTIN_SUITES",
    "DATA_ENV",
    "Suite",
    "Task",
    "find_data_dir",
    "load_jsonl_suite",
    "load_suite",
    "suite_names",
]

DATA_ENV = "TRACE2SKILL_DATA"
_TASK_ID_CHARS = 64


@dataclass(frozen=True)
class Task:
    """One task: what the agent is asked, the files it starts with, and how its result is checked."""

    id: str
    prompt: str
    reference: Any
    evaluator: str
    split: str
    files: Mapping[str, Path | bytes] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Suite:
    """Tasks with fixed splits. `tools=False` means one answer from the prompt alone (inputs inline)."""

    name: str
    description: str
    tasks: list[Task]
    tools: bool = True
    source: str = ""
    answer_format: str = "End your reply with one line of the form `ANSWER: <your final answer>`."

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for task in self.tasks:
            other = seen.get(task.id)
            if other is not None:
                where = "twice in split" if other == task.split else f"in splits {other!r} and"
                raise InvalidInput(
                    f"suite {self.name}: task {task.id!r} is {where} {task.split!r}; "
                    "a task may be in one split only (give it another id, or drop one)"
                )
            seen[task.id] = task.split

    @property
    def splits(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for task in self.tasks:
            counts[task.split] = counts.get(task.split, 0) + 1
        return counts

    def split(self, name: str) -> list[Task]:
        tasks = [t for t in self.tasks if t.split == name]
        if not tasks:
            raise NotFound(f"suite {self.name} has no split {name!r} (it has: {', '.join(self.splits) or 'none'})")
        return tasks

    def sample(self, split: str, n: int | None, seed: int = 0) -> list[Task]:
        """`n` tasks of a split in a fixed order shuffled by `seed` (all of them when `n` is None)."""
        tasks = self.split(split)
        if n is not None and n > len(tasks):
            raise InvalidInput(f"suite {self.name} split {split!r} has {len(tasks)} tasks; {n} were asked for")
        order = list(tasks)
        random.Random(f"{self.name}/{split}/{seed}").shuffle(order)
        return order if n is None else order[:n]


# --- data folders -----------------------------------------------------------------------------------


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Where the public benchmark folders live: `explicit`, `$TRACE2SKILL_DATA`, `./data`, `../shared/data`."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    for candidate in (Path.cwd() / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _need(data_dir: Path | None, folder: str, suite: str) -> Path:
    if data_dir is None:
        raise NotFound(
            f"suite {suite}: no data folder found; pass --data DIR or set ${DATA_ENV} (the folder holding {folder}/)"
        )
    path = data_dir / folder
    if not path.is_dir():
        raise NotFound(f"suite {suite}: {path} does not exist; pass --data DIR (the folder holding {folder}/)")
    return path


# --- user suites ------------------------------------------------------------------------------------


def _check_id(value: Any, where: str) -> str:
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > _TASK_ID_CHARS or any(c.isspace() for c in text):
        raise InvalidInput(f"{where}: 'id' must be 1-{_TASK_ID_CHARS} characters without spaces, got {value!r}")
    return text


def load_jsonl_suite(path: str | os.PathLike[str]) -> Suite:
    """A user's suite: one JSON object per line, `{"id", "task", "reference", "evaluator", "split", "files",
    "outputs"}`; `files` lists input files relative to the JSONL file (or maps work-folder names to them).
    An optional first line `{"suite": {"name", "description", "tools", "answer_format"}}` sets the suite's own
    settings. `evaluator` defaults to `exact`, `split` to `test`."""
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise NotFound(f"cannot read suite file {file}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file} is not UTF-8 text") from None
    header: dict[str, Any] = {}
    tasks: list[Task] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{file.name}:{number}"
        try:
            row = json.loads(line)
        except ValueError as e:
            raise InvalidInput(f"{where}: not valid JSON ({e})") from None
        if not isinstance(row, dict):
            raise InvalidInput(f"{where}: each line is a JSON object")
        if "suite" in row and not tasks and not header:
            if not isinstance(row["suite"], dict):
                raise InvalidInput(f"{where}: 'suite' is an object of settings")
            header = row["suite"]
            continue
        tasks.append(_user_task(row, where, file.parent))
    if not tasks:
        raise InvalidInput(f"{file}: no tasks (one JSON object per line with 'id', 'task' and 'reference')")
    kwargs: dict[str, Any] = {}
    if "answer_format" in header:
        kwargs["answer_format"] = str(header["answer_format"])
    return Suite(
        name=str(header.get("name") or file.stem),
        description=str(header.get("description") or f"user suite from {file.name}"),
        tasks=tasks,
        tools=bool(header.get("tools", True)),
        source=str(file.resolve()),
        **kwargs,
    )


def _user_task(row: dict[str, Any], where: str, base: Path) -> Task:
    task_id = _check_id(row.get("id"), where)
    text = row.get("task")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{where}: 'task' must be non-empty text")
    if "reference" not in row:
        raise InvalidInput(f"{where}: 'reference' is missing (the answer or files the scorer checks against)")
    raw_files = row.get("files") or {}
    if isinstance(raw_files, list):
        raw_files = {Path(str(p)).name: p for p in raw_files}
    if not isinstance(raw_files, dict):
        raise InvalidInput(f"{where}: 'files' is a list of paths or an object of name: path")
    files: dict[str, Path] = {}
    for name, source in raw_files.items():
        safe_relpath(str(name))
        files[str(name)] = (base / str(source)).resolve()
    outputs = row.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise InvalidInput(f"{where}: 'outputs' is a list of file names the agent must write")
    for name in outputs:
        safe_relpath(name)
    return Task(
        id=task_id,
        prompt=text,
        reference=row["reference"],
        evaluator=str(row.get("evaluator") or "exact"),
        split=str(row.get("split") or "test"),
        files=files,
        outputs=tuple(outputs),
        metadata={
            k: v
            for k, v in row.items()
            if k not in {"id", "task", "reference", "evaluator", "split", "files", "outputs"}
        },
    )


# --- WikiTableQuestions -----------------------------------------------------------------------------

_WIKITQ_FILES = {"evolve": "training.tsv", "test": "pristine-unseen-tables.tsv"}
_SMALL_TABLE_CHARS = 1_500


def _read_tsv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)


def _table_text(path: Path) -> str:
    """The table as CSV text, as the dataset ships it (a missing file is one clear line)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise NotFound(f"table {path} cannot be read: {e.strerror or e}") from None


def _wikitq(data_dir: Path | None, *, name: str, max_table_chars: int | None) -> Suite:
    from trace2skill.evaluators.wikitq import unescape_tsv

    root = _need(data_dir, "wikitablequestions", name)
    tasks: list[Task] = []
    tables: dict[str, str] = {}
    for split, file in _WIKITQ_FILES.items():
        for row in _read_tsv(root / file):
            context = row["context"]
            if context not in tables:
                table_path = root / context
                tables[context] = _table_text(table_path) if table_path.is_file() else ""
            table = tables[context]
            if not table or (max_table_chars is not None and len(table) > max_table_chars):
                continue
            question = unescape_tsv(row["utterance"])
            tasks.append(
                Task(
                    id=row["id"],
                    prompt=f"Answer the question about this table.\n\nQuestion: {question}\n\nTable:\n{table}",
                    reference=row["targetValue"],
                    evaluator="wikitq",
                    split=split,
                    metadata={"table": context, "question": question},
                )
            )
    what = f"tables of at most {max_table_chars:,} characters" if max_table_chars else "every table"
    return Suite(
        name=name,
        description=(
            f"WikiTableQuestions: one question about one table, the table inline, one answer ({what}); "
            "evolve on training.tsv, test on pristine-unseen-tables.tsv (unseen tables)"
        ),
        tasks=tasks,
        tools=False,
        source=str(root),
    )


# --- SpreadsheetBench-Verified ----------------------------------------------------------------------

_SPREADSHEET_PROMPT = """{instruction}

The workbook is in your working folder: {inputs}.
Solve the task by changing a copy of the workbook with code (Python with openpyxl is available), and
save the result as {outputs}. Write the values the cells should hold; formulas that have not been
calculated count as empty. Keep the other cells as they are."""


def _spreadsheetbench(data_dir: Path | None) -> Suite:
    root = _need(data_dir, "spreadsheetbench-verified", "spreadsheetbench")
    try:
        rows = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise NotFound(f"suite spreadsheetbench: cannot read {root / 'dataset.json'}: {e}") from None
    tasks: list[Task] = []
    for index, row in enumerate(rows):
        if row.get("exclude"):
            continue  # the dataset marks these unscorable (a golden made from other inputs); xlsx-cells refuses them
        folder = root / row["spreadsheet_path"]
        cases = []
        files: dict[str, Path] = {}
        for init in sorted(folder.glob("*_init.xlsx")) or sorted(folder.glob("initial.xlsx")):
            stem = init.name[: -len("_init.xlsx")] if init.name.endswith("_init.xlsx") else "1"
            golden = folder / (f"{stem}_golden.xlsx" if init.name.endswith("_init.xlsx") else "golden.xlsx")
            output = f"{stem}_output.xlsx"
            files[init.name] = init
            cases.append({"input": init.name, "output": output, "golden": str(golden)})
        reference = {
            "answer_position": row["answer_position"],
            "answer_sheet": row.get("answer_sheet"),
            "cases": cases,
        }
        if "exclude" in row:
            reference["exclude"] = row["exclude"]
        inputs = ", ".join(f"`{c['input']}`" for c in cases) or "(missing)"
        outputs = ", ".join(f"`{c['output']}`" for c in cases) or "(none)"
        tasks.append(
            Task(
                id=str(row["id"]),
                prompt=_SPREADSHEET_PROMPT.format(
                    instruction=row["instruction"].strip(), inputs=inputs, outputs=outputs
                ),
                reference=reference,
                evaluator="xlsx-cells",
                split="evolve" if index < 200 else "test",
                files=files,
                outputs=tuple(c["output"] for c in cases),
                metadata={"instruction_type": row.get("instruction_type"), "answer_position": row["answer_position"]},
            )
        )
    return Suite(
        name="spreadsheetbench",
        description=(
            "SpreadsheetBench-Verified: real spreadsheet tasks from Excel forums; a workbook in, a workbook out, "
            "checked cell by cell; tasks 0-199 to evolve, 200-399 to test (the paper's split; the 2 tasks the "
            "dataset marks `exclude` are left out)"
        ),
        tasks=tasks,
        tools=True,
        source=str(root),
        answer_format="When the output workbook is saved, reply with one line `ANSWER: done`.",
    )


BUILTIN_SUITES: dict[str, tuple[str, Callable[[Path | None], Suite]]] = {
    "wikitq": (
        "WikiTableQuestions, every table (table inline, no tools)",
        lambda d: _wikitq(d, name="wikitq", max_table_chars=None),
    ),
    "wikitq-small": (
        f"WikiTableQuestions, tables of at most {_SMALL_TABLE_CHARS:,} characters (for small local models)",
        lambda d: _wikitq(d, name="wikitq-small", max_table_chars=_SMALL_TABLE_CHARS),
    ),
    "spreadsheetbench": ("SpreadsheetBench-Verified, 400 workbook tasks (tools)", _spreadsheetbench),
}


def suite_names() -> list[str]:
    return list(BUILTIN_SUITES)


def load_suite(spec: str, data_dir: str | os.PathLike[str] | None = None) -> Suite:
    """A built-in suite by name, or a user suite from a `.jsonl` path."""
    if spec in BUILTIN_SUITES:
        return BUILTIN_SUITES[spec][1](find_data_dir(data_dir))
    path = Path(spec).expanduser()
    if path.suffix == ".jsonl" or path.is_file():
        return load_jsonl_suite(path)
    raise NotFound(f"no suite {spec!r}: use one of {', '.join(BUILTIN_SUITES)} or a path to a .jsonl file")


def describe_splits(suite: Suite) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in suite.splits.items())


def tasks_by_id(tasks: Sequence[Task]) -> dict[str, Task]:
    return {t.id: t for t in tasks}
