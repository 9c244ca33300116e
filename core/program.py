"""The merchant's program file (affiliates, offers, tracking links): TOML, validated with pydantic."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from core.stripe_fields import AMOUNT_LIMIT
from core.urls import is_absolute_http_url

Slug = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
# Counts and amounts take TOML integers only: `amount_minor = 5.00` (dollars in mind) or `true` must not
# quietly become 5 or 1. Amounts stop where Stripe's do (core/stripe_fields.py).
MAX_MINOR = AMOUNT_LIMIT - 1


def _not_a_number(value: Any) -> Any:
    digits = isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    if isinstance(value, bool | int | float) or digits:  # pydantic would read "20261231" as a Unix time
        raise ValueError(
            "must be a date (2026-11-15) or a date and time (2026-11-15T09:00:00Z), not a number"
        )
    return value


def _plausible(value: date | datetime) -> date | datetime:
    if not 1970 <= value.year <= 9000:
        raise ValueError(f"{value.isoformat()} is not a year between 1970 and 9000")
    return value


# A date or a date and time (UTC when it names no offset), as TOML writes them (or their text).
When = Annotated[date | datetime, BeforeValidator(_not_a_number), AfterValidator(_plausible)]
LinkCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=64)]


class ProgramError(ValueError):
    """The program file is missing or invalid; the message names the file, the entry and the problem.
    `entries` names the entries alone (`offers[1].percent`), without ids, code texts or the values
    the problems quote: what a public health check may say."""

    def __init__(self, message: str, entries: list[str] | None = None) -> None:
        super().__init__(message)
        self.entries = entries or []


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# An address a payout provider can send money to: one @, no spaces, a dot in the domain. Deliverability
# is the provider's to check; this catches a typo or a name pasted into the wrong key.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# What Excel and LibreOffice run as a formula when a cell's text starts with it (pipelines/lib/csv_text.py
# writes such text as text in the CSVs people open).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Affiliate(_Strict):
    id: Slug
    name: str = Field(min_length=1)
    email: str | None = None
    status: Literal["active", "banned"] = "active"
    banned_from: When | None = None  # clicks from then on earn nothing (UTC)
    paypal_email: str | None = None  # where PayPal Payouts sends this affiliate's money
    wise_email: str | None = None  # the address Wise asks for the affiliate's bank details

    @field_validator("paypal_email", "wise_email")
    @classmethod
    def _an_email_address(cls, value: str | None) -> str | None:
        # uploaded to the provider as written (a CSV for people writes such text with a leading ')
        if value is not None and value[:1] in FORMULA_STARTS:
            raise ValueError(
                f"{value!r} starts with {value[:1]!r}: a spreadsheet opening the payout or commission"
                " files would run it as a formula"
            )
        if value is not None and (len(value) > 254 or not _EMAIL.fullmatch(value)):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _wise_name_as_written(self) -> Affiliate:
        # Wise's file sends the name as the recipient's, as written (a CSV for people gets a ' first)
        if self.wise_email is not None and self.name[:1] in FORMULA_STARTS:
            raise ValueError(
                f"name {self.name!r} starts with {self.name[:1]!r}: the Wise payout file sends it as the"
                " recipient's name, and a spreadsheet would run it as a formula (Wise wants the name on"
                " their bank account)"
            )
        return self

    @model_validator(mode="after")
    def _ban_complete(self) -> Affiliate:
        if self.status == "banned" and self.banned_from is None:
            raise ValueError("status = 'banned' needs banned_from (the date clicks stop earning)")
        if self.status != "banned" and self.banned_from is not None:
            raise ValueError("banned_from is only for status = 'banned'")
        return self

    @property
    def banned_at(self) -> datetime | None:
        return _utc(self.banned_from) if self.banned_from is not None else None


RiskAction = Literal["hold", "off"]


class Risk(_Strict):
    """The `[risk]` section: each rule holds a flagged sale's commission for review, or is off."""

    self_referral: RiskAction = "hold"
    disposable_email: RiskAction = "hold"
    paid_traffic: RiskAction = "hold"
    banned_referrer: RiskAction = "hold"
    too_fast: RiskAction = "hold"
    click_flood: RiskAction = "hold"
    banned_referrers: list[str] = Field(default_factory=list)  # referer hosts (and their subdomains)
    min_seconds_click_to_purchase: StrictInt = Field(default=10, ge=0, le=86_400)
    max_clicks_per_ip_hash_per_day: StrictInt = Field(default=50, ge=1, le=1_000_000)

    @field_validator("banned_referrers")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        cleaned = []
        for host in hosts:
            value = host.strip().lower().removeprefix("www.")
            if not value or "/" in value or " " in value:
                raise ValueError(f"banned_referrers: {host!r} is not a host name (e.g. 'coupons.example')")
            cleaned.append(value)
        return cleaned


