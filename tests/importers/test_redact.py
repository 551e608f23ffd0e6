from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.importers.redact import RedactionConfig, Redactor, redact_text, redact_trajectory
from trace2skill.models import Trajectory

CORPUS = Path(__file__).parent / "corpus"

# Fake credentials in the shapes providers issue (built here so no file holds a key-like literal).
SECRETS: list[tuple[str, str, str]] = [
    ("openai_key", "sk-proj-" + "a1B2c3D4" * 5, "sk-proj-a1B2"),
    ("openai_key", "sk-" + "Ab3" * 16, "sk-Ab3Ab3"),
    ("anthropic_key", "sk-ant-api03-" + "x9Y8" * 20 + "-AA", "x9Y8x9Y8"),
    ("openrouter_key", "sk-or-v1-" + "0123456789abcdef" * 4, "0123456789abcdef"),
    ("aws_access_key", "AKIA" + "Q2W3E4R5T6Y7U8I9", "Q2W3E4R5"),
    ("aws_access_key", "ASIA" + "Z1X2C3V4B5N6M7L8", "Z1X2C3V4"),
    ("aws_secret_key", "aws_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("github_token", "ghp_" + "a1" * 18, "ghp_a1a1"),
    ("github_token", "gho_" + "Z9" * 18, "gho_Z9Z9"),
    ("github_token", "ghs_" + "q7" * 18, "ghs_q7q7"),
    ("github_token", "github_pat_11ABCDEFG0_" + "x7" * 30, "github_pat_11ABCDEFG0"),
    ("gitlab_token", "glpat-" + "a1b2c3d4e5f6g7h8i9j0", "glpat-a1b2"),
    ("slack_token", "xoxb-123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-1234"),
    ("slack_webhook", "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/" + "q" * 24, "T0A1B2C3D"),
    ("google_api_key", "AIza" + "SyA1" * 8 + "abc", "AIzaSyA1"),
    ("stripe_key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyj"),
    ("stripe_key", "rk_live_" + "9xY8wV7uT6sR5qP4oN3m", "9xY8wV7u"),
    ("huggingface_token", "hf_" + "aBcDeFgHiJ" * 3 + "kL", "hf_aBcDe"),
    ("npm_token", "npm_" + "a1B2c3" * 6, "npm_a1B2"),
    ("twilio_key", "AC" + "0123456789abcdef" * 2, "AC0123456789abcdef"),
    ("twilio_key", "SK" + "fedcba9876543210" * 2, "SKfedcba"),
    ("sendgrid_key", "SG." + "a1" * 11 + "." + "b2" * 21 + "c", "SG.a1a1"),
    ("langfuse_key", "sk-lf-1234abcd-12ab-34cd-56ef-1234567890ab", "1234abcd-12ab"),
    ("langsmith_key", "lsv2_pt_" + "0123456789abcdef" * 2 + "_0123456789", "lsv2_pt_0123"),
    ("pypi_token", "pypi-AgEIcHlwaS5vcmc" + "x1" * 30, "pypi-AgEI"),
    ("groq_key", "gsk_" + "a1" * 26, "gsk_a1a1"),
    ("bearer_token", "Authorization: Bearer " + "abcDEF123456ghiJKL789", "abcDEF123456"),
    ("basic_auth", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
    (
        "private_key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAA",
    ),
    (
        "private_key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA7",
    ),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3",
    ),
    ("url_password", "postgresql://app:Sup3rS3cret@db.internal:5432/prod", "Sup3rS3cret"),
    ("url_password", "redis://:hunter2pass@cache:6379/0", "hunter2pass"),
    ("secret_assignment", 'password = "hunter22"', "hunter22"),
    ("secret_assignment", '"client_secret": "9f8e7d6c5b4a"', "9f8e7d6c5b4a"),
    ("secret_assignment", "DATABASE_PASSWORD=s3cr3tValue", "s3cr3tValue"),
    ("secret_assignment", "https://api.acme.dev/v1/items?api_key=abcd1234efgh", "abcd1234efgh"),
    ("email", "jane.doe@acme-corp.io", "jane.doe"),
]


def test_at_least_twenty_kinds_of_secret_are_removed_and_the_text_around_them_kept() -> None:
    kinds = {kind for kind, _, _ in SECRETS}
    assert len(kinds) >= 20
    for kind, secret, core in SECRETS:
        text = f"before {secret} after"
        out, counts = redact_text(text)
        assert core not in out, (kind, out)
        assert f"[REDACTED:{kind}]" in out, (kind, out)
        assert out.startswith("before ") and out.endswith(" after"), out
        assert counts[kind] >= 1


def test_redaction_keeps_the_readable_part_around_a_secret() -> None:
    out, _ = redact_text("curl -H 'Authorization: Bearer abcDEF123456ghiJKL789' https://x")
    assert "Authorization: Bearer [REDACTED:bearer_token]'" in out
    out, _ = redact_text("postgresql://app:Sup3rS3cret@db.internal:5432/prod")
    assert out == "postgresql://app:[REDACTED:url_password]@db.internal:5432/prod"
    out, _ = redact_text('password = "hunter22"')
    assert out == 'password = "[REDACTED:secret_assignment]"'


ORDINARY = [
    'def login(password: str) -> bool:\n    return check(password, os.environ["DB_PASSWORD"])',
    "api_key = get_api_key()\ntoken_count = len(tokens)\nif password == confirm: pass",
    "MAX_TOKENS=4096\nUSE_TOKEN=true\nSECRET_PATH=$HOME/secret",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (short 9fceb02)",
    f"sha256 {hashlib.sha256(b'trace2skill').hexdigest()}",
    f"run {uuid.UUID('123e4567-e89b-12d3-a456-426614174000')} and {uuid.uuid5(uuid.NAMESPACE_DNS, 'x')}",
    "/home/user/project/src/app.py C:\\Users\\me\\AppData\\file.txt ~/.ssh/id_rsa.pub ./skills/xlsx/SKILL.md",
    "numpy==1.26.4 lodash@4.17.21 @types/node@20.11.5 requests>=2.31.0 python@3.11",
    "https://github.com/org/repo.git git@github.com:org/repo.git http://localhost:8080/path?page=2",
    "placeholders: sk-secret REDACTED_API_KEY <your-api-key> ${OPENAI_API_KEY} apiKey: '${KEY}'",
    "user@example.com noreply@anthropic.com 12345+bot@users.noreply.github.com",
    "The bearer of this letter; Authorization: Bearer ${TOKEN}",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@laptop",
    "x = a@b.T  # matrix product; @property; @app.route('/login')",
]


def test_ordinary_code_hashes_uuids_paths_versions_and_placeholders_are_left_alone() -> None:
    for text in ORDINARY:
        out, counts = redact_text(text)
        assert out == text, (dict(counts), out)


def test_base64_image_data_is_left_alone() -> None:
    image = base64.b64encode(bytes(range(256)) * 64 + hashlib.sha512(b"png").digest() * 50).decode()
    text = f"data:image/png;base64,{image}"
    out, counts = redact_text(text)
    assert out == text and not counts


def test_redacting_twice_finds_nothing_new() -> None:
    text = "\n".join(secret for _, secret, _ in SECRETS)
    once, first = redact_text(text)
    twice, second = redact_text(once)
    assert twice == once and sum(second.values()) == 0
    assert sum(first.values()) >= len(SECRETS)


def test_extra_patterns_allow_list_and_disabled_kinds_come_from_config(tmp_path: Path) -> None:
    config_file = tmp_path / "redaction.yaml"
    config_file.write_text(
        "patterns:\n  employee_id: 'EMP-\\d{6}'\nallow:\n  - 'sk-proj-keepme[0-9]+'\ndisable: [email]\n"
    )
    redactor = Redactor(RedactionConfig.load(config_file))
    out, counts = redact_text(
        "EMP-123456 sk-proj-keepme1234567890123456 jane.doe@acme-corp.io sk-proj-" + "a1B2c3D4" * 5, redactor
    )
    assert "[REDACTED:employee_id]" in out
    assert "sk-proj-keepme1234567890123456" in out
    assert "jane.doe@acme-corp.io" in out
    assert counts == {"employee_id": 1, "openai_key": 1}


def test_a_bad_config_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    assert RedactionConfig.load(tmp_path / "absent.yaml") == RedactionConfig()
    bad = tmp_path / "bad.yaml"
    bad.write_text("patterns:\n  broken: '(unclosed'\n")
    with pytest.raises(InvalidInput, match=r"bad\.yaml: patterns\.broken is not a valid regex"):  # named on loading
        RedactionConfig.load(bad)
    bad.write_text("colours: [red]\n")
    with pytest.raises(InvalidInput, match="unknown keys"):
        RedactionConfig.load(bad)


def test_redact_trajectory_walks_every_text_field_and_counts_by_kind() -> None:
    key = "sk-proj-" + "a1B2c3D4" * 5
    ghp = "ghp_" + "a1" * 18
    t = Trajectory.model_validate(
        {
            "task": f"Deploy with {key}",
            "messages": [
                {"role": "user", "content": "mail jane.doe@acme-corp.io when done"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "reasoning", "text": f"the token {ghp} is in .env"},
                        {
                            "type": "tool_call",
                            "id": "call_1",
                            "name": "bash",
                            "arguments": {
                                "command": f"export GH={ghp}",
                                "env": {"nested": [f"AKIA{'Q2W3E4R5T6Y7U8I9'}"]},
                            },
                        },
                    ],
                },
                {
                    "role": "tool",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_call_id": "call_1",
                            "output": {"stdout": f"using {key}"},
                            "is_error": False,
                        }
                    ],
                },
            ],
            "outcome": {"status": "failure", "feedback": f"leaked {ghp}", "judged_by": "human"},
            "final_answer": "done, ping jane.doe@acme-corp.io",
            "artifacts": [{"name": ".env", "content": f"OPENAI_API_KEY={key}"}],
            "metadata": {"cwd": "/home/user/app", "note": f"key {key}", "redactions": {"email": 1}},
        }
    )
    redacted, total = redact_trajectory(t)
    dumped = redacted.model_dump_json()
    for secret in (key, ghp, "jane.doe@acme-corp.io", "AKIAQ2W3"):
        assert secret not in dumped
    assert total == 10
    assert redacted.metadata["redactions"] == {"aws_access_key": 1, "email": 3, "github_token": 3, "openai_key": 4}
    assert redacted.tool_calls[0].id == "call_1" and redacted.tool_calls[0].name == "bash"
    assert redacted.metadata["cwd"] == "/home/user/app"
    assert key in t.model_dump_json()  # the original object is untouched: a pure function
    again, more = redact_trajectory(redacted)
    assert more == 0 and again is redacted


