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
    re.VERBOSE,  # matched against the lowercased text: 4x faster than re.IGNORECASE
)


# Real user agents are a few hundred characters with their product tokens up front; searching only
# this many keeps the time per click bounded whatever a client sends (8 MB took the regex 9 s).
CHECKED_CHARS = 1024


def is_bot(user_agent: str | None) -> bool:
    """True when the user agent is empty or looks like a crawler, preview fetcher or script."""
    checked = user_agent[:CHECKED_CHARS].lower() if user_agent is not None else ""
    return not checked.strip() or _BOT_PATTERN.search(checked) is not None