def _utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


Percent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=4)]


class Tier(_Strict):
    name: str = Field(min_length=1)
    min_conversions: StrictInt = Field(ge=1, le=1_000_000)
    percent: Percent  # up to 4 decimals, as the offer's own: program tables hold Decimal(9, 4)


Recurring = Literal["first_payment", "lifetime", "fixed_period"]


class Terms(_Strict):
    """What an offer pays: the part of an offer that versions may change."""

    type: Literal["percent", "flat"]
    percent: Percent | None = None
    amount_minor: StrictInt | None = Field(default=None, gt=0, le=MAX_MINOR)
    currency: str | None = Field(default=None, pattern=r"^[a-z]{3}$")
    recurring: Recurring = "first_payment"
    recurring_months: StrictInt | None = Field(default=None, ge=1, le=1200)
    holding_days: StrictInt = Field(default=30, ge=0, le=3650)
    tiers: list[Tier] = Field(default_factory=list)
    max_commission_minor: StrictInt | None = Field(default=None, gt=0, le=MAX_MINOR)
    max_customer_commission_minor: StrictInt | None = Field(default=None, gt=0, le=MAX_MINOR)

    @model_validator(mode="after")
    def _terms_complete(self) -> Terms:
        if self.type == "percent" and self.percent is None:
            raise ValueError("type = 'percent' needs percent")
        if self.type == "flat" and (self.amount_minor is None or self.currency is None):
            raise ValueError("type = 'flat' needs amount_minor and currency")
        if self.type == "flat" and self.percent is not None:
            raise ValueError("type = 'flat' takes amount_minor and currency, not percent")
        if self.type == "percent" and self.amount_minor is not None:
            raise ValueError("type = 'percent' takes percent, not amount_minor (that is for type = 'flat')")
        if self.recurring == "fixed_period" and self.recurring_months is None:
            raise ValueError("recurring = 'fixed_period' needs recurring_months")
        if self.recurring != "fixed_period" and self.recurring_months is not None:
            raise ValueError("recurring_months is only for recurring = 'fixed_period'")
        has_cap = self.max_commission_minor is not None or self.max_customer_commission_minor is not None
        if has_cap and self.currency is None:
            raise ValueError("caps (max_commission_minor, max_customer_commission_minor) need currency")
        if self.tiers and self.type != "percent":
            raise ValueError("tiers are only for type = 'percent'")
        for index, tier in enumerate(self.tiers):
            if index and tier.min_conversions <= self.tiers[index - 1].min_conversions:
                raise ValueError(
                    f"tiers[{index}] ({tier.name!r}): min_conversions must increase "
                    f"({tier.min_conversions} after {self.tiers[index - 1].min_conversions})"
                )
            if self.percent is not None and tier.percent < self.percent:
                raise ValueError(
                    f"tiers[{index}] ({tier.name!r}): percent {tier.percent} "
                    f"is below the offer's {self.percent}"
                )
        return self


_TERM_FIELDS = tuple(Terms.model_fields)


class OfferVersion(_Strict):
    """New terms from `effective_from` on (UTC); keys not given keep the previous version's value."""

    effective_from: When
    type: Literal["percent", "flat"] | None = None
    percent: Percent | None = None
    amount_minor: StrictInt | None = Field(default=None, gt=0, le=MAX_MINOR)
    currency: str | None = Field(default=None, pattern=r"^[a-z]{3}$")
    recurring: Recurring | None = None
    recurring_months: StrictInt | None = Field(default=None, ge=1, le=1200)
    holding_days: StrictInt | None = Field(default=None, ge=0, le=3650)
    tiers: list[Tier] | None = None
    max_commission_minor: StrictInt | None = Field(default=None, gt=0, le=MAX_MINOR)
    max_customer_commission_minor: StrictInt | None = Field(default=None, gt=0, le=MAX_MINOR)

    @property
    def effective_at(self) -> datetime:
        return _utc(self.effective_from)


@dataclass(frozen=True)
class ResolvedTerms:
    """One version of an offer's terms, in force from `effective_at` (None: from the beginning)."""

    offer_id: str
    version: int
    effective_at: datetime | None
    terms: Terms


