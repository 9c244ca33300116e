"""Bot detection by user agent: crawlers, link previews, headless browsers, HTTP libraries."""

from __future__ import annotations

import re

# Substrings seen in the user agents of non-human clients. "bot" only counts as a word of its own or
# before '/', ';', ')' or '-' so phone models such as "CUBOT X30" are not flagged.
_BOT_PATTERN = re.compile(
    r"""
    \bbot\b | bot[/;)\-] | bot$
    | crawl | spider | slurp | scrape | archiver | \+https?://
    | facebookexternalhit | facebot | meta-externalagent | embedly | preview | quora\ link
    | whatsapp/ | skypeuripreview | vkshare | w3c_validator
    | headless | phantomjs | selenium | puppeteer | playwright | webdriver
    | lighthouse | pagespeed | gtmetrix | pingdom | uptimerobot | statuscake | site24x7 | monitor
    | python-requests | python-urllib | python-httpx | httpx/ | aiohttp | urllib3 | pycurl
    | \bcurl/ | \bwget/ | libwww-perl | lwp:: | go-http-client | okhttp | java/ | apache-httpclient
    | node-fetch | undici | axios/ | got\ \( | ruby | php/ | guzzlehttp | postmanruntime | insomnia
    | http_request | httpclient | httpunit | feedfetcher | mediapartners | adsbot
    | google-inspectiontool | googleother | bingpreview | baiduspider | duckduckbot
    | applebot | semrush | ahrefs
    | mj12 | dotbot | petalbot | bytespider | gptbot | chatgpt-user | oai-searchbot | ccbot
    | claudebot | claude-web | anthropic-ai | perplexity | amazonbot | dataforseo | seznambot
    """,
    re.IGNORECASE | re.VERBOSE,
)


def is_bot(user_agent: str | None) -> bool:
    """True when the user agent is empty or looks like a crawler, preview fetcher or script."""
    if user_agent is None or not user_agent.strip():
        return True
    return _BOT_PATTERN.search(user_agent) is not None
