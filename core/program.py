"""The merchant's program file (affiliates, offers, tracking links): TOML, validated with pydantic."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.urls import is_absolute_http_url

Slug = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", min_length=1, max_length=64)]
LinkCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=64)]


class ProgramError(ValueError):
    """The program file is missing or invalid; the message names the file, the entry and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Affiliate(_Strict):
    id: Slug
    name: str = Field(min_length=1)
    email: str | None = None


class Tier(_Strict):
    name: str = Field(min_length=1)
    min_conversions: int = Field(ge=1)
    percent: Decimal = Field(gt=0, le=100)


Percent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=4)]
Recurring = Literal["first_payment", "lifetime", "fixed_period"]


class Terms(_Strict):
    """What an offer pays: the part of an offer that versions may change."""

    type: Literal["percent", "flat"]
    percent: Percent | None = None
    amount_minor: int | None = Field(default=None, gt=0)
    currency: str | None = Field(default=None, pattern=r"^[a-z]{3}$")
    recurring: Recurring = "first_payment"
    recurring_months: int | None = Field(default=None, ge=1, le=1200)
    holding_days: int = Field(default=30, ge=0, le=3650)
    tiers: list[Tier] = Field(default_factory=list)
    max_commission_minor: int | None = Field(default=None, gt=0)
    max_customer_commission_minor: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _terms_complete(self) -> Terms:
        if self.type == "percent" and self.percent is None:
            raise ValueError("type = 'percent' needs percent")
        if self.type == "flat" and (self.amount_minor is None or self.currency is None):
            raise ValueError("type = 'flat' needs amount_minor and currency")
        if self.type == "flat" and self.percent is not None:
            raise ValueError("type = 'flat' takes amount_minor and currency, not percent")
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

    effective_from: date | datetime
    type: Literal["percent", "flat"] | None = None
    percent: Percent | None = None
    amount_minor: int | None = Field(default=None, gt=0)
    currency: str | None = Field(default=None, pattern=r"^[a-z]{3}$")
    recurring: Recurring | None = None
    recurring_months: int | None = Field(default=None, ge=1, le=1200)
    holding_days: int | None = Field(default=None, ge=0, le=3650)
    tiers: list[Tier] | None = None
    max_commission_minor: int | None = Field(default=None, gt=0)
    max_customer_commission_minor: int | None = Field(default=None, gt=0)

    @property
    def effective_at(self) -> datetime:
        value = self.effective_from
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return datetime(value.year, value.month, value.day, tzinfo=UTC)


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
    attribution_window_days: int = Field(default=60, ge=1, le=3650)
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


class Program(_Strict):
    affiliates: list[Affiliate] = Field(default_factory=list)
    offers: list[Offer] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Program:
        for kind, ids in (
            ("affiliates", [a.id for a in self.affiliates]),
            ("offers", [o.id for o in self.offers]),
            ("links", [link.code for link in self.links]),
        ):
            seen: set[str] = set()
            for index, ident in enumerate(ids):
                if ident in seen:
                    raise ValueError(f"{kind}[{index}]: duplicate id {ident!r}")
                seen.add(ident)
        affiliates = {a.id for a in self.affiliates}
        offers = {o.id for o in self.offers}
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


def _describe(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """Turn a pydantic error location into `offers[1] (id 'pro-20').percent`."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            label = f"[{item}]"
            if isinstance(node, dict):
                key = node.get("id") or node.get("code")
                if key is not None:
                    label += f" ({'code' if 'code' in node and 'id' not in node else 'id'} {key!r})"
            parts.append(label)
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def load_program(path: Path) -> Program:
    """Read and validate the program file; raise ProgramError naming file, entry and problem."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProgramError(f"{path}: program file not found (set ATTRO_PROGRAM)") from None
    except OSError as exc:  # a directory, no permission: said in one line, like a missing file
        raise ProgramError(f"{path}: cannot read the program file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProgramError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProgramError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["loc"]:
                message = f"{_describe(tuple(err['loc']), data)}: {message}"
            problems.append(f"{path}: {message}")
        raise ProgramError("\n".join(problems)) from None