class Offer(Terms):
    id: Slug
    name: str = Field(min_length=1)
    attribution_window_days: StrictInt = Field(default=60, ge=1, le=3650)
    versions: list[OfferVersion] = Field(default_factory=list)

    @model_validator(mode="after")
    def _versions_resolve(self) -> Offer:
        seen: dict[datetime, int] = {}
        for index, version in enumerate(self.versions):
            at = version.effective_at
            if at in seen:
                raise ValueError(
                    f"versions[{index}]: effective_from {version.effective_from} repeats versions[{seen[at]}]"
                )
            seen[at] = index
        self.resolved_versions()  # every version's terms must be complete
        return self

    def resolved_versions(self) -> list[ResolvedTerms]:
        """v1 = the offer's own terms; each version in effective_from order builds on the previous."""
        current = Terms.model_validate({name: getattr(self, name) for name in _TERM_FIELDS})
        resolved = [ResolvedTerms(self.id, 1, None, current)]
        for number, version in enumerate(sorted(self.versions, key=lambda v: v.effective_at), start=2):
            changes = {
                name: getattr(version, name) for name in _TERM_FIELDS if name in version.model_fields_set
            }
            data = current.model_dump() | changes
            if changes.get("type") == "flat":
                data["percent"] = changes.get("percent")
                data["tiers"] = changes.get("tiers", [])
            if changes.get("type") == "percent":  # a flat offer turned percent: its amount goes
                data["amount_minor"] = changes.get("amount_minor")
            if changes.get("recurring") not in (None, "fixed_period") and "recurring_months" not in changes:
                data["recurring_months"] = None
            try:
                current = Terms.model_validate(data)
            except ValidationError as exc:
                problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
                raise ValueError(f"version from {version.effective_from}: {problems}") from None
            resolved.append(ResolvedTerms(self.id, number, version.effective_at, current))
        return resolved


class Link(_Strict):
    code: LinkCode
    affiliate: Slug
    offer: Slug
    destination: str

    @field_validator("destination")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        if not is_absolute_http_url(value):
            raise ValueError("destination must be an absolute http(s) URL")
        return value


class Code(_Strict):
    """A promotion code that belongs to an affiliate: by its text, its Stripe id, or both."""

    code: str | None = Field(default=None, min_length=1, max_length=64)
    promotion_code: str | None = Field(default=None, pattern=r"^promo_[A-Za-z0-9]+$")
    affiliate: Slug
    offer: Slug
    valid_from: When | None = None
    valid_until: When | None = None  # a date: through the end of that day (UTC)

    @field_validator("code")
    @classmethod
    def _no_spaces(cls, value: str | None) -> str | None:
        # Stripe's codes have none, and one pasted in would never match what customers type
        if value is not None and any(c.isspace() for c in value):
            raise ValueError(f"{value!r} has a space in it: a promotion code is letters and digits")
        return value

    @model_validator(mode="after")
    def _named(self) -> Code:
        if self.code is None and self.promotion_code is None:
            raise ValueError("a code needs `code` (what customers type) and/or `promotion_code` (promo_...)")
        if self.valid_from is not None and self.valid_until is not None and self.until_at <= self.from_at:  # type: ignore[operator]
            raise ValueError("valid_until must come after valid_from")
        return self

    @property
    def from_at(self) -> datetime | None:
        return _utc(self.valid_from) if self.valid_from is not None else None

    @property
    def until_at(self) -> datetime | None:
        """Exclusive end: a date means through that whole day."""
        if self.valid_until is None:
            return None
        end = _utc(self.valid_until)
        return end + timedelta(days=1) if not isinstance(self.valid_until, datetime) else end


