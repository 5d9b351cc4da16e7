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
from launchkit.site.compiled import (
    JINJA_GLOBALS,
    FactsEnvironment,
    bytecode_cache,
    compiled_folder,
)
from launchkit.site.context import BuildContext
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


# --- includes rendered once per environment (FactsEnvironment.included) -------------------

# Each case: templates (page.html is rendered once per page) in which an include's output
# depends on the page in some way, beside partials that depend on globals only.
_INCLUDE_CASES = {
    "reads the page": {"page.html": "{% include 'p.html' %}", "p.html": "{{ page.title }}"},
    "pulls in one that reads it": {
        "page.html": "{% include 'p.html' %}",
        "p.html": "<b>{% include 'q.html' %}</b>{{ site }}",
        "q.html": "{{ page.title }}",
    },
    "imports a macro reading it": {
        "page.html": "{% include 'p.html' %}",
        "p.html": "{% from 'm.html' import t with context %}{{ t() }}",
        "m.html": "{% macro t() %}{{ page.title }}{% endmacro %}",
    },
    "a with shadows a global": {
        "page.html": "{% with site = page.title %}{% include 'p.html' %}{% endwith %}",
        "p.html": "{{ site }}",
    },
    "a set shadows a global": {
        "page.html": "{% set site = page.title %}{% include 'p.html' %}",
        "p.html": "{{ site }}",
    },
    "a loop variable": {
        "page.html": "{% for site in [page.title] %}{% include 'p.html' %}{% endfor %}",
        "p.html": "{{ site }}",
    },
    "a function given the context": {
        "page.html": "{% include 'p.html' %}",
        "p.html": "{{ title_of() }}",
    },
    "a name the includer sets for it": {
        "page.html": "{% with who = page.title %}{% include 'p.html' %}{% endwith %}"
        "{% include 'p.html' %}",
        "p.html": "{{ who | default('nobody') }}{% include 'logo.html' %}",
        "logo.html": "{{ site }}",
    },
    "an expression names the include": {
        "page.html": "{% include 'p.html' %}",
        "p.html": "{% include page.partial %}",
        "a.html": "A{{ site }}",
        "b.html": "B{{ site }}",
    },
}


@jinja2.pass_context
def _title_of(context: jinja2.runtime.Context) -> str:
    return context["page"]["title"]


def _render_pages(env: jinja2.Environment) -> list[str]:
    env.globals.update(site="Site", title_of=_title_of)
    pages = [{"title": "One", "partial": "a.html"}, {"title": "Two", "partial": "b.html"}]
    return [env.get_template("page.html").render(page=page) for page in pages * 2]


@pytest.mark.parametrize("case", sorted(_INCLUDE_CASES))
def test_an_include_that_depends_on_the_page_is_rendered_for_each(case: str) -> None:
    """Each page's output is what Jinja's own environment renders: an include is given
    again only when nothing it reads can differ from page to page."""
    loader = jinja2.DictLoader(_INCLUDE_CASES[case])
    ours = _render_pages(FactsEnvironment(loader=loader, autoescape=True))
    assert ours == _render_pages(jinja2.Environment(loader=loader, autoescape=True))
    assert ours[0] != ours[1]


def test_an_include_of_globals_is_rendered_once_until_a_global_changes() -> None:
    """The footer reads globals only: rendered for the first page, given again for the
    others; a new value of a global it reads (a preview's next build) renders it again."""
    rendered = []

    def footer_text(text: str) -> str:
        rendered.append(text)
        return text

    templates = {"page.html": "{{ page }}|{% include 'f.html' %}", "f.html": "{{ mark(site) }}"}
    env = FactsEnvironment(loader=jinja2.DictLoader(templates), autoescape=True)
    env.globals.update(site="First", mark=footer_text)
    page = env.get_template("page.html")
    assert [page.render(page=n) for n in (1, 2, 3)] == ["1|First", "2|First", "3|First"]
    assert rendered == ["First"]
    env.globals["site"] = "Second"
    assert page.render(page=4) == "4|Second"
    assert rendered == ["First", "Second"]


def test_a_menu_edit_shows_in_the_footer_of_a_kept_renderer(tmp_path: Path) -> None:
    """The preview keeps its renderer (and so its included footers) while the templates
    and config are the same: a page's new menu label must reach every page's navigation
    and footer, as in a clean build."""
    about = "---\ntitle: About\nmenu: About us\n---\nAbout.\n"
    layout = {f"templates/{name}": (TEMPLATES / name).read_text() for name in shipped()}
    root = write_site(tmp_path, {**layout, "content/about.md": about})
    context = BuildContext()
    config = load_config(root / "site.toml")
    build_site(config, root / "public", context=context)
    (root / "content/about.md").write_text(about.replace("About us", "Who we are"))
    build_site(config, root / "public", context=context, changed=[root / "content/about.md"])
    build_site(config, root / "clean", clean=True)
    footer = (root / "public/index.html").read_text().split("<footer")[1]
    assert "Who we are" in footer
    assert snapshot(root / "public") == snapshot(root / "clean")


