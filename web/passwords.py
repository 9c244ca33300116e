"""The admin password: hashed with scrypt (hashlib), the salt and parameters inside the hash string.

`attro web hash-password` prints `scrypt$n=16384,r=8,p=1$<salt>$<hash>` for ATTRO_ADMIN_PASSWORD;
PBKDF2 strings (`pbkdf2_sha256$<iterations>$<salt>$<hash>`) are read too. A plain password in the
setting is hashed in memory at start-up, with a warning: the environment should not hold it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MiB and ~40 ms per check here: slow for guessing, fine for a login
_MAXMEM = 64 * 1024 * 1024
_PBKDF2_MIN_ITERATIONS = 100_000


class PasswordError(ValueError):
    """ATTRO_ADMIN_PASSWORD looks like a hash but is not a usable one."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A scrypt hash string with a fresh 16-byte salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=_MAXMEM, **SCRYPT)
    params = ",".join(f"{k}={v}" for k, v in SCRYPT.items())
    return f"scrypt${params}${_b64(salt)}${_b64(digest)}"


def is_hash(value: str) -> bool:
    return value.startswith(("scrypt$", "pbkdf2_sha256$"))


def _derive(encoded: str, password: str) -> tuple[bytes, bytes]:
    """(the stored digest, the password's digest under the same parameters)."""
    try:
        scheme, params, salt_text, digest_text = encoded.split("$")
        salt, digest = _unb64(salt_text), _unb64(digest_text)
        if scheme == "scrypt":
            p = {k: int(v) for k, v in (item.split("=") for item in params.split(","))}
            got = hashlib.scrypt(
                password.encode(), salt=salt, n=p["n"], r=p["r"], p=p["p"], dklen=len(digest), maxmem=_MAXMEM
            )
        elif scheme == "pbkdf2_sha256":
            iterations = int(params)
            if iterations < _PBKDF2_MIN_ITERATIONS:
                raise PasswordError(f"pbkdf2_sha256 needs at least {_PBKDF2_MIN_ITERATIONS} iterations")
            got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, dklen=len(digest))
        else:
            raise PasswordError(f"unknown password hash scheme {scheme!r}")
    except PasswordError:
        raise
    except (ValueError, KeyError, TypeError):
        # the library's words (`not enough values to unpack`) would tell the admin nothing
        raise PasswordError(
            "not a password hash from `attro web hash-password` (expected scheme$parameters$salt$digest,"
            " as that command prints it)"
        ) from None
    if len(digest) < 16 or len(salt) < 8:
        raise PasswordError("password hash too short (salt or digest)")
    return digest, got


def check_hash(encoded: str) -> None:
    """PasswordError unless `encoded` is a hash string this module can verify against."""
    _derive(encoded, "")


def verify_password(encoded: str, password: str) -> bool:
    """Constant-time comparison of the password's digest with the stored one."""
    digest, got = _derive(encoded, password)
    return hmac.compare_digest(digest, got)


@dataclass(frozen=True)
class AdminPassword:
    """The configured password as a hash (None: the admin is switched off), and whether it was plain."""

    encoded: str | None
    was_plain: bool = False

    @classmethod
    def from_setting(cls, value: str | None) -> AdminPassword:
        if not value:
            return cls(None)
        if is_hash(value):
            check_hash(value)
            return cls(value)
        return cls(hash_password(value), was_plain=True)

    def matches(self, password: str) -> bool:
        return self.encoded is not None and verify_password(self.encoded, password)

    @property
    def fingerprint(self) -> str:
        """Ties sessions to this password: changing it signs every admin session out."""
        return hashlib.sha256((self.encoded or "").encode()).hexdigest()[:16]
