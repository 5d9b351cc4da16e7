"""MarkdownRenderer's inline fast path gives exactly what plain Python-Markdown gives.

The renderer skips each inline pattern whose required literal is absent from the text, and a
whole inline pass when no text of the tree holds one (launchkit/site/markup.py,
_REQUIRED_LITERALS). A wrong entry would silently drop emphasis, a
link or a smart quote somewhere, so every test here renders the same text twice, through the
renderer and through an untouched ``markdown.Markdown`` with the same extensions, and demands
the same HTML and table of contents: on the example site, on a generated corpus, and on
many small fuzzed bodies made of the characters the table is about. The same goes for the
renderer's memory of Pygments lexers (markdown_extensions.cache_lexer_lookups) and its block
parsing fast path (markup._speed_up_block_processing, which also skips each block processor
whose required literal is absent from the block: _BLOCK_REQUIRED_LITERALS, whose entries are
also checked one by one), its tree and postprocessors that pass over text lacking what they
search for (markup._speed_up_tree_and_postprocessing), and for its extensions found by
module rather than through Python-Markdown's entry-point lookup
(markdown_extensions.NamedExtensionsMarkdown).
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree as etree

import markdown
import pytest
from markdown.treeprocessors import InlineProcessor

from bench.corpus import generate_corpus, split_front_matter
from launchkit.site import markup
from launchkit.site.markup import MarkdownRenderer
from launchkit.site.shortcodes import parse_shortcodes

ROOT = Path(__file__).resolve().parent.parent
CORPUS_PAGES = 60
# Enough to catch any one entry of the table made to skip its pattern always: some body
# among the first 500 then differs, for each entry (checked once by hand).
FUZZ_BODIES = 1500

# Text fragments around every literal of the table, in the combinations that trip up smarty
# and emphasis: joined with and without spaces, they put quotes, dashes and delimiters at the
# start, middle and end of words, lines and text nodes.
FUZZ_TOKENS = (
    "word", "Beacon", "it's", "'80s", "rock 'n' roll", "'quoted'", '"double"', 'said "so"',
    "'", '"', "''", '""', "'\"", "\"'", "'\"Hi\"'", "\"'Hi'\"", "' ", '" ', "('", '("', "['",
    "-", "--", "---", "----", "..", "...", "....", "<<", ">>",
    "`code`", "`it's \"x\"`", "``a ` b``", "`", "\\\\", "\\*", "\\_", "\\`", "\\[", "\\'",
    "[link](/x \"title\")", "[ref][r]", "[r]", "[^1]", "[^2]", "![img](a.png)", "![alt][i]",
    "![i]", "<https://auto.link>", "<mail@x.org>", "<span>html</span>", "<b>", "</b>",
    "<!-- c -->", "&amp;", "&copy;", "&#8212;", "&#x41;", "& ", "&nbsp;", "\u00a0",
    "*em*", "**strong**", "***both***", "*", "**", "_u_", "__uu__", "_", "snake_case_name",
    "2*3*4", "HTML", "  \n", "\n", "x",
    # magiclink (bare URLs and mail addresses, any casing of "www.") and tilde's ~~
    "https://beacon.example/a_b?q='x'--y", "www.example.com", "WwW.Example.org", "WWW.",
    "HTTP://UP.CASE/x", "ftp://files.example", "(https://in.paren)", "://", "//", ":",
    "sales@beacon.example", "a@b", "@", "~~gone~~", "~~", "~", "~5 min", "~one~", "~~a ~ b~~",
    # link targets that upstream's walk reads character by character (markup._quick_link)
    "[a](/b)", "[a]( /b )", "[a](/b(c))", "[a](/b 'T')", '[a](/b "T")', "[a](/b\\))",
    "[a](<b c> 'd')", '[a](/b"c)', "[a](/b'c\"d')", "[[n]](/x)", "[a]]", "](", "(", ")",
    # the block table's literals (markup._BLOCK_REQUIRED_LITERALS), also starting a line
    "|", "#", "=", "\n=", "\n-", ">", "\n>", ":", "\n: ", "]:", "[^", "*[", "\n#",
)  # fmt: skip
FUZZ_BLOCKS = (
    "",
    "## {}",
    "### {} {{: #custom .cls }}",
    "- {}\n- {}",
    "1. {}\n2. {}",
    "> {}",
    "| {} | {} |\n| --- | --- |\n| {} | {} |",
    "Term {}\n:   {}",
    "```\n{} 'x' -- ...\n```",
    "{}\n{{: .lead }}",
    '<div markdown="1">\n{}\n</div>',
    "[TOC]",  # the toc marker, searched for only when the text holds it
    "\\[TOC\\] {}",
    "- [ ] {}\n- [x] {}",  # task list
    "{}:\n* {}\n* {}",  # a list right under a line of text
    "{}\n1. {}\n2. {}",
    "1. {}\n    ```sh\n    {} -- 'x'\n    ```\n2. {}",  # fenced code in a list item
    "```text {{class=disable-copy}}\n{} -- ...\n```",
    # around the block table (markup._BLOCK_REQUIRED_LITERALS): headers, rules, quotes,
    # tables, definitions, each also as a near miss
    "{}\n===", "{}\n---", "{}\n= x", "{}\n-x", "* * *", "___", "- - -", "--", "**",
    "#{}", "{} # {}", "###### {} ###", "####### {}", "> {}\n{}", "{}\n> {}", "{} > {}",
    "{} | {}\n--- | ---", "{} | {}\n{}", "`a|b` {}\n---|---", "|{}|\n|-|",
    "Term\n: {}", "{} : {}", "[x]: /x\n{}", "{}\n[y]: /y 'Y'", "[x] : {}",
    "{}\n[^3]: {}", "[^4] {}", "*[ABC]: {}", "*[ {}",
)  # fmt: skip
FUZZ_DEFINITIONS = (
    "[r]: /ref \"Ref 'title'\"",
    "[i]: /i.png",
    "[^1]: A *footnote* with 'quotes' -- and `code`.",
    '[^2]: Another -- "one"...',
    "*[HTML]: Hyper 'Text' Markup Language",
)


def _plain_markdown() -> markdown.Markdown:
    """Python-Markdown as the renderer configures it, without any of its speed-ups."""
    return markdown.Markdown(
        extensions=list(markup.EXTENSIONS),
        extension_configs=markup.EXTENSIONS,
        output_format="html",
    )


def _differences(bodies: Iterable[str]) -> list[str]:
    """The bodies whose HTML or table of contents differs between renderer and plain."""
    renderer = MarkdownRenderer()
    plain = _plain_markdown()
    different = []
    for body in bodies:
        rendered = renderer.render(body, source="test.md")
        text, _, _ = parse_shortcodes(body, source="test.md")
        expected_html = plain.reset().convert(text)
        if (rendered.html, rendered.toc) != (expected_html, plain.toc):  # type: ignore[attr-defined]
            different.append(body)
    return different


def _fuzz_text(rng: random.Random, count: int) -> str:
    """``count`` tokens, glued by nothing, a space or a newline."""
    return "".join(rng.choice(FUZZ_TOKENS) + rng.choice(("", " ", " ", "\n")) for _ in range(count))


def _fuzz_body(rng: random.Random) -> str:
    """A few blocks of fuzzed text, sometimes followed by reference and footnote definitions."""
    blocks = []
    for _ in range(rng.randint(1, 3)):
        block = rng.choice(FUZZ_BLOCKS) or "{}"
        texts = [_fuzz_text(rng, rng.randint(1, 8)) for _ in range(block.count("{}"))]
        blocks.append(block.format(*texts))
    blocks += rng.sample(FUZZ_DEFINITIONS, rng.randint(0, len(FUZZ_DEFINITIONS)))
    return "\n\n".join(blocks) + "\n"


def _fuzz_bodies(count: int, seed: int = 20240611) -> list[str]:
    """``count`` fuzzed bodies, the same on every run."""
    rng = random.Random(seed)
    return [_fuzz_body(rng) for _ in range(count)]


def test_the_fast_path_is_installed_on_every_inline_processor() -> None:
    assert markup.inline_fast_path_possible(), (
        "Python-Markdown changed: check each entry of markup._REQUIRED_LITERALS against its "
        "regexes, then update _REQUIRED_LITERALS_CHECKED_FOR"
    )
    processors = [
        processor
        for processor in MarkdownRenderer()._markdown.treeprocessors
        if isinstance(processor, InlineProcessor)
    ]

    assert len(processors) == 2  # the core inline patterns (with magiclink, tilde), and smarty's
    for processor in processors:
        assert "_InlineProcessor__handleInline" in vars(processor), processor
        assert "_InlineProcessor__processPlaceholders" in vars(processor), processor
        # Every pattern of both has its literals: a tree without any is left as it is.
        assert "run" in vars(processor), processor


def test_the_block_fast_path_is_installed_with_every_processor_in_order() -> None:
    """What the comparisons below then check: the parser's frozen processors, and the
    remembered block-level answers (markup._speed_up_block_processing)."""
    renderer, plain = MarkdownRenderer()._markdown, _plain_markdown()

    assert isinstance(renderer.parser.blockprocessors, tuple)
    assert [type(p) for p in renderer.parser.blockprocessors] == [
        type(p) for p in plain.parser.blockprocessors
    ]
    assert "is_block_level" in vars(renderer)
    for tag in ("div", "DIV", "p/", "span", "pre", "custom-element", "", None):
        assert renderer.is_block_level(tag) == plain.is_block_level(tag), tag


def test_the_tree_and_postprocessing_fast_paths_are_installed() -> None:
    md = MarkdownRenderer()._markdown

    assert "run" in vars(md.preprocessors["normalize_whitespace"])
    assert "run" in vars(md.treeprocessors["unescape"])
    assert "run" in vars(md.treeprocessors["attr_list"])
    assert "run" in vars(md.postprocessors["raw_html"])  # md_in_html's subclass


def _does_nothing(processor: object, md: object = None) -> None:
    """A fast path gone wrong: its processor passes over every text."""
    processor.run = lambda first: first  # type: ignore[attr-defined]


def _keeps_lines_of_spaces(processor: object, md: markdown.Markdown) -> None:
    """The whitespace fast path gone wrong: upstream's steps, but lines of spaces kept."""

    def run(lines: list[str]) -> list[str]:
        source = "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n") + "\n\n"
        return source.expandtabs(md.tab_length).split("\n")

    processor.run = run  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fast_path", "wrong"),
    [
        ("_normalize_whitespace_quickly", _keeps_lines_of_spaces),
        ("_unescape_only_escaped_text", _does_nothing),
        ("_skip_attr_lists_without_braces", _does_nothing),
        ("_restore_raw_html_only_where_placed", _does_nothing),
    ],
)
def test_a_wrong_tree_or_postprocessing_fast_path_changes_the_html(
    monkeypatch, fast_path, wrong
) -> None:
    """The comparisons below can fail: each of these fast paths, made to skip its processor's
    work on every text, changes the HTML of some fuzzed bodies (lines of spaces, backslash
    escapes, "{: .lead }" attribute lists, raw HTML blocks)."""
    monkeypatch.setattr(markup, fast_path, wrong)

    assert _differences(_fuzz_bodies(300)) != []


