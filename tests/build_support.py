"""A small fixture site for the builder's tests, written into a temporary folder.

The three functional partials (Rewardful's snippet, the buy form, the referral script) are
the repository's own, so the tests exercise what ships; everything else is minimal.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONAL_PARTIALS = ("rewardful.html", "buy_form.html", "referral_script.html")
# The page of an alias (front matter `aliases:`), as the example site has it.
FUNCTIONAL_TEMPLATES = ("alias.html",)
# The bundled shortcodes (buy among them): the fixture site has them as the example site does.
SHORTCODES = sorted((ROOT / "templates" / "shortcodes").glob("*.html"))
API_KEY = "abc123"
ENDPOINT = "https://pay.shop.example/create-checkout-session"


def site_toml(rewardful_extra: str = "") -> str:
    """The fixture's config; ``rewardful_extra`` adds lines to ``[rewardful]``."""
    return f"""\
[site]
title = "Shop"
base_url = "https://shop.example"
description = "A shop."

[rewardful]
api_key = "{API_KEY}"
{rewardful_extra}

[checkout]
endpoint = "{ENDPOINT}"
success_url = "https://shop.example/thanks/"
cancel_url = "https://shop.example/"

[products.pro]
name = "Pro"
price_id = "price_ProMonthly"
mode = "subscription"
price_text = "$19 / month"
button_label = "Start Pro"

[products.team]
name = "Team"
price_id = "price_TeamSeat"
mode = "subscription"
price_text = "$12 / seat"
min_quantity = 2
max_quantity = 50
"""


BASE = """\
<!doctype html>
<html lang="{{ site.language }}">
<head>
<meta charset="utf-8">
{% include "partials/rewardful.html" %}
<title>{{ page.title }} | {{ site.title }}</title>
<meta name="description" content="{{ page.description }}">
<link rel="canonical" href="{{ page.absolute_url }}">
{% if feed_url -%}
<link rel="alternate" type="application/atom+xml" href="{{ feed_url | absolute }}">
{%- endif %}
</head>
<body>
<nav>{% for item in nav %}<a href="{{ item.url }}">{{ item.label }}</a>{% endfor %}</nav>
<main>{% block content %}{{ page.content }}{% endblock %}</main>
{% include "partials/referral_script.html" %}
</body>
</html>
"""

FILES = {
    "site.toml": site_toml(),
    "templates/base.html": BASE,
    "templates/page.html": '{% extends "base.html" %}\n',
    "templates/pricing.html": (
        '{% extends "base.html" %}\n{% block content %}'
        '{% for key in products %}<section id="{{ key }}">{{ buy_form(key) }}</section>'
        "{% endfor %}{% endblock %}\n"
    ),
    "templates/post.html": (
        '{% extends "base.html" %}\n{% block content %}'
        "<time>{{ page.date | format_date }}</time>{{ page.content }}{% endblock %}\n"
    ),
    "templates/blog.html": (
        '{% extends "base.html" %}\n{% block content %}<ul>'
        '{% for post in section_pages("blog") %}<li><a href="{{ post.url }}">{{ post.title }}</a>'
        "</li>{% endfor %}</ul>{% endblock %}\n"
    ),
    "content/index.md": "---\ntitle: Home\nmenu: Home\nmenu_order: 1\n---\nWelcome.\n",
    "content/pricing.md": "---\ntitle: Pricing\ntemplate: pricing\nmenu: Pricing\n---\n",
    "content/buy.md": (
        "---\ntitle: Buy\n---\nPick a plan.\n\n{{< buy team >}}\n\n"
        '{{< buy product="pro" label="Go Pro now" >}}\n'
    ),
    "content/about-us.md": "---\ntitle: About\nslug: team\n---\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    "content/404.md": "---\ntitle: Not found\n---\nNothing here.\n",
    "content/blog/index.md": "---\ntitle: Blog\n---\n",
    "content/blog/first.md": (
        "---\ntitle: First post\ndate: 2026-01-02\ndescription: The first.\n---\n"
        "![chart](../chart.svg)\n"
    ),
    "content/blog/second.md": "---\ntitle: Second <post>\ndate: 2026-03-04\n---\nMore.\n",
    "content/blog/unfinished.md": "---\ntitle: Unfinished\ndate: 2026-05-06\ndraft: true\n---\n",
    "content/blog/chart.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "static/css/site.css": "body { margin: 0 }\n",
}


def write_site(root: Path, changes: dict[str, str | None] | None = None) -> Path:
    """Write the fixture site into ``root``; ``changes`` replaces files (None deletes one)."""
    files = {**FILES, **(changes or {})}
    functional = [f"partials/{name}" for name in FUNCTIONAL_PARTIALS] + [*FUNCTIONAL_TEMPLATES]
    functional += [path.relative_to(ROOT / "templates").as_posix() for path in SHORTCODES]
    for name in functional:
        files.setdefault(
            f"templates/{name}", (ROOT / "templates" / name).read_text(encoding="utf-8")
        )
    for relative, text in files.items():
        if text is None:
            continue
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run_build(root: Path, *args: str, env: dict[str, str] | None = None):
    """Run ``python build.py`` on the site in ``root`` as a user would, from that folder."""
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--config", "site.toml", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def parse_xml(data: bytes) -> ET.Element:
    """Parse a generated XML file (our own output, so the stdlib parser is fine)."""
    return ET.fromstring(data)  # noqa: S314
