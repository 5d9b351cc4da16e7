"""Shortcodes as templates (templates/shortcodes/NAME.html), through real builds.

The fixture site carries the bundled shortcodes, as the example site does; each test builds
it with pages that use them and reads the parsed HTML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from build_support import ENDPOINT, write_site

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import BuildReport, build_site
from launchkit.site.refs import BUILTIN_SHORTCODES

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(
    path.stem
    for path in (ROOT / "templates" / "shortcodes").glob("*.html")
    if not path.stem.startswith("_")
)


def build_page(tmp_path: Path, body: str, **files: str) -> tuple[BeautifulSoup, BuildReport]:
    """Build the fixture site with ``content/post.md`` holding ``body`` (from line 4)."""
    changes = {"content/post.md": f"---\ntitle: Post\n---\n{body}", **files}
    root = write_site(tmp_path, changes)
    report = build_site(load_config(root / "site.toml"), root / "public")
    html = (root / "public" / "post" / "index.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser").find("main"), report


def build_error(tmp_path: Path, body: str, **files: str) -> SiteError:
    with pytest.raises(SiteError) as error:
        build_page(tmp_path, body, **files)
    return error.value


def third_party_code(main: BeautifulSoup) -> list[str]:
    """Scripts, and anything a browser loads at once from another host."""
    found = [str(script) for script in main.find_all("script")]
    for tag in main.find_all(["img", "link", "embed", "object"]):
        url = tag.get("src") or tag.get("href") or ""
        if url.startswith(("http:", "https:", "//")):
            found.append(str(tag))
    return found


def test_the_bundled_shortcodes() -> None:
    assert BUNDLED == [
        "buy", "callout", "details", "figure", "gist", "highlight", "note", "tweet", "vimeo", "x",
        "youtube",
    ]  # fmt: skip


def test_buy_renders_the_buy_form_contract(tmp_path: Path) -> None:
    main, _ = build_page(tmp_path, 'Pick one.\n\n{{< buy pro "Start now" >}}\n')

    form = main.find("form", class_="buy-form")
    assert form["action"] == ENDPOINT and form.has_attr("data-rewardful")
    assert form.find("input", attrs={"name": "product"})["value"] == "pro"
    assert form.find("button").get_text() == "Start now"
    assert form.parent.name == "main"  # alone on its line: a block, not inside a <p>


@pytest.mark.parametrize(
    ("shortcode", "message"),
    [
        ("{{< buy gold >}}", "unknown product 'gold'"),
        ("{{< buy >}}", "needs a product key"),
        ('{{< buy pro "Label" extra >}}', "too many arguments: extra"),
        ('{{< buy product="pro" price="1" >}}', "unknown argument 'price'"),
    ],
)
def test_buy_errors_name_the_page_line(tmp_path: Path, shortcode: str, message: str) -> None:
    error = build_error(tmp_path, f"Intro.\n\n{shortcode}\n")

    assert error.location.endswith("content/post.md:6")
    assert message in error.message


def test_youtube_loads_nothing_from_youtube_until_clicked(tmp_path: Path) -> None:
    main, _ = build_page(
        tmp_path, '{{< youtube id="dQw4w9WgXcQ" title="Beacon in 2 minutes" start="30" >}}\n'
    )

    iframe = main.find("figure", class_="video-embed").find("iframe")
    player = "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?autoplay=1&start=30"
    assert iframe["src"] == player
    assert iframe["title"] == "Beacon in 2 minutes"
    # The browser shows the srcdoc (served with the page), not src: a link to the player.
    poster = BeautifulSoup(iframe["srcdoc"], "html.parser")
    assert poster.find("a")["href"] == player
    assert "Beacon in 2 minutes" in poster.get_text()
    assert third_party_code(poster) == [] and third_party_code(main) == []
    assert main.find("figcaption").a["href"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def test_vimeo_positional_id(tmp_path: Path) -> None:
    main, _ = build_page(tmp_path, "{{< vimeo 146022717 >}}\n")

    iframe = main.find("iframe")
    assert iframe["src"] == "https://player.vimeo.com/video/146022717?dnt=1&autoplay=1"
    assert BeautifulSoup(iframe["srcdoc"], "html.parser").a["href"] == iframe["src"]
    assert third_party_code(main) == []


def test_figure_with_hugo_arguments(tmp_path: Path) -> None:
    main, _ = build_page(
        tmp_path,
        '{{< figure src="/images/chart.svg" alt="Sales by month" caption="Up 40 %" '
        'link="/pricing/" width="600" attr="Beacon" attrlink="/about/" >}}\n',
    )

    figure = main.find("figure")
    image = figure.find("img")
    assert (image["src"], image["alt"], image["width"]) == (
        "/images/chart.svg",
        "Sales by month",
        "600",
    )
    assert image.parent.name == "a" and image.parent["href"] == "/pricing/"
    caption = figure.find("figcaption")
    assert "Up 40 %" in caption.get_text() and caption.find("a")["href"] == "/about/"


def test_gist_and_x_are_links_without_third_party_scripts(tmp_path: Path) -> None:
    body = (
        "{{< gist spf13 7896402 img.html >}}\n\n"
        '{{< x user="beacon" id="1453110110599868418" >}}\n\n'
        '{{< tweet user="beacon" id="42" >}}Launch day!{{< /tweet >}}\n'
    )
    main, _ = build_page(tmp_path, body)

    assert main.find("p", class_="gist-link").a["href"] == (
        "https://gist.github.com/spf13/7896402#file-img-html"
    )
    first, second = main.find_all("blockquote", class_="social-post")
    assert first.a["href"] == "https://x.com/beacon/status/1453110110599868418"
    assert second.p.get_text() == "Launch day!"
    assert third_party_code(main) == []


def test_paired_inner_content_raw_or_markdown(tmp_path: Path) -> None:
    body = (
        '{{< details summary="Raw inside" >}}<em>kept</em> **as written**{{< /details >}}\n\n'
        '{{% details summary="Markdown inside" open=true %}}\n'
        "Some **bold** and a [link](/pricing/).\n\n"
        "```sh\nbeacon --help\n```\n"
        "{{% /details %}}\n\n"
        '{{% callout type="warning" title="Heads up" %}}\nMind the **gap**.\n{{% /callout %}}\n\n'
        "{{% note %}}A note with `code`.{{% /note %}}\n"
    )
    main, _ = build_page(tmp_path, body)

    raw, rendered = main.find_all("details")
    assert raw.find("em").get_text() == "kept" and "**as written**" in raw.get_text()
    assert not raw.has_attr("open") and rendered.has_attr("open")
    assert rendered.summary.get_text() == "Markdown inside"
    assert rendered.find("strong").get_text() == "bold"
    assert rendered.find("code").get_text() == "beacon --help\n"
    warning, note = main.find_all("aside", class_="callout")
    assert "callout--warning" in warning["class"]
    assert warning.find(class_="callout__title").get_text() == "Heads up"
    assert warning.find("strong").get_text() == "gap"
    assert "callout--note" in note["class"] and note.code.get_text() == "code"


def test_hugo_highlight_shows_its_code_escaped(tmp_path: Path) -> None:
    body = (
        '{{< highlight html "linenos=table" >}}\n<a href="/">{{ .Title }}</a>\n{{< /highlight >}}\n'
    )
    main, _ = build_page(tmp_path, body)

    block = main.find("div", class_="language-html")
    assert block.find("code").get_text() == '<a href="/">{{ .Title }}</a>\n'
    assert block.find("a") is None


def test_inline_shortcode_stays_in_its_paragraph(tmp_path: Path) -> None:
    main, _ = build_page(
        tmp_path,
        "Prices start at {{< price pro >}} a month.\n",
        **{"templates/shortcodes/price.html": "{{ products[shortcode.get(0)].price_text }}"},
    )

    paragraph = main.find("p")
    assert paragraph.get_text().startswith("Prices start at ")
    assert paragraph.get_text().endswith(" a month.")
    assert "launchkitshortcode" not in str(main)


def test_a_site_adds_its_own_shortcode(tmp_path: Path) -> None:
    template = (
        '<div class="pricing-cta" data-plan="{{ shortcode.get("plan") }}">'
        "{{ shortcode.inner }}<p>{{ shortcode.position }}</p></div>\n"
    )
    main, _ = build_page(
        tmp_path,
        'Intro.\n\n{{< cta plan="team" >}}<b>Talk to us</b>{{< /cta >}}\n',
        **{"templates/shortcodes/cta.html": template},
    )

    cta = main.find("div", class_="pricing-cta")
    assert cta["data-plan"] == "team"
    assert cta.b.get_text() == "Talk to us"
    assert cta.p.get_text() == "content/post.md:6"


def test_unknown_shortcode_names_the_line_the_known_ones_and_the_closest(tmp_path: Path) -> None:
    error = build_error(tmp_path, "Intro.\n\n{{< yotube abc >}}\n")

    assert error.location.endswith("content/post.md:6")
    assert error.message == "unknown shortcode 'yotube'"
    assert "did you mean 'youtube'?" in error.hint
    known = sorted([*BUNDLED, *BUILTIN_SHORTCODES])  # ref, relref and param are built in
    assert ", ".join(known) in error.hint


def test_error_inside_a_shortcode_template_names_template_and_page_lines(tmp_path: Path) -> None:
    template = "<div>\n{{ shortcode.get('x').upper() }}\n</div>\n"
    error = build_error(
        tmp_path,
        "Intro.\n\nText.\n\n{{< broken >}}\n",
        **{"templates/shortcodes/broken.html": template},
    )

    assert error.location.endswith("templates/shortcodes/broken.html:2")
    assert "content/post.md:8" in error.hint


def test_a_shortcode_template_change_rebuilds_its_pages(tmp_path: Path) -> None:
    template = "<p class='sig'>{{ shortcode.get(0) }}</p>\n"
    changes = {
        "content/post.md": "---\ntitle: Post\n---\n{{< sig Ann >}}\n",
        "templates/shortcodes/sig.html": template,
    }
    root = write_site(tmp_path, changes)
    config = load_config(root / "site.toml")
    build_site(config, root / "public")
    (root / "templates/shortcodes/sig.html").write_text(template.replace("sig", "sign"), "utf-8")
    build_site(load_config(root / "site.toml"), root / "public")

    html = (root / "public/post/index.html").read_text(encoding="utf-8")
    assert "class='sign'" in html


def test_liquid_tags_become_build_warnings_with_path_and_line(tmp_path: Path) -> None:
    _, report = build_page(tmp_path, "Intro.\n\n{% include signup.html %}\n")

    warnings = [str(warning) for warning in report.warnings]
    assert any(
        warning.startswith("content/post.md:6: warning: Liquid template syntax")
        for warning in warnings
    ), warnings