def test_a_wrong_per_text_inline_skip_changes_the_html(monkeypatch) -> None:
    """The comparisons below can fail: an inline pass that passes over every text, once some
    text of the tree may match, leaves links, emphasis and smart quotes unmade."""
    guarded = markup._inline_only_texts_that_may_match
    monkeypatch.setattr(
        markup,
        "_inline_only_texts_that_may_match",
        lambda processor, may_match: guarded(processor, lambda text: False),
    )

    assert _differences(_fuzz_bodies(300)) != []


def test_every_table_entry_names_a_registered_pattern() -> None:
    registries = [
        processor.inlinePatterns
        for processor in _plain_markdown().treeprocessors
        if isinstance(processor, InlineProcessor)
    ]

    # A misspelt or renamed entry would quietly stop skipping its pattern.
    unknown = [
        name
        for name in markup._REQUIRED_LITERALS
        if not any(name in registry for registry in registries)
    ]
    assert unknown == []


def test_the_block_skip_is_installed_and_names_registered_processors() -> None:
    assert markup.block_fast_path_possible(), (
        "Python-Markdown changed: check each entry of markup._BLOCK_REQUIRED_LITERALS against "
        "its block processor's regexes, then update _REQUIRED_LITERALS_CHECKED_FOR"
    )
    assert "parseBlocks" in vars(MarkdownRenderer()._markdown.parser)
    registered = {_class_name(p) for p in _plain_markdown().parser.blockprocessors}

    # A misspelt or moved class would quietly stop skipping its processor.
    assert set(markup._BLOCK_REQUIRED_LITERALS) - registered == set()


