"""What the lab writes into pgbouncer.ini and its auth_file (no binary needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lessons.services.pgbouncer_config import (
    BouncerConfig,
    database_name,
    lab_databases,
    parse_database,
    parse_version,
    render_hba,
    render_ini,
    render_userlist,
)

WORK = Path("/srv/lab/pgbouncer")


def config(**overrides) -> BouncerConfig:
    values = dict(
        listen_port=6432,
        pg_host="127.0.0.1",
        pg_port=5432,
        dbname="pooling_lab",
        server_password="s'cret",
        admin_password='ad"min',
        max_server_connections=10,
    )
    return BouncerConfig(**(values | overrides))


def ini_keys(text: str) -> dict[str, str]:
    keys = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(";"):
            key, _, value = line.partition("=")
            keys[key.strip()] = value.strip()
    return keys


def test_one_database_per_mode_and_pool_size():
    keys = ini_keys(render_ini(config(), (1, 18, 0), WORK, WORK / "userlist.txt"))
    # 2 modes x pool sizes 1..8.
    assert len(lab_databases()) == 16
    assert set(lab_databases()) <= keys.keys()
    line = keys["pooling_lab_transaction_p2"]
    assert line.endswith("pool_mode=transaction pool_size=2")
    # No forced user: clients log in as PgBouncer's own role, so that
    # max_user_connections counts every database's servers together.
    assert "user=" not in line and "password=" not in line


def test_a_separate_client_user_is_forced_to_the_server_role():
    forced = config(client_user="pooling_lab_demo", client_password="client")
    line = ini_keys(render_ini(forced, (1, 18, 0), WORK, WORK / "userlist.txt"))[
        "pooling_lab_session_p8"
    ]
    # A quote inside a connection-string value is doubled.
    assert "user=pooling_lab_bouncer password='s''cret' pool_mode=session" in line
    assert render_userlist(forced).startswith('"pooling_lab_demo" "client"\n')


def test_only_keys_the_version_accepts():
    old = ini_keys(render_ini(config(), (1, 18, 0), WORK, WORK / "userlist.txt"))
    new = ini_keys(render_ini(config(), (1, 24, 1), WORK, WORK / "userlist.txt"))
    # 1.18 refuses to start with max_prepared_statements in its file.
    assert "max_prepared_statements" not in old
    assert new["max_prepared_statements"] == "0"
    for keys in (old, new):
        assert keys["listen_addr"] == "127.0.0.1"
        assert keys["auth_type"] == "hba"
        # `options` must still be refused: a lesson shows that failure.
        assert keys["ignore_startup_parameters"] == "extra_float_digits"
        assert keys["max_user_connections"] == "10"
        assert keys["admin_users"] == "pooling_lab_admin"


def test_hba_asks_the_admin_for_a_password_and_trusts_loopback_clients():
    lines = render_hba(config()).splitlines()[1:]
    assert lines == [
        "host pgbouncer pooling_lab_admin 0.0.0.0/0 scram-sha-256",
        # Like the embedded PostgreSQL: connecting through PgBouncer costs no SCRAM.
        "host all pooling_lab_bouncer 127.0.0.1/32 trust",
        "host all all 0.0.0.0/0 reject",
    ]
    # Listening beyond loopback, every client needs its password.
    wide = render_hba(config(listen_host="0.0.0.0"))
    assert "host all pooling_lab_bouncer 0.0.0.0/0 scram-sha-256" in wide


def test_userlist_holds_plain_text_passwords_quoted():
    assert render_userlist(config()) == (
        '"pooling_lab_bouncer" "s\'cret"\n"pooling_lab_admin" "ad""min"\n'
    )


def test_names_and_versions_parse():
    assert database_name("session", 8) == "pooling_lab_session_p8"
    assert parse_database("pooling_lab_transaction_p3") == ("transaction", 3)
    assert parse_database("pooling_lab_transaction_p9") is None
    assert parse_database("pgbouncer") is None
    assert parse_version("PgBouncer 1.18.0\nlibevent 2.1.12") == (1, 18, 0)
    assert parse_version("1.24") == (1, 24, 0)
    with pytest.raises(ValueError):
        database_name("statement", 2)


@pytest.mark.parametrize(
    "overrides",
    [
        {"server_password": "a\nb"},
        {"server_password": ""},
        {"client_user": "pooling_lab_demo"},
        {"admin_password": ""},
        {"pool_sizes": (0, 1)},
    ],
)
def test_bad_config_is_refused(overrides):
    with pytest.raises(ValueError):
        config(**overrides)