def test_a_hundred_fake_secrets_of_forty_kinds_are_each_removed_and_named_by_their_kind() -> None:
    samples = [json.loads(line) for line in (CORPUS / "secrets.jsonl").read_text().splitlines()]
    assert len(samples) >= 100 and len({s["kind"] for s in samples}) >= 40
    for sample in samples:
        out, counts = redact_text(sample["text"])
        assert sample["secret"] not in out, (sample["kind"], out)
        assert counts[sample["kind"]] >= 1, (sample["kind"], dict(counts), out)


def test_under_one_percent_of_clean_lines_change() -> None:
    lines = (CORPUS / "clean.txt").read_text().splitlines()
    assert len(lines) >= 300
    changed = [line for line in lines if redact_text(line)[0] != line]
    assert len(changed) < len(lines) / 100, changed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("llm:\n  api_key: 8f3a9c2e71b64d5fQ2w9\n", "llm:\n  api_key: [REDACTED:secret_assignment]\n"),
        ("password=hunter2Xy9 ./run.sh", "password=[REDACTED:secret_assignment] ./run.sh"),
        ("psql --password=S3cretPassw0rd -h db", "psql --password=[REDACTED:secret_assignment] -h db"),
        ("export db_password=Zq8vN2mK4pL7", "export db_password=[REDACTED:secret_assignment]"),
        ("X-Api-Key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "X-Api-Key: [REDACTED:api_key_header]"),
        (
            "curl -H 'Authorization: token 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567' x",
            "curl -H 'Authorization: token [REDACTED:auth_header]' x",
        ),
        ("mysql -u root -pS3cret shop", "mysql -u root -p[REDACTED:cli_password] shop"),
        ("vault login --token s9Kx2LmQ7pWv4RtY8nZb3JcH", "vault login --token [REDACTED:secret_flag]"),
    ],
)
def test_the_shapes_issue_10_names_are_redacted_keeping_the_name_header_or_flag(
    text: str, expected: str | None
) -> None:
    out, _ = redact_text(text)
    assert out == (expected or "curl -H 'Authorization: token [REDACTED:auth_header]' x")


