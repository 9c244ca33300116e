"""Web fixtures: the web story built once per session on a copy of the base site, and its app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.sites import Site
from tests.support.web import Web, make_web, web_story


@pytest.fixture(scope="session")
def web_site(base_site: Site, clone_site: Callable[[Site, Path], Site], tmp_path_factory) -> Site:
    """The base story plus hostile text and a self-referral flag, run at NOW1. Never change it."""
    site = clone_site(base_site, tmp_path_factory.mktemp("web") / "site")
    web_story(site)
    return site


@pytest.fixture(scope="session")
def web(web_site: Site) -> Web:
    """`attro web` over the web site (admin password set, cookies without Secure for http clients)."""
    return make_web(web_site)


@pytest.fixture
def own_web(web_site: Site, copy_site: Callable[[Site], Site]) -> Callable[..., Web]:
    """`own_web(**settings)`: a web app over a private copy of the web site, to change freely."""

    def build(**overrides: object) -> Web:
        return make_web(copy_site(web_site), **overrides)

    return build
