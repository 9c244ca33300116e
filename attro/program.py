"""The merchant's program file (affiliates, offers, tracking links): TOML, validated with pydantic."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


class Offer(_Strict):
    id: Slug
    name: str = Field(min_length=1)
    type: Literal["percent", "flat"]
    percent: Decimal | None = Field(default=None, gt=0, le=100)
    amount_minor: int | None = Field(default=None, gt=0)
    currency: str | None = Field(default=None, pattern=r"^[a-z]{3}$")
    recurring: Literal["first_payment", "lifetime", "fixed_period"] = "first_payment"
    recurring_months: int | None = Field(default=None, ge=1, le=1200)
    attribution_window_days: int = Field(default=60, ge=1, le=3650)
    holding_days: int = Field(default=30, ge=0, le=3650)
    tiers: list[Tier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _terms_complete(self) -> Offer:
        if self.type == "percent" and self.percent is None:
            raise ValueError("type = 'percent' needs percent")
        if self.type == "flat" and (self.amount_minor is None or self.currency is None):
            raise ValueError("type = 'flat' needs amount_minor and currency")
        if self.recurring == "fixed_period" and self.recurring_months is None:
            raise ValueError("recurring = 'fixed_period' needs recurring_months")
        if self.recurring != "fixed_period" and self.recurring_months is not None:
            raise ValueError("recurring_months is only for recurring = 'fixed_period'")
        return self


class Link(_Strict):
    code: LinkCode
    affiliate: Slug
    offer: Slug
    destination: str

    @field_validator("destination")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
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