@pytest.mark.parametrize(
    "text",
    [
        "login(user, password=password)",
        "api_key: str = Field(default=None)",
        "export OPENAI_API_KEY=$(cat ~/.config/openai/key)",
        "mysql -u root -p -e 'SHOW DATABASES;'",
        "X-Api-Key: ${API_KEY}",
        "password: <your-password>",
        "secret_key = settings.SECRET_KEY",
        "token_count: 4096",
        "password=aaaaaa11",
    ],
)
def test_the_same_places_holding_code_variables_placeholders_or_no_randomness_are_left_alone(text: str) -> None:
    assert redact_text(text) == (text, {})


def test_a_base64_text_artifact_is_decoded_redacted_and_encoded_again_and_binary_ones_kept() -> None:
    key = "sk-proj-" + "a1B2c3D4" * 5
    env = f"OPENAI_API_KEY={key}\ndb_password=Zq8vN2mK4pL7\nDEBUG=1\n"
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4).decode()
    t = Trajectory.model_validate(
        {
            "task": "deploy",
            "messages": [{"role": "user", "content": "deploy"}],
            "artifacts": [
                {"name": ".env", "content": base64.b64encode(env.encode()).decode(), "encoding": "base64"},
                {"name": "chart.png", "content": png, "encoding": "base64", "media_type": "image/png"},
            ],
        }
    )
    redacted, total = redact_trajectory(t)
    env_out = base64.b64decode(redacted.artifacts[0].content).decode()
    assert env_out == "OPENAI_API_KEY=[REDACTED:openai_key]\ndb_password=[REDACTED:secret_assignment]\nDEBUG=1\n"
    assert redacted.artifacts[0].encoding == "base64"
    assert redacted.artifacts[1].content == png
    assert total == 2 and redacted.metadata["redactions"] == {"openai_key": 1, "secret_assignment": 1}
