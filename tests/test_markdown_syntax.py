"""Markdown as people write it (GitHub, Hugo, editors): each construct rendered, then parsed.

The fixtures are written the way imported blog posts write them; every assertion reads the
parsed HTML, not substrings of it.
"""

from __future__ import annotations

import marshal

import markdown
import pytest
from bs4 import BeautifulSoup

from launchkit.errors import SiteError
from launchkit.site import markup
from launchkit.site.markdown_extensions import CssClassesOnly
from launchkit.site.markup import MarkdownRenderer, RenderedMarkdown
from launchkit.site.shortcodes import parse_shortcodes


@pytest.fixture(scope="module")
def renderer() -> MarkdownRenderer:
    return MarkdownRenderer()


def render(renderer: MarkdownRenderer, body: str) -> BeautifulSoup:
    return BeautifulSoup(renderer.render(body, source="content/post.md").html, "html.parser")


INSTALL_STEPS = """\
To install Beacon:

1. Download the CLI:

    ```sh
    # fetch the latest release -- it's signed
    curl -fsSL "https://get.beacon.example" | sh
    ```

2. Log in:
   ```bash
   beacon login --token 'abc'
   ```
3. Done -- that's it.
"""


def test_fenced_code_inside_list_items_is_code(renderer: MarkdownRenderer) -> None:
    soup = render(renderer, INSTALL_STEPS)

    items = soup.find("ol").find_all("li", recursive=False)
    assert len(items) == 3
    first, second = (item.find("code") for item in items[:2])
    # Code, verbatim: no smart quotes, no en dash, the shell comment is no heading.
    assert first.get_text().startswith("# fetch the latest release -- it's signed\n")
    assert "beacon login --token 'abc'" in second.get_text()
    assert soup.find("h1") is None
    assert "\u2013 that\u2019s it" in items[2].get_text()  # prose keeps its typography


def test_fenced_code_under_a_list_item_indented_too_little_is_still_code(
    renderer: MarkdownRenderer,
) -> None:
    # Python-Markdown wants 4 spaces for an item's content after a blank line: with 3 the
    # list ends, but the fence stays code (and the list goes on from 2).
    soup = render(renderer, "1. Install:\n\n   ```sh\n   # as root -- 'sudo'\n   ```\n\n2. Run\n")

    assert soup.find("code").get_text() == "# as root -- 'sudo'\n"
    assert soup.find("h1") is None and "```" not in soup.get_text()
    assert soup.find_all("ol")[-1]["start"] == "2"


def test_code_is_highlighted_with_classes_not_styles(renderer: MarkdownRenderer) -> None:
    soup = render(renderer, "```python\ndef greet(name):\n    return f'Hi {name}'\n```\n")

    block = soup.find("div", class_="highlight")
    assert "language-python" in block["class"]
    assert block.find("span", class_="k").get_text() == "def"  # Pygments' keyword class
    assert block.find("span", class_="nf").get_text() == "greet"
    assert soup.find(style=True) is None


def test_fence_with_attributes_does_not_swallow_the_prose_after_it(
    renderer: MarkdownRenderer,
) -> None:
    body = (
        "Run this:\n\n```text {class=disable-copy}\n$ beacon status\n```\n\n"
        "Then **check** the output.\n\n"
        '```go {linenos=table,hl_lines=[2,"4-5"],linenostart=10}\npackage main\n```\n\n'
        "And you're done.\n"
    )
    soup = render(renderer, body)

    codes = [code.get_text() for code in soup.find_all("code")]
    assert codes == ["$ beacon status\n", "package main\n"]
    paragraphs = [p.get_text() for p in soup.find_all("p", recursive=False)]
    assert paragraphs == ["Run this:", "Then check the output.", "And you\u2019re done."]
    assert soup.find("strong").get_text() == "check"


@pytest.mark.parametrize(
    ("body", "items"),
    [
        ("The core use-cases are:\n* backup\n* restore\n", ["backup", "restore"]),
        ("Steps:\n1. sign up\n2. invite your team\n", ["sign up", "invite your team"]),
        ("Pros:\n- fast\n- cheap\n\nCons: none.\n", ["fast", "cheap"]),
        ("> Why:\n> + speed\n> + price\n", ["speed", "price"]),
    ],
)
def test_a_list_right_under_a_line_of_text_is_a_list(
    renderer: MarkdownRenderer, body: str, items: list[str]
) -> None:
    soup = render(renderer, body)

    assert [li.get_text() for li in soup.find_all("li")] == items
    assert soup.find("p").get_text().rstrip(":") in (
        "The core use-cases are",
        "Steps",
        "Pros",
        "Why",
    )


