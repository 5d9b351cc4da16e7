"""Compiled templates carry what the cache layer knows of them (launchkit/site/compiled.py).

What compiling finds must be what Jinja's own analysis finds, for every template that ships;
the digest of the compiled code must ignore what cannot change output (comments, line
numbers) and nothing else; and no value of the config may be folded into the compiled code,
which is kept whatever the config.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import jinja2.meta
import pytest
from build_support import BASE, ROOT, site_toml, snapshot, write_site

from launchkit.config import load_config
from launchkit.site.builder import build_site
from launchkit.site.compiled import JINJA_GLOBALS, FactsEnvironment, bytecode_cache
from launchkit.site.render import Renderer
from launchkit.site.template_usage import page_keys_read

TEMPLATES = ROOT / "templates"


def shipped() -> list[str]:
    return sorted(path.relative_to(TEMPLATES).as_posix() for path in TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("name", shipped())
def test_the_facts_are_what_jinja_finds_in_the_template(name: str) -> None:
    """The names read, the templates pulled in and the page data keys of each shipped
    template, as compiling found them, against jinja2.meta on its own parse."""
    config = load_config(ROOT / "site.toml")
    facts = Renderer(config).env.facts(name)
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    plain.filters.update(Renderer(config).env.filters)  # the same filters compile
    tree = plain.parse(plain.loader.get_source(plain, name)[0])  # type: ignore[union-attr]
    assert facts.reads - JINJA_GLOBALS == jinja2.meta.find_undeclared_variables(tree)
    assert facts.pulls_in == tuple(dict.fromkeys(jinja2.meta.find_referenced_templates(tree)))
    assert facts.page_keys == page_keys_read(tree)


def code_of(source: str) -> str:
    env = FactsEnvironment(loader=jinja2.DictLoader({"t.html": source}), autoescape=True)
    return env.facts("t.html").code


@pytest.mark.parametrize(
    ("edited", "same"),
    [
        ("{# a comment\nover lines #}<p>{{ page.title }}</p>\n", True),  # the line moves down
        ("<p>{{page.title}}</p>\n", True),  # space inside a tag
        ("<p>{{ page.title }}</p>{# the end #}\n", True),
        ("<p>{{ page.title }}</p>\n\n", False),  # one more newline is output
        ("<p>{{ page.description }}</p>\n", False),
        ("<p>{{ page.title | upper }}</p>\n", False),
        ("<p>\n{{- page.title }}</p>\n", True),  # whitespace control: the same output
        ("<p>\n{{ page.title }}</p>\n", False),
    ],
)
def test_the_code_digest_changes_with_output_only(edited: str, same: bool) -> None:
    original = code_of("<p>{{ page.title }}</p>\n")
    assert (code_of(edited) == original) is same


def test_facts_come_back_from_the_bytecode_cache(tmp_path: Path) -> None:
    """A second environment on the same folder loads the template compiled, with its facts,
    and does not parse it again."""
    loader = jinja2.DictLoader({"t.html": "{% include 'p.html' %}{{ site.title }}", "p.html": ""})
    first = FactsEnvironment(loader=loader, bytecode_cache=bytecode_cache(tmp_path / "c"))
    second = FactsEnvironment(loader=loader, bytecode_cache=bytecode_cache(tmp_path / "c"))
    parsed = []
    second._parse = lambda *args: parsed.append(args)  # type: ignore[method-assign]
    facts = first.facts("t.html")
    assert (facts.reads, facts.pulls_in) == ({"site"}, ("p.html",))
    assert second.facts("t.html") == facts
    assert parsed == []


def test_a_filter_folded_into_the_code_follows_the_config(tmp_path: Path) -> None:
    """Jinja applies its filters to constants while compiling, but not launchkit's: the base
    URL of {{ "/x/" | absolute }} is the config's, not the one the template was compiled
    with (until launchkit's filters were kept from it, even a clean build showed the old
    one)."""
    page = (
        '{% extends "base.html" %}{% block content %}'
        '<a href="{{ "/x/" | absolute }}">x</a>{% endblock %}\n'
    )
    root = write_site(tmp_path, {"templates/page.html": page})
    build_site(load_config(root / "site.toml"), root / "public")
    assert 'href="https://shop.example/x/"' in (root / "public/index.html").read_text()
    moved = site_toml().replace("https://shop.example", "https://moved.example")
    (root / "site.toml").write_text(moved, encoding="utf-8")
    build_site(load_config(root / "site.toml"), root / "public")
    build_site(load_config(root / "site.toml"), root / "clean", clean=True)
    assert 'href="https://moved.example/x/"' in (root / "public/index.html").read_text()
    assert snapshot(root / "public") == snapshot(root / "clean")
    # One folder of compiled templates, whatever the config.
    assert len(list((root / ".cache/build/templates").iterdir())) == 1


def test_a_link_warning_follows_its_template_line_when_no_page_is_made_again(
    tmp_path: Path,
) -> None:
    """A comment above a broken link in the layout changes no page, but the warning names
    the link's new line, as a clean build does."""
    base = BASE.replace("<main>", '<a href="/nowhere/">x</a>\n<main>')
    root = write_site(tmp_path, {"templates/base.html": base})
    line = base.splitlines().index('<a href="/nowhere/">x</a>') + 1
    first = build_site(load_config(root / "site.toml"), root / "public")
    assert {w.line for w in first.warnings if "nowhere" in w.message} == {line}
    (root / "templates/base.html").write_text("{# a comment\n#}" + base, encoding="utf-8")
    again = build_site(load_config(root / "site.toml"), root / "public")
    clean = build_site(load_config(root / "site.toml"), root / "clean", clean=True)
    assert again.rendered == 0
    assert {w.line for w in again.warnings if "nowhere" in w.message} == {line + 1}
    assert again.warnings == clean.warnings
