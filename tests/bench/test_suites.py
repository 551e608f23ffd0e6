"""Task suites: a user's JSONL file and the public benchmarks read in place, with fixed splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trace2skill.bench.suites import DATA_ENV, find_data_dir, load_jsonl_suite, load_suite
from trace2skill.errors import InvalidInput, NotFound, UnsafePath


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_a_user_suite_reads_tasks_splits_files_and_its_own_settings(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.csv").write_text("a,b\n1,2\n")
    suite = load_jsonl_suite(
        _write(
            tmp_path / "mine.jsonl",
            [
                {"suite": {"name": "mine", "tools": False, "answer_format": "Say it."}},
                {"id": "a1", "task": "Sum b.", "reference": "2", "split": "evolve", "files": ["data/in.csv"]},
                {"id": "a2", "task": "Sum a.", "reference": "1", "evaluator": "numeric"},
            ],
        )
    )
    assert suite.name == "mine" and suite.tools is False and suite.answer_format == "Say it."
    assert suite.splits == {"evolve": 1, "test": 1}
    first, second = suite.tasks
    assert first.files == {"in.csv": (tmp_path / "data" / "in.csv").resolve()} and first.evaluator == "exact"
    assert second.split == "test" and second.evaluator == "numeric"


def test_a_task_id_in_two_splits_is_refused_with_both_splits_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "dup.jsonl",
        [
            {"id": "x", "task": "t", "reference": "r", "split": "evolve"},
            {"id": "x", "task": "t", "reference": "r", "split": "test"},
        ],
    )
    with pytest.raises(InvalidInput, match=r"task 'x' is in splits 'evolve' and 'test'"):
        load_jsonl_suite(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", r"bad.jsonl:1: not valid JSON"),
        ({"id": "a", "task": "t"}, r"bad.jsonl:1: 'reference' is missing"),
        ({"id": "has space", "task": "t", "reference": 1}, r"'id' must be"),
        ({"id": "a", "task": "", "reference": 1}, r"'task' must be non-empty"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, row: object, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text((row if isinstance(row, str) else json.dumps(row)) + "\n")
    with pytest.raises(InvalidInput, match=message):
        load_jsonl_suite(path)


def test_an_input_file_name_that_leaves_the_work_folder_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.jsonl", [{"id": "a", "task": "t", "reference": 1, "files": {"../x": "x"}}])
    with pytest.raises(UnsafePath):
        load_jsonl_suite(path)


def test_samples_are_fixed_by_seed_and_differ_between_seeds(tmp_path: Path) -> None:
    rows = [{"id": f"t{i}", "task": "t", "reference": i, "split": "evolve"} for i in range(40)]
    suite = load_jsonl_suite(_write(tmp_path / "s.jsonl", rows))
    assert [t.id for t in suite.sample("evolve", 10, seed=1)] == [t.id for t in suite.sample("evolve", 10, seed=1)]
    assert [t.id for t in suite.sample("evolve", 10, seed=1)] != [t.id for t in suite.sample("evolve", 10, seed=2)]
    with pytest.raises(InvalidInput, match="has 40 tasks; 41 were asked for"):
        suite.sample("evolve", 41)
    with pytest.raises(NotFound, match="no split 'test'"):
        suite.split("test")


def test_a_builtin_suite_without_data_says_how_to_point_at_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(NotFound, match="pass --data DIR"):
        load_suite("wikitq")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert find_data_dir() == tmp_path.resolve()


def test_wikitq_small_reads_the_real_data_with_disjoint_splits(shared_data: Path) -> None:
    suite = load_suite("wikitq-small", shared_data)
    assert suite.tools is False and set(suite.splits) == {"evolve", "test"}
    assert suite.splits["evolve"] > 1000 and suite.splits["test"] > 500
    task = suite.split("test")[0]
    assert task.evaluator == "wikitq" and "Question:" in task.prompt and "Table:" in task.prompt
    assert all(len(t.prompt) < 2_000 for t in suite.tasks)


def test_spreadsheetbench_uses_the_papers_split_of_the_verified_tasks(shared_data: Path) -> None:
    suite = load_suite("spreadsheetbench", shared_data)
    assert suite.splits == {"evolve": 200, "test": 198} and suite.tools is True  # 2 tasks marked `exclude`
    task = suite.split("evolve")[0]
    case = task.reference["cases"][0]
    assert task.evaluator == "xlsx-cells" and case["input"] in task.files and Path(case["golden"]).is_file()
    assert case["output"] in task.outputs and f"`{case['output']}`" in task.prompt
