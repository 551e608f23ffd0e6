from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.secrets import SecretScanner, describe_secret_files, find_secret_files, scan_text
from trace2skill.secrets.scanner import _Stage, _Text
from trace2skill.secrets.tomlrules import entropy

K8S_SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  db-url: cG9zdGdyZXM6Ly9hcHA6UzNjcmV0QGRiOjU0MzIvcHJvZA==
"""


def test_gitleaks_rules_run_as_written_for_re2_including_flags_set_mid_pattern() -> None:
    # linear-api-key is `lin_api_(?i)[a-z0-9]{40}`: Python's re refuses that pattern, RE2 reads it as gitleaks does
    assert scan_text("LINEAR=lin_api_" + "A1b2C3d4E5" * 4) == {"linear_api_key": 1}


def test_two_rules_that_overlap_on_one_secret_leave_no_part_of_it() -> None:
    # flutterwave-encryption-key matches the first 12 characters of a flutterwave-secret-key
    counts: Counter[str] = Counter()
    out = SecretScanner().redact("key FLWSECK_TEST-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-X end", counts)
    assert out == "key [REDACTED:flutterwave_secret_key] end"
    assert counts == {"flutterwave_secret_key": 1}


def test_rules_limited_to_some_files_run_only_when_the_path_matches() -> None:
    assert scan_text(K8S_SECRET) == {}
    assert scan_text(K8S_SECRET, path="deploy/db-secret.yaml") == {"kubernetes_secret_yaml": 1}
    assert scan_text(K8S_SECRET, path="deploy/notes.md") == {}


def test_randomness_is_measured_as_gitleaks_measures_it() -> None:
    assert entropy(b"aaaaaaaa") == 0.0
    assert entropy(b"abcdefgh") == pytest.approx(3.0)


def test_disabled_kinds_and_allow_list_entries_apply_to_every_stage() -> None:
    text = "export db_password=Zq8vN2mK4pL7 LINEAR=lin_api_" + "A1b2C3d4E5" * 4
    # a kind turned off lets the next rule name the secret; it does not leak
    assert SecretScanner(disable=["secret_assignment"]).scan(text) == {"generic_api_key": 1, "linear_api_key": 1}
    assert SecretScanner(disable=["secret_assignment", "generic_api_key", "linear_api_key"]).scan(text) == {}
    assert SecretScanner(allow=["Zq8vN2mK4pL7"]).scan(text) == {"linear_api_key": 1}


def test_a_bad_extra_pattern_is_refused_with_one_clear_line() -> None:
    with pytest.raises(InvalidInput, match="'broken' is not a valid regex"):
        SecretScanner(patterns={"broken": "(unclosed"})


def test_secrets_files_are_found_by_name_and_other_text_files_by_what_they_hold() -> None:
    files = [
        ("SKILL.md", b"---\nname: deploy\n---\nAsk ops@acme.io for access; read the key from $DEPLOY_KEY.\n"),
        (".env", b"DEBUG=1\n"),
        (".env.example", b"OPENAI_API_KEY=<your-key>\n"),
        ("config/.env.production", b""),
        ("keys/id_ed25519", b""),
        (
            "keys/id_ed25519.pub",
            b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me\n",
        ),
        ("references/setup.md", b"Run:\n\n    export db_password=Zq8vN2mK4pL7\n"),
        ("assets/logo.png", b"\x89PNG\r\n\x1a\n\xff\xfe password=Zq8vN2mK4pL7"),
        ("certs/client.p12", b"\x30\x82"),
    ]
    found = find_secret_files(files)
    assert [(f.path, f.reason) for f in found] == [
        (".env", "an environment file"),
        ("config/.env.production", "an environment file"),
        ("keys/id_ed25519", "an SSH private key"),
        ("references/setup.md", "holds secret_assignment"),
        ("certs/client.p12", "a key store"),
    ]
    assert describe_secret_files(found, limit=2) == (
        ".env (an environment file), config/.env.production (an environment file) and 3 more"
    )


class _EachRuleOwnTriggers(SecretScanner):
    """The scanner as it was: every rule checks its own triggers, with no search for the stage's at once."""

    def _python(self, stage: _Stage, text: _Text, counts: Counter[str]) -> None:
        for rule in stage.rules:
            if rule.triggers:
                within = text.lowered if rule.lower_triggers else text.value
                if not any(t in within for t in rule.triggers):
                    continue
            text.change(rule.pattern.sub(self._replacer(rule, counts), text.value))


def test_one_search_for_a_stages_triggers_runs_exactly_the_rules_their_own_checks_run() -> None:
    corpus = Path(__file__).parent / "importers" / "corpus"
    secrets = [json.loads(line)["text"] for line in (corpus / "secrets.jsonl").read_text().splitlines()]
    clean = [line for line in (corpus / "clean.txt").read_text().splitlines() if line.strip()]
    fast, reference = SecretScanner(), _EachRuleOwnTriggers()
    stages = (fast.rules, fast.context_rules, fast.pii_rules)
    triggers = sorted({t for stage in stages for rule in stage for t in rule.triggers})
    rng = random.Random(7)
    mixed = [" ".join(rng.choice(secrets + clean + triggers) for _ in range(rng.randint(2, 6))) for _ in range(300)]
    for text in secrets + clean + mixed:
        got, want = Counter[str](), Counter[str]()
        assert fast.redact(text, got) == reference.redact(text, want), text
        assert got == want, text