def test_only_what_starts_a_list_interrupts_a_paragraph(renderer: MarkdownRenderer) -> None:
    body = (
        "Our best year was\n2024. Then came more.\n\nA wrapped line\n-not a bullet\n\n"
        "```yaml\nsteps:\n- build\n- test\n```\n"
    )
    soup = render(renderer, body)

    assert soup.find("li") is None  # "2024." starts no list, nor does "-not"
    assert soup.find("code").get_text() == "steps:\n- build\n- test\n"


def test_bare_urls_are_linked_outside_code(renderer: MarkdownRenderer) -> None:
    body = (
        "Docs at https://docs.beacon.example/start?ref=blog, or www.beacon.example. "
        "Mail sales@beacon.example.\n\n`https://not.linked.example` and\n\n"
        "    http://indented.example\n"
    )
    soup = render(renderer, body)

    links = {a["href"]: a.get_text() for a in soup.find_all("a")}
    assert links["https://docs.beacon.example/start?ref=blog"].endswith("ref=blog")
    assert "http://www.beacon.example" in links  # the trailing "." is prose
    assert any(href.startswith("mailto:") for href in links) or any(
        "sales@beacon.example" in text for text in links.values()
    )
    assert all("not.linked" not in href and "indented" not in href for href in links)


def test_task_lists_and_strikethrough(renderer: MarkdownRenderer) -> None:
    body = (
        "Launch plan:\n\n- [x] pricing page\n- [ ] ~~press kit~~ blog post\n\nAbout ~5 minutes.\n"
    )
    soup = render(renderer, body)

    boxes = soup.find_all("input", type="checkbox")
    assert [box.has_attr("checked") for box in boxes] == [True, False]
    assert all(box.has_attr("disabled") for box in boxes)
    assert soup.find("del").get_text() == "press kit"
    assert "About ~5 minutes." in soup.get_text()  # one tilde is prose


def test_smart_typography_never_touches_code(renderer: MarkdownRenderer) -> None:
    body = (
        'Use `--dry-run` and `"quoted"`... it\'s "safe" -- really.\n\n'
        "    indented 'code' -- too...\n\n~~~\nfenced \"code\" --- here\n~~~\n"
    )
    soup = render(renderer, body)

    codes = [code.get_text() for code in soup.find_all("code")]
    assert codes[:2] == ["--dry-run", '"quoted"']
    assert "indented 'code' -- too...\n" in codes
    assert 'fenced "code" --- here\n' in codes
    assert "it\u2019s \u201csafe\u201d \u2013 really" in soup.find("p").get_text()


# --- Jekyll's Liquid: warned about, by line --------------------------------------------------


def test_liquid_tags_outside_code_are_warned_about_by_line(renderer: MarkdownRenderer) -> None:
    body = (
        "Intro.\n\n{% include cta.html button='Try it' %}\n\n"
        "Posted on {{ site.title }} by {{ page.author | upcase }}.\n\n"
        "{% highlight ruby linenos %}\nputs 'hi'\n{% endhighlight %}\n\n"
        "```liquid\n{% include shown-as-code.html %}\n```\n\nInline `{{ also.code }}`.\n"
    )
    rendered = renderer.render(body, source="content/post.md", first_line=5)

    lines = [line for line, _ in rendered.warnings]
    assert lines == [7, 9, 9, 11, 13]
    include, *_, highlight, _ = (message for _, message in rendered.warnings)
    assert "{% include cta.html button='Try it' %}" in include and "shortcode" in include
    assert "fenced code block" in highlight
    # Published as text, not dropped.
    assert "{% include cta.html" in BeautifulSoup(rendered.html, "html.parser").get_text()


def test_shortcodes_are_no_liquid(renderer: MarkdownRenderer) -> None:
    rendered = renderer.render(
        "{{% note %}}\nHi\n{{% /note %}}\n\n{{< buy pro >}}\n", source="content/post.md"
    )
    assert rendered.warnings == ()


# --- Shortcode parsing: pure, by line -------------------------------------------------------


def test_shortcode_arguments_and_lines() -> None:
    body = (
        "Intro.\n\n"
        '{{< figure src="a b.png" caption=`raw "quoted"` alt=\'x\' >}}\n'
        'Text {{< youtube dQw4w9WgXcQ "A title" >}} inline.\n'
        "{{< gist someone 1234 />}}\n"
    )
    text, shortcodes, warnings = parse_shortcodes(body, source="content/p.md", first_line=4)

    figure, youtube, gist = shortcodes
    assert (figure.name, figure.line) == ("figure", 6)
    assert dict(figure.params) == {"src": "a b.png", "caption": 'raw "quoted"', "alt": "x"}
    assert (youtube.args, youtube.line) == (("dQw4w9WgXcQ", "A title"), 7)
    assert gist.args == ("someone", "1234") and gist.inner is None
    assert "Text launchkitshortcode1x inline." in text
    assert "{{" not in text and warnings == ()