class Portal(_Strict):
    """The `[portal]` section: how the affiliates' portal (`attro web`, /portal) presents the program."""

    name: str = Field(default="Affiliate portal", min_length=1, max_length=100)
    logo_url: str | None = None
    primary_color: str = Field(default="#2f5bea", pattern=r"^#[0-9a-fA-F]{6}$")
    support_email: str | None = Field(default=None, pattern=r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")

    @field_validator("logo_url")
    @classmethod
    def _absolute_https_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc or any(c in value for c in " \"'<>"):
            raise ValueError("logo_url must be an absolute https URL (e.g. 'https://yourapp.com/logo.svg')")
        return value


class Program(_Strict):
    affiliates: list[Affiliate] = Field(default_factory=list)
    offers: list[Offer] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    codes: list[Code] = Field(default_factory=list)
    risk: Risk = Field(default_factory=Risk)
    portal: Portal = Field(default_factory=Portal)
    # who gets a sale when a valid click and a valid promotion code name different affiliates
    attribution_precedence: Literal["click_first", "code_first"] = "click_first"
    lead_window_days: StrictInt = Field(default=90, ge=1, le=3650)  # a lead's first payment, at the latest

    @model_validator(mode="after")
    def _references_resolve(self) -> Program:
        for kind, key, ids in (
            ("affiliates", "id", [a.id for a in self.affiliates]),
            ("offers", "id", [o.id for o in self.offers]),
            ("links", "code", [link.code for link in self.links]),
        ):
            seen: set[str] = set()
            for index, ident in enumerate(ids):
                if ident in seen:
                    raise ValueError(f"{kind}[{index}]: duplicate {key} {ident!r}")
                seen.add(ident)
        affiliates = {a.id for a in self.affiliates}
        offers = {o.id for o in self.offers}
        for index, code in enumerate(self.codes):
            name = code.code or code.promotion_code
            if code.affiliate not in affiliates:
                raise ValueError(f"codes[{index}] ({name!r}): unknown affiliate {code.affiliate!r}")
            if code.offer not in offers:
                raise ValueError(f"codes[{index}] ({name!r}): unknown offer {code.offer!r}")
        texts: dict[str, int] = {}
        ids: dict[str, int] = {}
        for index, code in enumerate(self.codes):
            if code.code and (earlier := texts.setdefault(code.code.upper(), index)) != index:
                raise ValueError(
                    f"codes[{index}] (code {code.code!r}): duplicate code, already codes[{earlier}] "
                    "(codes are matched case-insensitively)"
                )
            if code.promotion_code and (earlier := ids.setdefault(code.promotion_code, index)) != index:
                raise ValueError(
                    f"codes[{index}] (promotion_code {code.promotion_code!r}): duplicate promotion_code, "
                    f"already codes[{earlier}]"
                )
        for index, link in enumerate(self.links):
            if link.affiliate not in affiliates:
                raise ValueError(f"links[{index}] (code {link.code!r}): unknown affiliate {link.affiliate!r}")
            if link.offer not in offers:
                raise ValueError(f"links[{index}] (code {link.code!r}): unknown offer {link.offer!r}")
        return self

    def link(self, code: str) -> Link | None:
        return next((link for link in self.links if link.code == code), None)

    def offer(self, offer_id: str) -> Offer:
        return next(o for o in self.offers if o.id == offer_id)


def _describe(loc: tuple[Any, ...], data: dict[str, Any], *, named: bool = True) -> str:
    """Turn a pydantic error location into `offers[1] (id 'pro-20').percent` (`named=False`:
    `offers[1].percent`, for where an entry's id or code text must not show)."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            label = f"[{item}]"
            if isinstance(node, dict):
                key = node.get("id") or node.get("code")
                if key is not None and named:
                    label += f" ({'code' if 'code' in node and 'id' not in node else 'id'} {key!r})"
            parts.append(label)
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


_NAMED_ENTRY = re.compile(r"^([a-z_]+\[\d+\])[ :]")


def load_program(path: Path) -> Program:
    """Read and validate the program file; raise ProgramError naming file, entry and problem."""
    return parse_program(path, read_program_text(path))


def read_program_text(path: Path) -> str:
    """The program file's text; ProgramError when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # a BOM (Notepad) is no error
    except FileNotFoundError:
        raise ProgramError(f"{path}: program file not found (set ATTRO_PROGRAM)") from None
    except OSError as exc:  # a directory, no permission: said in one line, like a missing file
        raise ProgramError(f"{path}: cannot read the program file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProgramError(f"{path}: not UTF-8 text") from None


def parse_program(path: Path, text: str) -> Program:
    """The program in `text`, read from `path` (which errors name); ProgramError for a bad one."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgramError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        problems, entries = [], []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "int_type":  # strict: 5.00, "5" and true are no counts of cents or days
                message = f"must be a whole number, written without quotes or decimals; got {err['input']!r}"
            if err["loc"]:
                entries.append(_describe(tuple(err["loc"]), data, named=False))
                message = f"{_describe(tuple(err['loc']), data)}: {message}"
            elif named := _NAMED_ENTRY.match(message):  # a check across entries names its entry first
                entries.append(named[1])
            problems.append(f"{path}: {message}")
        raise ProgramError("\n".join(problems), entries) from None
