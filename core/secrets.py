"""The encrypted store of Stripe secrets (`attro secrets`), kept under state/: webhook signing secrets
and the API key `attro stripe sync` and `backfill` read with."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.durable import create_once, fsync_dir, private_temp
from core.settings import SECRET_PREFIX, Settings, is_api_key

STORE_FORMAT = "attro-secrets-v1"

# What a stored secret is. Entries written before kinds existed are webhook signing secrets.
WEBHOOK_SECRET, STRIPE_API_KEY = "webhook_secret", "stripe_api_key"


class SecretStoreError(RuntimeError):
    """The store cannot be used: wrong or malformed key, unreadable file, unknown id, bad secret."""


@dataclass(frozen=True)
class StoredSecret:
    """One signing secret. `value` is never printed or logged; show `fingerprint` instead."""

    id: str
    added_at: str
    value: str
    kind: str = WEBHOOK_SECRET

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value)


def fingerprint(value: str) -> str:
    """First 8 hex digits of the secret's SHA-256: enough to tell secrets apart, useless to forge."""
    return hashlib.sha256(value.encode()).hexdigest()[:8]


class SecretStore:
    """`state/secrets.json`: the whole list encrypted as one Fernet token (AES-128-CBC + HMAC).

    The key is ATTRO_MASTER_KEY when set (several during a rotation: the first encrypts, each
    decrypts), else `state/master.key`, created (mode 0600) on the first write. `rekey` moves the store
    to ATTRO_MASTER_KEY's first key. The file is replaced atomically (temp file, fsync, rename) with
    mode 0600.
    """

    def __init__(self, settings: Settings) -> None:
        self.state_dir = settings.state_dir
        self.path = self.state_dir / "secrets.json"
        self.key_path = self.state_dir / "master.key"
        self._env_keys = settings.master_keys

    # -- reading ------------------------------------------------------------------------------

    def load(self) -> list[StoredSecret]:
        """Every stored secret, oldest first; [] when there is no store yet."""
        token = self._token()
        if token is None:
            return []
        fernet = self._fernet(create=False)
        try:
            plain = fernet.decrypt(token)
        except InvalidToken:
            raise SecretStoreError(
                "cannot decrypt the secret store: wrong ATTRO_MASTER_KEY or key file"
            ) from None
        return _entries(plain)

    def _token(self) -> bytes | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretStoreError(f"cannot read the secret store {self.path}: {exc.strerror}") from None
        try:
            document = json.loads(raw)
            if document.get("format") != STORE_FORMAT:
                raise ValueError(document.get("format"))
            return document["token"].encode()
        except (ValueError, KeyError, AttributeError, TypeError):
            raise SecretStoreError(f"{self.path} is not an attro secret store") from None

    def rekey(self) -> tuple[int, str]:
        """Encrypt the store again under ATTRO_MASTER_KEY's first key, reading it with any of its keys or
        the key file: moving from the key file to ATTRO_MASTER_KEY, or to a new key. (How many secrets,
        which key could read it.) SecretStoreError without ATTRO_MASTER_KEY or when none reads it."""
        if not self._env_keys:
            raise SecretStoreError(
                "set ATTRO_MASTER_KEY to the key to encrypt with (the new one first, then the old ones, "
                "comma separated)"
            )
        with self._locked():
            token = self._token()
            if token is None:
                raise SecretStoreError(f"no secret store to re-encrypt ({self.path} does not exist)")
            readers = [
                (f"ATTRO_MASTER_KEY's key {n}", key.encode()) for n, key in enumerate(self._env_keys, 1)
            ]
            if self.key_path.is_file():
                readers.append((str(self.key_path), self._key_file()))
            for origin, key in readers:
                try:
                    plain = Fernet(key).decrypt(token)
                except (InvalidToken, ValueError):
                    continue
                entries = _entries(plain)
                self._save(entries)
                return len(entries), origin
            raise SecretStoreError(
                "none of ATTRO_MASTER_KEY's keys"
                + (f" nor {self.key_path}" if self.key_path.is_file() else "")
                + " decrypts the secret store: add the key it was written with after the new one"
            )

    def values(self) -> list[str]:
        """The signing secrets to verify with, in the order they were added."""
        return [s.value for s in self.load() if s.kind == WEBHOOK_SECRET]

    def api_key(self) -> str | None:
        """The stored Stripe API key, None when there is none."""
        keys = [s.value for s in self.load() if s.kind == STRIPE_API_KEY]
        return keys[-1] if keys else None

    # -- changing -----------------------------------------------------------------------------

    def add(self, value: str, now: datetime | None = None) -> tuple[StoredSecret, bool]:
        """Store `value`; returns (the entry, True) or (the existing entry, False) if already stored."""
        value = value.strip()
        if not value.startswith(SECRET_PREFIX):
            raise SecretStoreError(f"a Stripe webhook signing secret starts with {SECRET_PREFIX!r}")
        if len(value) == len(SECRET_PREFIX):
            raise SecretStoreError(f"nothing follows {SECRET_PREFIX!r}: paste the whole signing secret")
        if any(c.isspace() or c == "," for c in value):
            raise SecretStoreError("a Stripe webhook signing secret has no spaces or commas")
        with self._locked():
            stored = self.load()
            for entry in stored:
                if entry.value == value:
                    return entry, False
            entry = _new_entry(value, WEBHOOK_SECRET, now)
            self._save([*stored, entry])
            return entry, True

    def set_api_key(self, value: str, now: datetime | None = None) -> tuple[StoredSecret, list[StoredSecret]]:
        """Store `value` as the Stripe API key; returns (the entry, the previous keys it replaced)."""
        value = value.strip()
        if not is_api_key(value):
            raise SecretStoreError(
                "a Stripe API key starts with rk_live_ or rk_test_ (restricted; read access is enough),"
                " or sk_live_ / sk_test_"
            )
        if any(c.isspace() or c == "," for c in value):
            raise SecretStoreError("a Stripe API key has no spaces or commas")
        with self._locked():
            stored = self.load()
            replaced = [s for s in stored if s.kind == STRIPE_API_KEY]
            if [s.value for s in replaced] == [value]:
                return replaced[0], []
            entry = _new_entry(value, STRIPE_API_KEY, now)
            self._save([*(s for s in stored if s.kind != STRIPE_API_KEY), entry])
            return entry, replaced

    def remove(self, secret_id: str) -> StoredSecret:
        """Delete the secret with this id; SecretStoreError when there is none."""
        with self._locked():
            stored = self.load()
            keep = [s for s in stored if s.id != secret_id]
            if len(keep) == len(stored):
                raise SecretStoreError(f"no stored secret with id {secret_id!r} (see `attro secrets list`)")
            self._save(keep)
            return next(s for s in stored if s.id == secret_id)

    # -- plumbing -----------------------------------------------------------------------------

    def _fernet(self, *, create: bool) -> Fernet | MultiFernet:
        if self._env_keys:
            return MultiFernet([Fernet(key.encode()) for key in self._env_keys])  # checked by Settings
        if create and not self.key_path.exists():
            self._create_key_file()
        key = self._key_file()
        try:
            return Fernet(key)
        except ValueError:
            raise SecretStoreError(
                f"{self.key_path} is not a valid key (32 url-safe base64-encoded bytes; "
                "make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None

    def _key_file(self) -> bytes:
        try:
            return self.key_path.read_bytes().strip()
        except FileNotFoundError:
            raise SecretStoreError(
                f"cannot decrypt the secret store: no ATTRO_MASTER_KEY and no key file {self.key_path}"
            ) from None
        except OSError as exc:
            raise SecretStoreError(f"cannot read the key file {self.key_path}: {exc.strerror}") from None

    def _create_key_file(self) -> None:
        create_once(self.key_path, Fernet.generate_key() + b"\n")  # or another process's, made first

    def _save(self, entries: list[StoredSecret]) -> None:
        plain = json.dumps(
            [{"id": e.id, "added_at": e.added_at, "value": e.value, "kind": e.kind} for e in entries]
        )
        token = self._fernet(create=True).encrypt(plain.encode()).decode()
        data = json.dumps({"format": STORE_FORMAT, "token": token}).encode() + b"\n"
        tmp = private_temp(self.path, data)
        try:
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_dir(self.state_dir)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between concurrent `attro secrets` commands."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / "secrets.lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _entries(plain: bytes) -> list[StoredSecret]:
    return [
        StoredSecret(e["id"], e["added_at"], e["value"], e.get("kind", WEBHOOK_SECRET))
        for e in json.loads(plain)
    ]


def _new_entry(value: str, kind: str, now: datetime | None) -> StoredSecret:
    added_at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return StoredSecret(id=f"sec_{secrets.token_hex(4)}", added_at=added_at, value=value, kind=kind)


def stripe_api_key(settings: Settings) -> str | None:
    """The Stripe API key: ATTRO_STRIPE_API_KEY when set, else the secret store's (None when neither).

    SecretStoreError when the store cannot be read.
    """
    if settings.stripe_api_key and settings.stripe_api_key.strip():
        return settings.stripe_api_key.strip()
    return SecretStore(settings).api_key()