# What launchkit gives templates. A reused include skips the calls its render would make, so
# each must record nothing when called: a pure function of its arguments (or, buy_form,
# memoised by them), or an object whose attributes templates read. What a page used is found
# from its output (links, assets, images) and from the compiled templates' facts (names and
# page keys read), never recorded while rendering. A new name fails the test below until it
# is checked and added here.
_PURE_FOR_TEMPLATES = {
    "globals": {
        *("balanced_columns", "buy_form", "config", "feed_url", "footer_links"),
        *("hero_actions", "nav", "pages", "products", "rewardful", "section_pages", "site"),
        *("social_image", "structured_data", "theme"),
    },
    "filters": {"absolute", "format_date", "responsive_tables", "term_url"},
    "tests": set(),
}


def test_what_templates_can_call_is_known_to_record_nothing(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    context = BuildContext()
    build_site(load_config(root / "site.toml"), root / "public", context=context)
    assert context.renderer is not None
    env = context.renderer[1].env
    given = {
        "globals": set(env.globals) - set(jinja2.defaults.DEFAULT_NAMESPACE),
        "filters": set(env.filters) - set(jinja2.defaults.DEFAULT_FILTERS),
        "tests": set(env.tests) - set(jinja2.defaults.DEFAULT_TESTS),
    }
    assert given == _PURE_FOR_TEMPLATES


def test_the_compiled_folder_follows_the_compilers_code(tmp_path: Path) -> None:
    """The same code gives the same folder in every process; other code another."""
    first = compiled_folder(tmp_path, "code")
    assert compiled_folder(tmp_path, "code") == first
    assert compiled_folder(tmp_path, "other code") != first


def _plain() -> FactsEnvironment:
    return FactsEnvironment(autoescape=True)


def _trimmed() -> FactsEnvironment:
    environment = _plain()
    environment.trim_blocks = True
    return environment


def _unescaped() -> FactsEnvironment:
    return FactsEnvironment(autoescape=False)


def _with_filter() -> FactsEnvironment:
    environment = _plain()
    environment.add_filters(shout=str.upper)
    return environment


def _with_filter_put_straight() -> FactsEnvironment:
    environment = _plain()
    environment.filters["shout"] = str.upper
    return environment


@pytest.mark.parametrize("other", [_trimmed, _unescaped, _with_filter, _with_filter_put_straight])
def test_a_template_is_compiled_again_in_other_settings(tmp_path: Path, other) -> None:
    """A template compiled in one environment is loaded from the cache by one of the same
    settings, and compiled again by one of other syntax, options or filters (Jinja checks
    filter names and passes while compiling, and folds the filters not given the context),
    however they were set: the settings are read when the template is loaded."""
    loader = jinja2.DictLoader({"t.html": "{% if 1 %}\n{{ site }}{% endif %}"})

    def parsed_in(environment: FactsEnvironment) -> bool:
        environment.loader = loader
        environment.bytecode_cache = bytecode_cache(compiled_folder(tmp_path, "code"))
        parsed = []
        original = environment._parse
        environment._parse = lambda *args: parsed.append(args) or original(*args)  # type: ignore[method-assign]
        environment.get_template("t.html")
        return bool(parsed)

    assert parsed_in(_plain())
    assert not parsed_in(_plain())
    assert parsed_in(other())
    assert not parsed_in(other())


def test_a_filter_put_straight_into_the_environment_is_in_the_key(tmp_path: Path) -> None:
    """A filter put into ``env.filters`` directly, after the renderer set its compiled
    templates' cache: Jinja folds it into the code (``"abc" | shout`` compiles to a
    constant), so a renderer whose ``shout`` is another function compiles the template
    again rather than loading the other's constant."""
    root = write_site(tmp_path / "site", {"templates/shout.html": '{{ "abc" | shout }}'})
    config = load_config(root / "site.toml")
    outputs = []
    for function in (str.upper, str.lower, str.upper):
        renderer = Renderer(config, compiled_dir=tmp_path / "compiled", compiler_code="code")
        renderer.env.filters["shout"] = function
        outputs.append(renderer.env.get_template("shout.html").render())
    assert outputs == ["ABC", "abc", "ABC"]
