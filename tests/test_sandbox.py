from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from trace2skill import sandbox as sandbox_module
from trace2skill.errors import InvalidInput, NotFound, UnsafePath
from trace2skill.sandbox import Sandbox, SandboxLimits, SandboxResult, available_modes, is_secret_name

MODES = available_modes()
needs_bwrap = pytest.mark.skipif(
    "bwrap" not in MODES, reason=f"bwrap mode is not available here: {sandbox_module._bwrap_problem()}"
)
AS_ROOT = os.geteuid() == 0


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def _running(marker: str) -> bool:
    """True while any process on the host has `marker` in its command line."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def _gone_within(marker: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- files in and out ---------------------------------------------------------------------------------


def test_a_command_sees_its_inputs_and_only_new_or_modified_files_come_back(mode: str, tmp_path: Path) -> None:
    source = tmp_path / "prices.csv"
    source.write_text("a,1\n")
    files = {"notes.txt": "hello", "data/blob.bin": b"\x00\x01\x02", "prices.csv": source, "edit.txt": "old"}
    with Sandbox(files, mode=mode) as box:
        result = box.run_sync("cat notes.txt prices.csv; od -An -tx1 data/blob.bin; mkdir out; echo new > out/r.txt")
        box.run_sync(["sh", "-c", "echo + >> edit.txt"])
        assert result.exit_code == 0, result.render()
        assert result.stdout.split() == ["helloa,1", "00", "01", "02"]
        assert box.changed_files() == {"out/r.txt": b"new\n", "edit.txt": b"old+\n"}
        assert result.mode == box.mode == mode


def test_the_command_runs_in_the_work_folder_with_the_interpreter_running_trace2skill(mode: str) -> None:
    with Sandbox(mode=mode) as box:
        result = box.run_sync('pwd; echo "$HOME"; python -c "import sys, openpyxl; print(sys.executable)"')
    cwd, home, python = result.stdout.splitlines()
    assert cwd == home == str(box.workdir)
    assert Path(python).parent == Path(sys.executable).parent


def test_readonly_folders_cannot_be_written_and_never_count_as_produced(mode: str) -> None:
    with Sandbox({"skills/xlsx/SKILL.md": "# skill\n", "task.txt": "t"}, readonly=["skills"], mode=mode) as box:
        result = box.run_sync("echo hacked >> skills/xlsx/SKILL.md; echo new > skills/extra.md; echo done")
        assert box.changed_files() == {}
        if mode == "bwrap":
            assert result.stderr.count("Read-only file system") == 2
            assert box.read("skills/xlsx/SKILL.md") == b"# skill\n"
        elif not AS_ROOT:  # root ignores file modes, so process mode can only keep them out of the results
            assert result.stderr.count("Permission denied") == 2
            assert box.read("skills/xlsx/SKILL.md") == b"# skill\n"


def test_write_counts_as_an_input_until_a_command_changes_it(mode: str) -> None:
    with Sandbox(mode=mode) as box:
        box.write("solution.py", "print(1)\n")
        assert box.changed_files() == {}
        box.run_sync("echo 'print(2)' > solution.py")
        assert box.changed_files() == {"solution.py": b"print(2)\n"}
        assert box.read("solution.py") == b"print(2)\n"


def test_changed_files_returns_at_most_200_files(mode: str) -> None:
    with Sandbox(mode=mode) as box:
        box.run_sync("for i in $(seq 1 205); do echo $i > f$i.txt; done")
        assert len(box.changed_files()) == sandbox_module.MAX_CHANGED_FILES


@pytest.mark.parametrize("path", ["/etc/passwd", "../escape.txt", "a/../../x", "a\x00b", "", "a\\b", "C:/x"])
def test_unsafe_file_names_are_refused(path: str) -> None:
    with pytest.raises(UnsafePath):
        Sandbox({path: "x"}, mode="process")
    with Sandbox(mode="process") as box, pytest.raises(UnsafePath):
        box.write(path, "x")


def test_a_path_given_twice_or_as_file_and_folder_is_refused() -> None:
    with pytest.raises(InvalidInput, match="twice"):
        Sandbox({"a.txt": "1", "./a.txt": "2"}, mode="process")
    with pytest.raises(InvalidInput, match="both a file and the folder"):
        Sandbox({"a": "1", "a/b": "2"}, mode="process")


def test_read_and_write_refuse_a_symlink_the_command_made_to_leave_the_work_folder(mode: str) -> None:
    with Sandbox(mode=mode) as box:
        box.run_sync("ln -s /etc etc_link; ln -s /etc/hostname host")
        with pytest.raises(UnsafePath):
            box.read("etc_link/hostname")
        with pytest.raises(UnsafePath):
            box.read("host")
        with pytest.raises(UnsafePath):
            box.write("etc_link/t2s-probe", "x")
        with pytest.raises(NotFound):
            box.read("missing.txt")
        assert box.changed_files() == {}
    assert not Path("/etc/t2s-probe").exists()


def test_the_work_folder_is_removed_on_exit_even_when_made_read_only() -> None:
    with Sandbox({"skills/a.md": "x"}, readonly=["skills"], mode="process") as box:
        box.run_sync("mkdir locked && touch locked/f && chmod 000 locked")
        root = box.workdir.parent
    assert not root.exists()
    with pytest.raises(InvalidInput, match="closed"):
        box.run_sync("true")


@pytest.mark.anyio
async def test_async_use_runs_commands_and_cleans_up(mode: str) -> None:
    async with Sandbox(mode=mode) as box:
        result = await box.run(["python", "-c", "import sys; print(sys.stdin.read().upper())"], stdin="quiet")
        assert result.stdout == "QUIET\n"
    assert not box.workdir.exists()


# --- limits -----------------------------------------------------------------------------------------------


def test_a_timeout_stops_the_command_and_the_children_it_spawned(mode: str) -> None:
    marker = f"29.{uuid.uuid4().int % 10**6:06d}"
    with Sandbox(mode=mode) as box:
        started = time.monotonic()
        result = box.run_sync(f"sh -c 'sleep {marker} & sleep 30'", timeout_s=1)
        elapsed = time.monotonic() - started
    assert elapsed < 3
    assert (result.timed_out, result.limit, result.exit_code) == (True, "timeout", None)
    assert result.render().endswith("[stopped: timeout after 1 s]")
    assert _gone_within(marker, 2), "the background child outlived the timeout"


def test_background_processes_are_killed_when_the_command_ends(mode: str) -> None:
    marker = f"28.{uuid.uuid4().int % 10**6:06d}"
    with Sandbox(mode=mode) as box:
        result = box.run_sync(f"sleep {marker} & echo started")
    assert result.stdout == "started\n"
    assert _gone_within(marker, 2)


def test_a_memory_blow_up_is_stopped_by_the_memory_limit(mode: str) -> None:
    with Sandbox(mode=mode, limits=SandboxLimits(memory_mb=256)) as box:
        result = box.run_sync(["python", "-c", "block = bytearray(3 * 1024**3)"])
    assert result.exit_code not in (0, None)
    assert result.limit == "memory"
    assert "MemoryError" in result.stderr


def test_a_file_over_the_file_size_limit_is_stopped(mode: str) -> None:
    with Sandbox(mode=mode, limits=SandboxLimits(file_mb=1)) as box:
        result = box.run_sync("head -c 3000000 /dev/zero > big.bin")
        assert result.limit == "file_size"
        assert result.exit_code == 128 + 25  # SIGXFSZ, as the shell reports it
        assert os.path.getsize(box.workdir / "big.bin") == 1 << 20


def test_five_megabytes_of_output_are_clipped_to_head_and_tail_quickly(mode: str) -> None:
    script = "print('first'); print('x' * 5_000_000); print('last'); import sys; print('oops', file=sys.stderr)"
    with Sandbox(mode=mode, limits=SandboxLimits(output_chars=2_000)) as box:
        started = time.monotonic()
        result = box.run_sync(["python", "-c", script])
        elapsed = time.monotonic() - started
    assert elapsed < 5
    assert result.exit_code == 0
    assert result.stderr == "oops\n"
    assert result.stdout.startswith("first\nxxx")
    assert result.stdout.endswith("xxx\nlast\n")
    assert "[... 4,998,017 characters clipped ...]" in result.stdout
    assert len(result.stdout) + len(result.stderr) < 2_000 + 60


def test_clipping_counts_characters_not_bytes() -> None:
    with Sandbox(mode="process", limits=SandboxLimits(output_chars=10)) as box:
        result = box.run_sync(["python", "-c", "print('é' * 100, end='')"])
    assert result.stdout == "ééééé\n[... 90 characters clipped ...]\nééééé"


# --- environment ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("ANTHROPIC_API_KEY", True),
        ("OPENAI_BASE_URL", True),
        ("TRACE2SKILL_HOME", True),
        ("MY_SECRET_TOKEN", True),
        ("github_token", True),
        ("DB_PASSWORD", True),
        ("AWS_CREDENTIALS_FILE", True),
        ("sshkeyfile", True),
        ("PATH", False),
        ("LANG", False),
        ("DATA_DIR", False),
    ],
)
def test_is_secret_name_names_credentials(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_provider_keys_and_secrets_never_reach_the_command(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRACE2SKILL_HOME", "MY_SECRET_TOKEN", "UNRELATED_HOST_VAR"):
        monkeypatch.setenv(name, "leaked-value")
    passed = {"OPENAI_API_KEY": "leaked-value", "GITHUB_TOKEN": "leaked-value", "TASK_NAME": "sum-column"}
    with Sandbox(mode=mode, env=passed) as box:
        result = box.run_sync("env")
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert "leaked-value" not in result.stdout
    assert not names & {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRACE2SKILL_HOME", "MY_SECRET_TOKEN", "GITHUB_TOKEN"}
    assert "UNRELATED_HOST_VAR" not in names
    assert "TASK_NAME=sum-column" in result.stdout.splitlines()
    assert {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "PYTHONUNBUFFERED", "MPLBACKEND"} <= names


# --- modes -----------------------------------------------------------------------------------------------


def test_mode_bwrap_raises_a_clear_error_when_bwrap_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module, "_bwrap_problem", lambda: "bwrap is not installed (apt-get install bubblewrap)")
    assert available_modes() == ["process"]
    with pytest.raises(InvalidInput, match="'bwrap' is not available: bwrap is not installed") as raised:
        Sandbox(mode="bwrap")
    assert "\n" not in str(raised.value)
    with Sandbox() as box:
        assert box.mode == "process"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown"):
        Sandbox(mode="docker")


@needs_bwrap
def test_bwrap_stops_writes_outside_the_work_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with Sandbox(mode="bwrap") as box:
        into_host_folder = box.run_sync(f"echo x > {outside}/escaped.txt")
        into_etc = box.run_sync("echo x > /etc/t2s-probe")
        into_private_tmp = box.run_sync("echo x > ../escaped.txt && echo x > /tmp/escaped.txt")
        host_parent = box.workdir.parent
        assert into_host_folder.exit_code != 0  # /tmp is a fresh tmpfs: the host folder does not exist inside
        assert into_etc.exit_code != 0
        assert "Read-only file system" in into_etc.stderr
        assert into_private_tmp.exit_code == 0  # allowed, but lands in the sandbox's own /tmp
        assert not (host_parent / "escaped.txt").exists()
    assert not (outside / "escaped.txt").exists()
    assert not Path("/etc/t2s-probe").exists()
    assert not Path("/tmp/escaped.txt").exists()


@needs_bwrap
def test_bwrap_has_no_network_while_process_mode_does() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    connect = ["python", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"]
    try:
        with Sandbox(mode="process") as box:
            assert box.run_sync(connect).exit_code == 0  # the probe itself works
        with Sandbox(mode="bwrap") as box:
            result = box.run_sync(connect)
    finally:
        server.close()
    assert result.exit_code != 0
    assert "ConnectionRefusedError" in result.stderr or "unreachable" in result.stderr


# --- rendering ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (SandboxResult(0, "ok\n", "", False, None, 0.1, "process"), "ok\n[exit 0]"),
        (SandboxResult(1, "out", "boom", False, None, 0.1, "bwrap"), "out\n[stderr]\nboom\n[exit 1]"),
        (SandboxResult(None, "", "", True, "timeout", 60.004, "bwrap"), "[stopped: timeout after 60 s]"),
        (
            SandboxResult(1, "", "MemoryError\n", False, "memory", 1, "bwrap"),
            "[stderr]\nMemoryError\n[stopped: memory limit; exit 1]",
        ),
    ],
)
def test_render_shows_stdout_then_stderr_then_how_it_ended(result: SandboxResult, text: str) -> None:
    assert result.render() == text


def test_limits_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="timeout_s"):
        SandboxLimits(timeout_s=0)