def _class_name(processor: object) -> str:
    return f"{type(processor).__module__}.{type(processor).__qualname__}"


def _without(text: str, literals: Iterable[str]) -> str:
    """``text`` with every occurrence of ``literals`` blanked out, until none is left."""
    while any(literal in text for literal in literals):
        for literal in literals:
            text = text.replace(literal, " ")
    return text


def test_each_listed_block_processor_declines_blocks_lacking_its_literals() -> None:
    """The block table's facts themselves: each processor it names, given fuzzed blocks with
    its literals blanked out, takes none of them and leaves the blocks and tree untouched
    (what makes skipping it exact)."""
    blocks = [block for body in _fuzz_bodies(400, seed=7) for block in body.split("\n\n")]
    plain = _plain_markdown()
    checked = set()
    for processor in plain.parser.blockprocessors:
        literals = markup._BLOCK_REQUIRED_LITERALS.get(_class_name(processor))
        if literals is None:
            continue
        for block in {_without(block, literals) for block in blocks}:
            plain.reset()
            parent, queue = etree.Element("div"), [block, "next"]
            if processor.test(parent, block):
                assert processor.run(parent, queue) is False, (_class_name(processor), block)
            assert queue == [block, "next"] and len(parent) == 0 and parent.text is None
        checked.add(_class_name(processor))

    assert checked == set(markup._BLOCK_REQUIRED_LITERALS)


