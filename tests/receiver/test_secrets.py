"""The encrypted secret store, `attro secrets`, and the receiver following it (rotation, removal)."""

from __future__ import annotations

import argparse
import io
import json
import stat
import time

import pytest
from cryptography.fernet import Fernet

from attro.secrets_cli import add_secrets_parser
from core.secrets import SecretStore, SecretStoreError, fingerprint, stripe_api_key
from core.settings import SettingsError

OLD = "whsec_old_rotation_secret_0001"
NEW = "whsec_new_rotation_secret_0002"


def attro_secrets(settings, monkeypatch, capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    """Run `attro secrets ...` as the CLI would, with this stdin; (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="attro")
    add_secrets_parser(parser.add_subparsers(dest="command", required=True))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = parser.parse_args(["secrets", *argv])
    code = args.func(args, settings)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store_settings(make_settings):
    """Settings without ATTRO_STRIPE_WEBHOOK_SECRET: the receiver uses the store."""
    return make_settings(stripe_webhook_secret=None)


def test_set_list_remove_round_trip_never_prints_the_secret(store_settings, monkeypatch, capsys):
    code, out, _ = attro_secrets(store_settings, monkeypatch, capsys, "set-stripe", stdin=OLD + "\n")
    assert code == 0
    assert fingerprint(OLD) in out
    attro_secrets(store_settings, monkeypatch, capsys, "set-stripe", stdin=NEW)

    code, listing, _ = attro_secrets(store_settings, monkeypatch, capsys, "list")

    assert code == 0
    [old_entry, new_entry] = SecretStore(store_settings).load()
    assert old_entry.id in listing and new_entry.id in listing
    assert fingerprint(OLD) in listing and fingerprint(NEW) in listing
    assert old_entry.added_at[:10] in listing
    assert OLD not in listing and NEW not in listing and "whsec_" not in listing

    code, out, _ = attro_secrets(store_settings, monkeypatch, capsys, "remove", old_entry.id)
    assert code == 0
    assert OLD not in out
    assert SecretStore(store_settings).values() == [NEW]


def test_the_secret_is_never_a_command_line_argument(store_settings, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        attro_secrets(store_settings, monkeypatch, capsys, "set-stripe", OLD)


def test_store_is_encrypted_at_rest_with_private_files(store_settings):
    SecretStore(store_settings).add(OLD)

    store_file = store_settings.state_dir / "secrets.json"
    key_file = store_settings.state_dir / "master.key"
    assert OLD.encode() not in store_file.read_bytes()
    assert fingerprint(OLD).encode() not in store_file.read_bytes()
    assert stat.S_IMODE(store_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not list(store_settings.state_dir.glob(".*.tmp"))  # replaced atomically, nothing left over


def test_master_key_from_the_environment_is_used_and_no_key_file_is_made(make_settings):
    key = Fernet.generate_key().decode()
    settings = make_settings(stripe_webhook_secret=None, master_key=key)

    SecretStore(settings).add(OLD)

    assert not (settings.state_dir / "master.key").exists()
    assert SecretStore(settings).values() == [OLD]
    assert key not in repr(settings)


def test_wrong_master_key_is_a_clear_error_not_a_traceback(make_settings, monkeypatch, capsys):
    SecretStore(make_settings(stripe_webhook_secret=None, master_key=Fernet.generate_key().decode())).add(OLD)
    wrong = make_settings(stripe_webhook_secret=None, master_key=Fernet.generate_key().decode())

    with pytest.raises(SecretStoreError, match="wrong ATTRO_MASTER_KEY or key file"):
        SecretStore(wrong).load()
    code, out, err = attro_secrets(wrong, monkeypatch, capsys, "list")
    assert code == 2
    assert err.startswith("error: cannot decrypt the secret store")
    assert "Traceback" not in err


def test_malformed_master_key_says_how_to_make_one(make_settings):
    with pytest.raises(SettingsError, match=r"ATTRO_MASTER_KEY: is not a Fernet key .*Fernet.generate_key"):
        make_settings(stripe_webhook_secret=None, master_key="hunter2")  # refused before anything runs
    settings = make_settings(stripe_webhook_secret=None)
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "master.key").write_text("hunter2\n")

    with pytest.raises(SecretStoreError, match="master.key is not a valid key .*Fernet.generate_key"):
        SecretStore(settings).add(OLD)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("sk_live_123", "starts with 'whsec_'"),
        ("whsec_", "nothing follows 'whsec_'"),  # audit: it said "starts with 'whsec_'", as it did
        ("whsec_a,whsec_b", "no spaces or commas"),
        ("whsec_a b", "no spaces or commas"),
    ],
)
def test_set_stripe_refuses_what_is_not_a_signing_secret(store_settings, monkeypatch, capsys, value, problem):
    code, _, err = attro_secrets(store_settings, monkeypatch, capsys, "set-stripe", stdin=value)

    assert code == 2
    assert err.startswith("error:") and problem in err
    assert SecretStore(store_settings).load() == []


@pytest.mark.parametrize("command", ["set-stripe", "set-stripe-api-key"])
def test_nothing_on_stdin_is_named_as_such(store_settings, monkeypatch, capsys, command):
    for blank in ("", "\n \n"):
        code, _, err = attro_secrets(store_settings, monkeypatch, capsys, command, stdin=blank)

        assert code == 2
        assert err.startswith(
            f"error: nothing was read from stdin: pipe the value in, e.g. `attro secrets {command} <"
        )


def test_a_secret_after_blank_lines_is_read(store_settings, monkeypatch, capsys):
    # Audit: a file with an empty first line was refused with "nothing was read from stdin".
    code, out, err = attro_secrets(
        store_settings, monkeypatch, capsys, "set-stripe", stdin="\n  \n" + OLD + "\n"
    )

    assert (code, err) == (0, "")
    assert fingerprint(OLD) in out
    assert SecretStore(store_settings).values() == [OLD]


def test_remove_unknown_id_is_an_error(store_settings, monkeypatch, capsys):
    code, _, err = attro_secrets(store_settings, monkeypatch, capsys, "remove", "sec_nope")

    assert code == 2
    assert "no stored secret" in err


def test_adding_the_same_secret_twice_keeps_one(store_settings):
    store = SecretStore(store_settings)
    first, added = store.add(OLD)
    again, added_again = store.add(OLD + "\n")

    assert (added, added_again) == (True, False)
    assert again.id == first.id
    assert store.values() == [OLD]


# -- the receiver and the store -------------------------------------------------------------------


def post_signed(client, kit, secret: str, event_id: str):
    body = kit.event_body(kit.stripe_event(event_id))
    return client.post(
        "/api/webhooks/stripe", content=body, headers={"Stripe-Signature": kit.sign(body, secret)}
    )


def test_receiver_verifies_with_both_stored_secrets_during_a_rotation(store_settings, make_client, kit):
    store = SecretStore(store_settings)
    store.add(OLD)
    store.add(NEW)
    client = make_client(store_settings)

    assert post_signed(client, kit, OLD, "evt_old").status_code == 200
    assert post_signed(client, kit, NEW, "evt_new").status_code == 200
    assert post_signed(client, kit, "whsec_someone_else", "evt_x").status_code == 400


def test_removing_a_secret_takes_effect_without_a_restart(store_settings, make_client, kit):
    store = SecretStore(store_settings)
    old_entry, _ = store.add(OLD)
    client = make_client(store_settings)
    assert post_signed(client, kit, OLD, "evt_1").status_code == 200

    store.add(NEW)
    store.remove(old_entry.id)
    time.sleep(1.05)  # the receiver looks at the store file at most once a second

    assert post_signed(client, kit, OLD, "evt_2").status_code == 400
    assert post_signed(client, kit, NEW, "evt_3").status_code == 200


def test_environment_secrets_take_precedence_over_the_store(make_settings, make_client, kit):
    settings = make_settings(stripe_webhook_secret=NEW)
    SecretStore(settings).add(OLD)
    client = make_client(settings)

    assert post_signed(client, kit, OLD, "evt_1").status_code == 400
    assert post_signed(client, kit, NEW, "evt_2").status_code == 200


def test_no_secret_anywhere_answers_503(store_settings, make_client, kit):
    client = make_client(store_settings)

    response = post_signed(client, kit, OLD, "evt_1")

    assert response.status_code == 503
    assert "no webhook secret" in response.json()["detail"]


def test_undecryptable_store_fails_closed_with_503_and_a_clear_log_line(
    make_settings, make_client, kit, caplog
):
    SecretStore(make_settings(stripe_webhook_secret=None, master_key=Fernet.generate_key().decode())).add(OLD)
    wrong = make_settings(stripe_webhook_secret=None, master_key=Fernet.generate_key().decode())
    caplog.set_level("INFO", logger="receiver")
    client = make_client(wrong)

    response = post_signed(client, kit, OLD, "evt_1")

    assert response.status_code == 503
    assert "wrong ATTRO_MASTER_KEY or key file" in caplog.text
    assert OLD not in caplog.text


# -- the Stripe API key (attro stripe sync / backfill) ----------------------------------------------

API_KEY = "rk_test_51AttroReadOnlyKeyForTests0001"
OTHER_API_KEY = "rk_live_51AttroReadOnlyKeyForTests0002"


def test_the_api_key_is_stored_encrypted_listed_by_kind_and_never_printed(
    store_settings, monkeypatch, capsys
):
    attro_secrets(store_settings, monkeypatch, capsys, "set-stripe", stdin=OLD)

    code, out, _ = attro_secrets(store_settings, monkeypatch, capsys, "set-stripe-api-key", stdin=API_KEY)
    _, listing, _ = attro_secrets(store_settings, monkeypatch, capsys, "list")

    assert code == 0
    assert fingerprint(API_KEY) in out and API_KEY not in out
    store = SecretStore(store_settings)
    assert store.api_key() == API_KEY
    assert store.values() == [OLD]  # an API key never verifies a webhook
    assert stripe_api_key(store_settings) == API_KEY
    assert "api key" in listing and fingerprint(API_KEY) in listing and "webhook secret" in listing
    assert API_KEY not in listing and "rk_" not in listing
    assert API_KEY.encode() not in (store_settings.state_dir / "secrets.json").read_bytes()


def test_a_new_api_key_replaces_the_stored_one(store_settings, monkeypatch, capsys):
    attro_secrets(store_settings, monkeypatch, capsys, "set-stripe-api-key", stdin=API_KEY)

    code, out, _ = attro_secrets(
        store_settings, monkeypatch, capsys, "set-stripe-api-key", stdin=OTHER_API_KEY
    )

    assert code == 0
    assert "replaced" in out and fingerprint(API_KEY) in out
    assert [s.kind for s in SecretStore(store_settings).load()] == ["stripe_api_key"]
    assert SecretStore(store_settings).api_key() == OTHER_API_KEY


@pytest.mark.parametrize("value", [OLD, "pk_live_51Publishable", "rk_test_a b", "rk_live_"])
def test_set_stripe_api_key_refuses_what_is_not_an_api_key(store_settings, monkeypatch, capsys, value):
    code, _, err = attro_secrets(store_settings, monkeypatch, capsys, "set-stripe-api-key", stdin=value)

    assert code == 2
    assert err.startswith("error: a Stripe API key")
    assert SecretStore(store_settings).load() == []


def test_a_secret_key_is_accepted_with_a_note_that_a_restricted_key_is_enough(
    store_settings, monkeypatch, capsys
):
    code, _, err = attro_secrets(
        store_settings, monkeypatch, capsys, "set-stripe-api-key", stdin="sk_test_51Full"
    )

    assert code == 0
    assert "a restricted key (rk_...) with read access" in err


def test_the_environment_api_key_wins_over_the_stored_one(make_settings):
    stored = make_settings(stripe_webhook_secret=None)
    SecretStore(stored).set_api_key(API_KEY)

    assert (
        stripe_api_key(make_settings(stripe_webhook_secret=None, stripe_api_key=OTHER_API_KEY))
        == OTHER_API_KEY
    )
    assert stripe_api_key(stored) == API_KEY
    assert OTHER_API_KEY not in repr(make_settings(stripe_api_key=OTHER_API_KEY))


def test_a_store_written_before_kinds_existed_reads_as_webhook_secrets(store_settings):
    key = Fernet.generate_key()
    store_settings.state_dir.mkdir(parents=True)
    (store_settings.state_dir / "master.key").write_bytes(key)
    entries = [{"id": "sec_0ld00001", "added_at": "2026-01-01T00:00:00Z", "value": OLD}]
    token = Fernet(key).encrypt(json.dumps(entries).encode()).decode()
    (store_settings.state_dir / "secrets.json").write_text(
        json.dumps({"format": "attro-secrets-v1", "token": token})
    )

    store = SecretStore(store_settings)

    assert store.values() == [OLD]
    assert store.api_key() is None
    store.set_api_key(API_KEY)
    assert (store.values(), store.api_key()) == ([OLD], API_KEY)


def test_a_stored_api_key_alone_is_no_webhook_secret(store_settings, make_client, kit):
    SecretStore(store_settings).set_api_key(API_KEY)
    client = make_client(store_settings)

    response = post_signed(client, kit, API_KEY, "evt_1")

    assert response.status_code == 503
    assert "no webhook secret" in response.json()["detail"]


def test_moving_from_the_key_file_to_attro_master_key_and_rotating_it_keeps_every_secret(
    store_settings, make_settings, monkeypatch, capsys
):
    # Audit: setting ATTRO_MASTER_KEY, as the README advises for production, on a store written under
    # the key file made every webhook 503 and `set-stripe` refuse; the only way out was deleting it.
    SecretStore(store_settings).add(OLD)
    first = Fernet.generate_key().decode()
    moved = make_settings(stripe_webhook_secret=None, master_key=first)
    with pytest.raises(SecretStoreError, match="wrong ATTRO_MASTER_KEY or key file"):
        SecretStore(moved).load()

    code, out, err = attro_secrets(moved, monkeypatch, capsys, "rekey")

    assert (code, err) == (0, "")
    assert (
        f"(1 secret, read with {moved.state_dir / 'master.key'}) under ATTRO_MASTER_KEY's first key\n" in out
    )
    assert f"delete {moved.state_dir / 'master.key'}" in out
    (moved.state_dir / "master.key").unlink()
    assert SecretStore(moved).values() == [OLD]

    # a rotation: the new key first, the old one after it, both read; rekey moves it to the new one
    second = Fernet.generate_key().decode()
    both = make_settings(stripe_webhook_secret=None, master_key=f"{second}, {first}")
    assert SecretStore(both).values() == [OLD]
    SecretStore(both).add(NEW)  # written under the first key of the setting
    assert attro_secrets(both, monkeypatch, capsys, "rekey")[0] == 0
    assert SecretStore(make_settings(stripe_webhook_secret=None, master_key=second)).values() == [OLD, NEW]
    with pytest.raises(SecretStoreError):
        SecretStore(make_settings(stripe_webhook_secret=None, master_key=first)).load()


def test_rekey_refuses_without_a_key_to_move_to_or_one_that_reads(
    store_settings, make_settings, monkeypatch, capsys
):
    SecretStore(store_settings).add(OLD)
    code, _, err = attro_secrets(store_settings, monkeypatch, capsys, "rekey")
    assert code == 2 and err.startswith("error: set ATTRO_MASTER_KEY to the key to encrypt with")

    (store_settings.state_dir / "master.key").write_bytes(
        Fernet.generate_key()
    )  # not the one it was written with
    stranger = make_settings(stripe_webhook_secret=None, master_key=Fernet.generate_key().decode())
    code, _, err = attro_secrets(stranger, monkeypatch, capsys, "rekey")
    assert code == 2 and "decrypts the secret store: add the key it was written with after the new one" in err
    assert len(err.strip().splitlines()) == 1


def test_a_key_file_that_is_a_folder_is_one_error_line_and_rekey_reads_with_attro_master_key(
    make_settings, monkeypatch, capsys
):
    # Review: `list` and `rekey` ended in an IsADirectoryError traceback.
    first = Fernet.generate_key().decode()
    SecretStore(make_settings(stripe_webhook_secret=None, master_key=first)).add(OLD)
    plain = make_settings(stripe_webhook_secret=None)
    (plain.state_dir / "master.key").mkdir()

    code, _, err = attro_secrets(plain, monkeypatch, capsys, "list")
    assert code == 2 and err.startswith("error: cannot read the key file") and "Traceback" not in err

    second = Fernet.generate_key().decode()
    both = make_settings(stripe_webhook_secret=None, master_key=f"{second},{first}")
    assert attro_secrets(both, monkeypatch, capsys, "rekey")[0] == 0
    assert SecretStore(make_settings(stripe_webhook_secret=None, master_key=second)).values() == [OLD]
