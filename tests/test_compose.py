"""compose.yaml against the Compose Specification's own JSON schema, and against the lab.

Compose validates a file after interpolating `${VARIABLES}`; so does this test, with the
rules of the specification (`${A}`, `${A:-default}`, `${A-default}`, `${A:?error}`,
`${A?error}`, `$$`). The schema is the one Docker Compose v5 enforces (tests/vendor/).
"""

from __future__ import annotations

import configparser
import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "vendor" / "compose-spec.json").read_text())
# What an instructor's .env holds (the README's "Workshops"); the values do not matter here.
ENV = {
    "SECRET_KEY": "a-long-random-key",
    "POSTGRES_PASSWORD": "pg-secret",
    "POOLING_LAB_DEMO_PASSWORD": "demo-secret",
    "POOLING_LAB_ASGI_PASSWORD": "asgi-secret",
    "POOLING_LAB_BOUNCER_PASSWORD": "bouncer-secret",
    "POOLING_LAB_ADMIN_PASSWORD": "admin-secret",
    "POOLING_LAB_INSTRUCTOR_TOKEN": "instructor-secret",
}
VARIABLE = re.compile(
    r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\})"
)


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Substitute variables as Compose does, in every string of a parsed file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        escaped, name, op, arg = match.groups()
        if escaped:
            return "$"
        current = env.get(name)
        unset_or_empty = not current if op and op.startswith(":") else current is None
        if op and op.endswith("-"):
            return interpolate(arg, env) if unset_or_empty else current
        if op and op.endswith("?") and unset_or_empty:
            raise MissingVariable(f"{name}: {arg}")
        return current or ""

    return VARIABLE.sub(one, value)


def load(env: dict[str, str] = ENV) -> dict:
    return interpolate(yaml.safe_load((ROOT / "compose.yaml").read_text()), env)


def schema_errors(document: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_yaml_is_valid_against_the_compose_specification():
    assert schema_errors(load()) == []


@pytest.mark.parametrize(
    ("where", "change"),
    [
        (
            "a replica count that is a list",
            lambda d: d["services"]["app"]["deploy"].update(replicas=[2]),
        ),
        ("a key the specification does not know", lambda d: d["services"]["app"].update(replica=2)),
        (
            "a dependency condition it does not know",
            lambda d: d["services"]["app"]["depends_on"]["init"].update(condition="done"),
        ),
    ],
)
def test_the_schema_check_catches_a_broken_file(where, change):
    """The validation above would fail if compose.yaml broke the specification."""
    document = copy.deepcopy(load())
    change(document)
    assert schema_errors(document), where


def test_compose_refuses_to_start_without_the_shared_secrets():
    """No secret has a default: replicas must share SECRET_KEY (sessions) and the roles'
    passwords (PgBouncer's files), so a missing one stops Compose before anything runs."""
    for name in ENV:
        with pytest.raises(MissingVariable, match=name):
            load({key: value for key, value in ENV.items() if key != name})


def test_images_are_built_locally_from_the_debian_base_and_never_pulled():
    services = load()["services"]
    for name, service in services.items():
        assert service.get("pull_policy") == "never", name
        build = service["build"]
        inline = build.get("dockerfile_inline")
        dockerfile = inline if inline else (ROOT / build["context"] / "Dockerfile").read_text()
        bases = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
        assert set(bases) == {"debian:trixie-slim"}, (name, bases)
        assert build["network"] == "host", name  # apt and uv reach the registries from the host


def test_pgbouncer_is_laid_out_as_the_lab_expects():
    config = load()["configs"]
    ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    ini.read_string(config["pgbouncer-ini"]["content"])
    databases = dict(ini["databases"])
    # One database per pool mode and pool size 1-8: a learner's pool size picks one.
    expected = {
        f"pooling_lab_{mode}_p{n}" for mode in ("session", "transaction") for n in range(1, 9)
    }
    assert set(databases) == expected
    for name, entry in databases.items():
        fields = dict(part.split("=", 1) for part in entry.split())
        # Clients log in as the bouncer role and PgBouncer passes it on: one user object,
        # so max_user_connections caps every database together (as the lab's own does).
        assert "user" not in fields
        assert fields["pool_mode"] == name.split("_")[2]
        assert fields["pool_size"] == name.rsplit("_p", 1)[1]
    settings = ini["pgbouncer"]
    assert settings["auth_type"] == "scram-sha-256"
    # Lesson 7 needs the `options` startup parameter refused.
    assert settings["ignore_startup_parameters"] == "extra_float_digits"
    # The prepared-statements pitfall ends as on PgBouncer 1.18.
    assert settings["max_prepared_statements"] == "0"
    users = config["pgbouncer-users"]["content"].split()
    assert users == [
        '"pooling_lab_bouncer"',
        f'"{ENV["POOLING_LAB_BOUNCER_PASSWORD"]}"',
        '"pooling_lab_admin"',
        f'"{ENV["POOLING_LAB_ADMIN_PASSWORD"]}"',
    ]


def test_every_node_and_worker_shares_one_database_and_one_pgbouncer():
    services = load()["services"]
    lab = {name: s for name, s in services.items() if s["image"] == "pooling-lab:latest"}
    assert {"app", "init", "worker", "demo", "demo-asgi", "pgbouncer"} <= set(lab)
    urls = {
        (s["environment"]["DATABASE_URL"], s["environment"]["PGBOUNCER_URL"])
        for s in lab.values()
        if "environment" in s
    }
    assert urls == {
        (
            f"postgres://postgres:{ENV['POSTGRES_PASSWORD']}@postgres:5432/pooling_lab",
            # The admin console's login: the lab reads SHOW POOLS with it.
            f"postgres://pooling_lab_admin:{ENV['POOLING_LAB_ADMIN_PASSWORD']}@pgbouncer:6432/pgbouncer",
        )
    }
