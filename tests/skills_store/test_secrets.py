from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trace2skill.errors import Conflict, InvalidInput, NotFound
from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store import SkillStore

from .conftest import skill_md

PRIVATE_KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ
-----END OPENSSH PRIVATE KEY-----
"""


def test_a_folder_with_a_dotenv_is_refused_with_the_file_named_and_nothing_recorded(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    folder = make_skill("deploy", {".env": "OPENAI_API_KEY=sk-proj-" + "a1B2c3D4" * 5 + "\n"})
    with pytest.raises(InvalidInput) as refused:
        store.import_dir(folder)
    message = str(refused.value)
    assert f"{folder}: .env (an environment file)" in message
    assert "--allow-secrets" in message and "\n" not in message
    with pytest.raises(NotFound):
        store.head("deploy")
    assert not store.published_path("deploy").exists()


def test_a_private_key_pasted_into_a_reference_is_refused_with_the_file_and_kind_named(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    folder = make_skill("deploy", {"references/ssh.md": f"Use this key:\n\n{PRIVATE_KEY}"})
    with pytest.raises(InvalidInput, match=r"references/ssh\.md \(holds private_key\)"):
        store.import_dir(folder)


def test_the_allow_option_imports_and_publishes_the_folder_as_it_is(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    folder = make_skill("deploy", {".env": "DEBUG=1\n", "keys/id_rsa": PRIVATE_KEY})
    _, created = store.import_dir(folder, allow_secrets=True)
    assert created and {f.path for f in store.list_files("deploy")} == {".env", "SKILL.md", "keys/id_rsa"}
    assert (store.published_path("deploy") / ".env").read_text() == "DEBUG=1\n"


def test_a_template_with_placeholders_and_a_contact_address_is_not_a_secret(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    folder = make_skill(
        "deploy",
        {
            ".env.example": "OPENAI_API_KEY=<your-key>\nDB_PASSWORD=\n",
            "references/setup.md": "Ask ops@acme.io for a key, then `export API_KEY=$(pass show acme)`.\n",
        },
    )
    version, created = store.import_dir(folder)
    assert created and version.version == 1


def test_publishing_a_version_that_holds_a_secrets_file_is_refused_unless_allowed(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("deploy", {".env": "DEBUG=1\n"}), publish=False, allow_secrets=True)
    with pytest.raises(InvalidInput, match=r"version 1 of 'deploy': \.env \(an environment file\)"):
        store.publish("deploy")
    assert not store.published_path("deploy").exists()
    store.publish("deploy", allow_secrets=True)
    assert (store.published_path("deploy") / ".env").exists()


def test_rollback_and_export_of_a_version_with_secrets_are_refused_too(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    store.import_dir(make_skill("deploy", {".env": "DEBUG=1\n"}), allow_secrets=True)
    store.import_dir(make_skill("deploy", folder="clean"))
    with pytest.raises(InvalidInput, match=r"\.env \(an environment file\)"):
        store.rollback("deploy", 1)
    assert store.head("deploy").version == 2
    with pytest.raises(InvalidInput, match=r"\.env \(an environment file\)"):
        store.export("deploy", tmp_path / "client", version=1)
    assert not (tmp_path / "client" / "deploy").exists()


def test_a_commit_holding_a_secret_is_refused_before_it_is_recorded(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("deploy"))
    leaked = Skill(
        name="deploy",
        files=(
            SkillFile(
                path="SKILL.md", data=skill_md("deploy", body="Log in with `mysql -u root -pS3cret shop`.").encode()
            ),
        ),
    )
    with pytest.raises(InvalidInput, match=r"SKILL\.md \(holds cli_password\)"):
        store.commit(leaked, parent=1, author="evolve:run-1", changelog=["add login step"])
    assert store.head("deploy").version == 1


def test_a_hand_edit_that_adds_a_secrets_file_is_not_recorded(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("deploy"))
    (store.published_path("deploy") / ".env").write_text("DEBUG=1\n")
    with pytest.raises(InvalidInput, match=r"edited by hand: \.env \(an environment file\)"):
        store.sync_published("deploy")
    assert store.head("deploy").version == 1
    with pytest.raises(Conflict, match="cannot be recorded"):
        store.publish("deploy")
