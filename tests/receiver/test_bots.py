"""Bot detection by user agent."""

from __future__ import annotations

import time

import pytest

from receiver.bots import is_bot

HUMANS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.0]",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
]

BOTS = [
    None,
    "",
    "   ",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Twitterbot/1.0",
    "WhatsApp/2.23.20.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0",
    "python-requests/2.32.3",
    "python-httpx/0.27.0",
    "curl/8.5.0",
    "Wget/1.21.4",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
]


@pytest.mark.parametrize("user_agent", HUMANS)
def test_browsers_are_not_bots(user_agent):
    assert not is_bot(user_agent)


@pytest.mark.parametrize("user_agent", BOTS)
def test_crawlers_previews_scripts_and_empty_agents_are_bots(user_agent):
    assert is_bot(user_agent)


def test_only_the_first_1024_characters_are_searched_so_the_time_is_bounded():
    padding = "Mozilla/5.0 " + "a" * 1100

    started = time.perf_counter()
    huge = is_bot("Mozilla/5.0 " + "a" * 8_000_000)
    took = time.perf_counter() - started

    assert huge is False
    assert took < 0.1  # the whole 8 MB took the regex 9 s
    assert is_bot(padding + " Googlebot/2.1") is False  # a marker past the first 1024 is not seen
    assert is_bot("Googlebot/2.1 " + padding) is True
