"""Patterns tried only where a match can begin (launchkit/site/scan.py) find what a plain
``re`` search finds: the fingerprinted references of a document and its ids, over random
texts made of the pieces that matter to them."""

from __future__ import annotations

import html
import random
import re
from urllib.parse import urljoin

from launchkit.site.assets import _RELATIVE_ATTRIBUTE, _SUFFIX, Assets
from launchkit.site.linkcheck import _ID, extract_links

SEED = 20261201
BASE_URL = "https://beacon.example/"
URLS = {
    "/css/site.css": "/css/site.1234abcd.css",
    "/images/logo.svg": "/images/logo.12ab34cd.svg",
    "/blog/chart.svg": "/blog/chart.0f0f0f0f.svg",
    "/css/x.CSS": "/css/x.99999999.CSS",
}
PIECES = (
    *("/css/site.css", "css/site.css", "../css/site.css", "chart.svg", "/css/x.CSS"),
    *("https://beacon.example", "HTTPS://Beacon.Example", "/images/logo.svg"),
    *(' id="', '="', "href", "src", "poster", "SRC", "id", "id=", '"', "'", " ", "\n", "\u2003"),
    *("(", ")", ",", ";", "=", "#", "?", "x", "a:", ".css", ".svg", "/", "&amp;", "-", "."),
    *("<img ", "<a ", "<p ", ">"),
)
# The specification: the patterns as one plain search each would apply them.
_REFERENCE = re.compile(
    rf"(?<=[\"'(=\s,;])({re.escape(BASE_URL.rstrip('/'))})?"
    rf"(/[^\"'()\s,?#&<>]+{_SUFFIX})(?![\w.-])",
    re.IGNORECASE,
)


def plain_rewrite(assets: Assets, text: str, base: str) -> str:
    def relative(match: re.Match[str]) -> str:
        path, _, rest = match[2].partition("#")
        hashed = assets.urls.get(urljoin(base, html.unescape(path)))
        if hashed is None:
            return match[0]
        return f'{match[1]}="{hashed}{"#" + rest if rest else ""}"'

    text = _RELATIVE_ATTRIBUTE.sub(relative, text)
    return _REFERENCE.sub(lambda m: (m[1] or "") + URLS[m[2]] if m[2] in URLS else m[0], text)


def random_texts(count: int):
    rng = random.Random(SEED)
    for _ in range(count):
        yield "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))


def test_rewritten_references_are_those_a_plain_search_finds() -> None:
    assets = Assets(base_url=BASE_URL, urls=dict(URLS))
    rewritten = 0
    for text in random_texts(20000):
        for base in ("/", "/blog/post/"):
            expected = plain_rewrite(assets, text, base)
            assert assets.rewrite_urls(text, base) == expected, (SEED, text, base)
            rewritten += expected != text
    assert rewritten > 1000  # the texts did hold references to rewrite


def test_ids_are_those_a_plain_search_finds() -> None:
    found = 0
    for text in random_texts(20000):
        expected = frozenset(html.unescape(value) for value in _ID.findall(text))
        assert extract_links(text.encode())[1] == expected, (SEED, text)
        found += bool(expected)
    assert found > 1000