def test_a_wrong_block_entry_changes_the_html(monkeypatch) -> None:
    """The comparisons below can fail: a table entry that skips the table processor on blocks
    holding a "|" leaves tables unparsed in the fuzzed bodies."""
    monkeypatch.setitem(
        markup._BLOCK_REQUIRED_LITERALS, "markdown.extensions.tables.TableProcessor", ("@@",)
    )

    assert _differences(_fuzz_bodies(200)) != []


def test_link_text_and_target_are_read_as_upstream_reads_them() -> None:
    """markup._link_text and _quick_link against upstream's getText and getLink, from every
    position of fuzzed texts full of brackets, parentheses and quotes."""
    from markdown.inlinepatterns import LinkInlineProcessor

    plain = _plain_markdown()
    plain.convert("[a](/b)")  # links unescape what the inline processor's last run stashed
    inline = plain.treeprocessors["inline"]
    pattern = next(p for p in inline.inlinePatterns if type(p) is LinkInlineProcessor)  # type: ignore[attr-defined]
    quick_link = markup._quick_link(pattern)
    rng = random.Random(5)
    pieces = ("[", "]", "(", ")", "'", '"', "<", ">", " ", "\\", "a", "/b", "\n", "](", ")[")
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 24))) for _ in range(3000)]

    for text in texts:
        for index in range(len(text) + 1):
            expected = LinkInlineProcessor.getText(pattern, text, index)
            assert markup._link_text(text, index) == expected, (text, index)
            assert quick_link(text, index) == pattern.getLink(text, index), (text, index)


def test_example_site_renders_as_plain_python_markdown() -> None:
    pages = sorted((ROOT / "content").rglob("*.md"))
    bodies = [split_front_matter(page.read_text(encoding="utf-8"))[1] for page in pages]

    assert len(bodies) >= 5
    assert _differences(bodies) == []


def test_generated_corpus_renders_as_plain_python_markdown(tmp_path: Path) -> None:
    corpus = generate_corpus(tmp_path / "site", CORPUS_PAGES)
    bodies = [split_front_matter(page.read_text(encoding="utf-8"))[1] for page in corpus.pages]

    assert len(bodies) == CORPUS_PAGES
    assert _differences(bodies) == []


def test_fuzzed_bodies_render_as_plain_python_markdown() -> None:
    bodies = _fuzz_bodies(FUZZ_BODIES)

    assert len(set(bodies)) > FUZZ_BODIES * 0.99
    different = _differences(bodies)
    assert different == [], f"{len(different)} bodies differ, e.g. {different[:3]!r}"


def test_fenced_code_highlights_as_plain_python_markdown_when_lexers_are_remembered() -> None:
    # Each language twice over the bodies: once looked up, then remembered; unknown names and
    # none fall back to plain text, an alias (py3, shell) names the same lexer under its own name;
    # the blank lines around the code show the lexer's stripnl option.
    languages = ("python", "py3", "sh", "shell", "yaml", "go-html-template", "nosuchlang", "")
    bodies = [
        f"Text.\n\n```{language}\n\nx = 'a' -- \"b\"\n  indented\n\n```\n\n"
        f"- item\n\n    ```{language}\n    y = 2\n    ```\n"
        for _ in range(2)
        for language in languages
    ]

    assert _differences(bodies) == []


def test_setting_up_the_renderer_reads_no_installed_distribution() -> None:
    """Its extensions are found by module: Python-Markdown's lookup of names among the entry
    points reads every installed distribution's metadata (60 ms of each one-page rebuild)."""
    code = (
        "import sys\n"
        "from launchkit.site.markup import MarkdownRenderer\n"
        "body = '[TOC]\\n\\n~~x~~ -- ...\\n\\n```python\\nx = 1\\n```\\n'\n"
        "assert 'python' in MarkdownRenderer().render(body, source='x.md').html\n"
        "print('importlib.metadata' in sys.modules)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "False"
