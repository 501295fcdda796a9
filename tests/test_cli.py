"""The `civdesk` command in the exact forms the README documents, against a real database file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from civdesk.sandbox.app import create_sandbox_app
from civdesk.sandbox.telegram.emulator import TelegramEmulator
from tests.support.live_server import LiveServer
from tests.support.world import BOT_TOKEN


def civdesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "civdesk.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "CIVDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CIVDESK_SECRET_KEY": "cli-test-secret-key-0123456789abcdefgh",
    }


def test_admin_commands_in_their_documented_forms(env: dict[str, str]) -> None:
    assert civdesk("migrate", env=env).returncode == 0
    created = civdesk("agency", "add", "minsoc", "--name", "Міністерство соціальної політики", env=env)
    assert created.returncode == 0, created.stderr
    agent = civdesk(
        "agent",
        "add",
        "--agency",
        "minsoc",
        "--email",
        "olena@minsoc.test",
        "--password",
        "long-password",
        "--name",
        "Олена",
        "--role",
        "supervisor",
        "--region",
        "Київ",
        env=env,
    )
    assert agent.returncode == 0, agent.stderr
    channel = civdesk(
        "channel",
        "add",
        "telegram",
        "--agency",
        "minsoc",
        "--token",
        "123456:SECRET-TOKEN",
        "--secret",
        "hook-secret",
        "--api-base",
        "http://127.0.0.1:9/",
        "--json",
        env=env,
    )
    assert channel.returncode == 0, channel.stderr
    row = json.loads(channel.stdout)
    assert row["webhook_path"] == f"/webhooks/telegram/{row['id']}"
    assert row["config"]["api_base"] == "http://127.0.0.1:9"
    listed = civdesk("channel", "list", env=env)
    assert listed.returncode == 0 and "telegram" in listed.stdout
    # Secrets are never printed.
    for output in (channel.stdout, listed.stdout, channel.stderr, listed.stderr):
        assert "SECRET-TOKEN" not in output and "hook-secret" not in output


def test_mistakes_get_one_clear_line(env: dict[str, str]) -> None:
    assert civdesk("migrate", env=env).returncode == 0
    missing = civdesk(
        "agent", "add", "--agency", "nope", "--email", "a@b.c", "--password", "long-password", "--name", "A", env=env
    )
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no agency 'nope'"
    civdesk("agency", "add", "minsoc", "--name", "M", env=env)
    again = civdesk("agency", "add", "minsoc", "--name", "M", env=env)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    bad_token = civdesk("channel", "add", "telegram", "--agency", "minsoc", "--token", "nocolon", env=env)
    assert bad_token.returncode == 2 and "Traceback" not in bad_token.stderr
    add = ("agent", "add", "--agency", "minsoc", "--email", "n@b.c", "--password", "long-password", "--name", "N")
    negative = civdesk(*add, "--capacity", "-1", env=env)  # routing ranks by load / capacity
    assert negative.returncode == 2 and negative.stderr.strip() == "error: capacity must be from 0 to 100"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CIVDESK_DATABASE_URL", "mysql://x", "CIVDESK_DATABASE_URL"),
        ("CIVDESK_SECRET_KEY", "short", "CIVDESK_SECRET_KEY"),
        ("CIVDESK_REDIS_URL", "http://localhost", "CIVDESK_REDIS_URL"),
    ],
)
def test_a_wrong_setting_is_one_line_not_a_traceback(
    env: dict[str, str], variable: str, value: str, expected: str
) -> None:
    result = civdesk("migrate", env={**env, variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith("error: invalid configuration")


def test_production_refuses_the_development_secret(env: dict[str, str]) -> None:
    production = {k: v for k, v in env.items() if k != "CIVDESK_SECRET_KEY"} | {"CIVDESK_ENVIRONMENT": "production"}
    result = civdesk("migrate", env=production)
    assert result.returncode == 2 and "CIVDESK_SECRET_KEY" in result.stderr


def test_an_unreachable_database_is_one_line(env: dict[str, str]) -> None:
    result = civdesk(
        "agency", "add", "x", "--name", "X", env={**env, "CIVDESK_DATABASE_URL": "postgresql://u@127.0.0.1:1/db"}
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_register_webhook_tells_telegram_where_to_send(env: dict[str, str], emulator: TelegramEmulator) -> None:
    with LiveServer(create_sandbox_app(emulator=emulator)) as sandbox:
        assert civdesk("migrate", env=env).returncode == 0
        civdesk("agency", "add", "minsoc", "--name", "M", env=env)
        added = civdesk(
            "channel",
            "add",
            "telegram",
            "--agency",
            "minsoc",
            "--token",
            BOT_TOKEN,
            "--secret",
            "hook_secret",
            "--api-base",
            sandbox.url,
            "--json",
            env=env,
        )
        channel = json.loads(added.stdout)
        result = civdesk(
            "channel",
            "register-webhook",
            str(channel["id"]),
            "--public-url",
            "https://civdesk.example.gov.ua/",
            env=env,
        )
        assert result.returncode == 0, result.stderr
        info = emulator.get_webhook_info(BOT_TOKEN)
        assert info["url"] == f"https://civdesk.example.gov.ua/webhooks/telegram/{channel['id']}"
        checked = civdesk("channel", "check", str(channel["id"]), env=env)
        assert checked.returncode == 0 and "is working" in checked.stdout and "minsoc_bot" in checked.stdout
        broken = civdesk(
            "channel",
            "add",
            "telegram",
            "--agency",
            "minsoc",
            "--token",
            "999:unknown",
            "--api-base",
            sandbox.url,
            "--json",
            env=env,
        )
        bad = civdesk("channel", "check", str(json.loads(broken.stdout)["id"]), env=env)
        assert bad.returncode == 2 and "Unauthorized" in bad.stderr and "Traceback" not in bad.stderr
        missing = civdesk("channel", "register-webhook", "999", env=env)
        assert missing.returncode == 2 and "no channel 999" in missing.stderr


def test_every_messenger_can_be_added_and_checked(env: dict[str, str]) -> None:
    from civdesk.sandbox.messenger import MessengerEmulator, PageSpec
    from civdesk.sandbox.viber import DEMO_ACCOUNT
    from civdesk.sandbox.whatsapp import DEMO_NUMBER

    page = PageSpec(page_id="1000000000009", name="Мінсоц", token="page-token-9", app_secret="app-secret-9")
    app = create_sandbox_app(messenger=MessengerEmulator(pages=[page]))
    with LiveServer(app) as sandbox:
        assert civdesk("migrate", env=env).returncode == 0
        civdesk("agency", "add", "minsoc", "--name", "M", env=env)
        commands = {
            "viber": ["viber", "--token", DEMO_ACCOUNT.token, "--name", "Мінсоц"],
            "whatsapp": [
                "whatsapp",
                "--token",
                DEMO_NUMBER.token,
                "--phone-number-id",
                DEMO_NUMBER.phone_number_id,
                "--app-secret",
                DEMO_NUMBER.app_secret,
                "--verify-token",
                "v",
            ],
            "messenger": [
                "messenger",
                "--page-token",
                page.token,
                "--app-secret",
                page.app_secret,
                "--verify-token",
                "v",
            ],
        }
        for kind, args in commands.items():
            added = civdesk("channel", "add", *args, "--agency", "minsoc", "--api-base", sandbox.url, "--json", env=env)
            assert added.returncode == 0, added.stderr
            row = json.loads(added.stdout)
            assert row["type"] == kind and row["webhook_path"] == f"/webhooks/{kind}/{row['id']}"
            checked = civdesk("channel", "check", str(row["id"]), env=env)
            assert checked.returncode == 0 and "is working" in checked.stdout, (kind, checked.stderr)
            for secret in (
                DEMO_ACCOUNT.token,
                DEMO_NUMBER.token,
                DEMO_NUMBER.app_secret,
                page.token,
                "verify-secret-x",
            ):
                assert secret not in added.stdout and secret not in checked.stdout
        wrong = civdesk(
            "channel",
            "add",
            "viber",
            "--agency",
            "minsoc",
            "--token",
            "nope",
            "--api-base",
            sandbox.url,
            "--json",
            env=env,
        )
        bad = civdesk("channel", "check", str(json.loads(wrong.stdout)["id"]), env=env)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_routing_configuration_from_scripts(env: dict[str, str]) -> None:
    assert civdesk("migrate", env=env).returncode == 0
    assert civdesk("agency", "add", "minsoc", "--name", "Мінсоц", env=env).returncode == 0
    assert civdesk("agency", "add", "pfu", "--name", "ПФУ", env=env).returncode == 0
    assert civdesk("agency", "topic", "minsoc", "subsidies", "--name", "Субсидії", env=env).returncode == 0
    added = civdesk("agent", "add", "--agency", "minsoc", "--email", "olena@minsoc.test", "--password",
                    "long-password", "--name", "Олена", env=env)
    assert added.returncode == 0, added.stderr
    configured = civdesk("routing", "set", "minsoc", "--strategy", "balanced", "--triage", "--languages", "uk,en",
                         "--hours", "mon-fri 08:00-17:00; sat 09:00-13:00", "--time-zone", "Europe/Kyiv",
                         "--first-response", "120", "--accept-from", "pfu", env=env)
    assert configured.returncode == 0, configured.stderr
    settings = json.loads(configured.stdout)
    assert settings["default_strategy"] == "balanced" and settings["triage_enabled"] is True
    assert settings["working_hours"]["fri"] == [["08:00", "17:00"]] and "sun" not in settings["working_hours"]
    assert settings["accepts_transfers_from"] == ["pfu"] and settings["first_response_seconds"] == 120
    assert civdesk("routing", "holiday", "minsoc", "2026-12-25", "--name", "Різдво", env=env).returncode == 0
    topic = civdesk("routing", "topic", "minsoc", "subsidies", "--keywords", "субсид,опален", "--name-en",
                    "Housing subsidies", env=env)
    assert topic.returncode == 0, topic.stderr
    assert json.loads(topic.stdout)["keywords"] == ["субсид", "опален"]
    skills = civdesk("routing", "skills", "--email", "olena@minsoc.test", "--topic", "subsidies:4", "--language",
                     "en", "--capacity", "3", env=env)
    assert skills.returncode == 0, skills.stderr
    assert json.loads(skills.stdout) == {"agent_id": 1, "capacity": 3, "topics": [{"topic_id": 1, "level": 4}],
                                         "languages": [{"language": "en", "level": 3}]}
    shown = json.loads(civdesk("routing", "show", "minsoc", env=env).stdout)
    assert shown["holidays"] == [{"day": "2026-12-25", "name": "Різдво"}]
    # Mistakes get one clear line.
    wrong = civdesk("routing", "set", "minsoc", "--hours", "monday 8-17", env=env)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: cannot read")
    zone = civdesk("routing", "set", "minsoc", "--time-zone", "Mars/Olympus", env=env)
    assert zone.returncode == 2 and "unknown time zone" in zone.stderr