def test_a_tag_may_span_lines() -> None:
    body = 'Photos:\n\n{{< gallery match="flickr/*"\n            rowHeight="150" >}}\n\nAfter.\n'
    text, shortcodes, _ = parse_shortcodes(body, source="content/p.md", first_line=10)

    (gallery,) = shortcodes
    assert dict(gallery.params) == {"match": "flickr/*", "rowHeight": "150"}
    assert gallery.line == 12
    assert text.split() == ["Photos:", "launchkitshortcode0x", "After."]


def test_paired_shortcodes_nest_and_keep_their_inner_content() -> None:
    body = (
        '{{< details summary="More" >}}\nRaw <b>HTML</b> {{< figure src="x.png" >}}\n'
        "{{< /details >}}\n\n{{% note %}}\nSome **Markdown**.\n{{% /note %}}\n"
    )
    text, shortcodes, _ = parse_shortcodes(body, source="content/p.md")

    details, figure, note = shortcodes
    assert details.inner == "\nRaw <b>HTML</b> launchkitshortcode1x\n"
    assert figure.name == "figure" and not figure.markdown
    assert note.markdown and note.inner is None
    # A {{% %}} pair's inner Markdown stays in the text, between its two placeholders.
    assert "launchkitshortcode2x\n\n\nSome **Markdown**.\n\n\nlaunchkitshortcode2y" in text


def test_shortcodes_in_code_and_escaped_ones_stay_text() -> None:
    body = (
        "`{{< buy pro >}}` in a span.\n\n```\n{{< buy pro >}}\n```\n\n"
        "Write {{</* buy pro */>}} to sell.\n"
    )
    text, shortcodes, _ = parse_shortcodes(body, source="content/p.md")

    assert shortcodes == ()
    assert text.count("{{< buy pro >}}") == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{{< /note >}}", "closing shortcode tag '/note' without an opening 'note'"),
        ('{{< figure src="x.png" "positional" >}}', "mixes positional and name=value"),
        ('{{< figure src="unclosed >}}', "cannot read the arguments"),
        ("{{< >}}", "a shortcode needs a name"),
        ("{{% note %}}\nx\n{{< /note >}}", "with other delimiters"),
    ],
)
def test_malformed_shortcodes_name_path_and_line(line: str, message: str) -> None:
    with pytest.raises(SiteError) as error:
        parse_shortcodes(f"Intro.\n\n{line}\n", source="content/p.md", first_line=5)

    assert error.value.location.startswith("content/p.md:")
    assert int(error.value.location.rsplit(":", 1)[1]) in (7, 9)
    assert message in error.value.message


def test_a_repeated_named_argument_is_a_warning_and_the_last_value_wins() -> None:
    _, shortcodes, warnings = parse_shortcodes(
        'Intro.\n\n{{< figure src="a.png" src="b.png" >}}\n', source="content/p.md", first_line=5
    )

    assert dict(shortcodes[0].params) == {"src": "b.png"}
    assert [line for line, _ in warnings] == [7]
    assert "'src' is given twice" in warnings[0][1]


def test_rendered_markdown_survives_the_cache_format(renderer: MarkdownRenderer) -> None:
    rendered = renderer.render(
        '{{< details summary="S" >}}x{{< /details >}}\n\n{% include x %}\n', source="c.md"
    )
    entry = marshal.loads(marshal.dumps(rendered.to_entry()))  # noqa: S302 - our own bytes

    assert RenderedMarkdown.from_entry(entry) == rendered


def test_the_classes_only_style_changes_no_byte_of_highlighted_code() -> None:
    """markdown_extensions.CssClassesOnly spares Pygments its inline-style table: the
    classes stay the same."""
    body = (
        INSTALL_STEPS
        + '\n```python hl_lines="2"\nimport os\nprint(os.sep, "x" -- 1)  # done\n```\n\n'
        + "```diff\n+ added\n- removed\n```\n\n    indented = 'code'\n"
    )
    extensions = list(markup.EXTENSIONS)
    configs = markup.extension_configs(pygments_style=CssClassesOnly)
    ours = markdown.markdown(body, extensions=extensions, extension_configs=configs)
    configs = markup.extension_configs(pygments_style="default")
    default = markdown.markdown(body, extensions=extensions, extension_configs=configs)

    assert ours == default
    assert '<span class="hll">' in ours and '<span class="gd">' in ours
