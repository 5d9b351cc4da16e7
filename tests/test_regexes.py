"""Regular expressions compiled once per site (launchkit.site.regexes): a kept program makes
the same Pattern as compiling the pattern, and nothing else of ``re`` changes."""

from __future__ import annotations

import marshal
import re
import shutil
from pathlib import Path

import pytest
from build_support import run_build, snapshot, write_site

from launchkit.site.regexes import FILE_NAME, kept_regex_programs
from launchkit.site.store import CACHE_FOLDER

PATTERNS: list[tuple[str | bytes, int]] = [
    (r"(?P<word>\w+)[ \t]*=\s*(?P=word)?", 0),
    (r"^\s*#+\s+(.*?)\s*#*$", re.MULTILINE),
    (rb"\x00[\x01-\x7f]+(?:ab|cd)*", 0),
    (r"(?x) [a-z]+  # a word\n (?<=\w)\d{2,5}", 0),
    (r"(?<![\w\\])~~(?!\s)", re.UNICODE),
    (r"[\u2000-\u206f\u2e00-\u2e7f!-/:-@\[-`{-~]+", re.IGNORECASE),
    (r"(?i:https?|ftp)://[^\s<>]+", 0),
    (r"(a)|(b)|(?P<c>c)", re.DOTALL | re.VERBOSE),
]
TEXT = "word = word\n## Title ##\n~~struck~~ — ab12 https://example.com/x c"


def compiled(pattern: str | bytes, flags: int) -> re.Pattern:
    """``re``'s own compile, past its in-memory cache (what a new process does)."""
    return re._compiler.compile(pattern, flags)


def test_kept_programs_make_the_same_patterns(tmp_path: Path, monkeypatch) -> None:
    plain = [compiled(*pattern) for pattern in PATTERNS]
    with kept_regex_programs(tmp_path):
        made = [compiled(*pattern) for pattern in PATTERNS]
    assert made == plain
    assert (tmp_path / FILE_NAME).is_file()

    def no_parsing(*_: object) -> None:
        raise AssertionError("a kept program was parsed again")

    with kept_regex_programs(tmp_path):
        monkeypatch.setattr(re._compiler._parser, "parse", no_parsing)
        kept = [compiled(*pattern) for pattern in PATTERNS]
        monkeypatch.undo()
    assert kept == plain
    for pattern, expected in zip(kept, plain, strict=True):
        text = TEXT.encode() if isinstance(pattern.pattern, bytes) else TEXT
        assert [m.span() for m in pattern.finditer(text)] == [
            m.span() for m in expected.finditer(text)
        ]
        assert pattern.groupindex == expected.groupindex
        assert pattern.groups == expected.groups


def test_re_is_itself_again_afterwards(tmp_path: Path) -> None:
    before = re._compiler.compile
    with pytest.raises(ZeroDivisionError), kept_regex_programs(tmp_path):
        compiled(r"x+", 0)
        1 / 0  # noqa: B018
    assert re._compiler.compile is before


def test_a_bad_pattern_is_still_an_error(tmp_path: Path) -> None:
    with kept_regex_programs(tmp_path), pytest.raises(re.error, match="missing \\)"):
        compiled(r"(unclosed", 0)


def test_without_reading_every_pattern_is_parsed(tmp_path: Path, monkeypatch) -> None:
    with kept_regex_programs(tmp_path):
        compiled(*PATTERNS[0])
    parsed = []
    parse = re._compiler._parser.parse
    monkeypatch.setattr(
        re._compiler._parser, "parse", lambda *args: parsed.append(args) or parse(*args)
    )
    with kept_regex_programs(tmp_path, read=False):
        compiled(*PATTERNS[0])
    assert PATTERNS[0] in parsed


def test_without_reading_the_kept_programs_stay(tmp_path: Path, monkeypatch) -> None:
    """A clean build adds its programs to those kept: the next edit still finds the code
    lexers an earlier build's parent compiled and the clean build's parent did not."""
    with kept_regex_programs(tmp_path):
        compiled(*PATTERNS[0])
    with kept_regex_programs(tmp_path, read=False):
        compiled(*PATTERNS[1])
    parsed = []
    parse = re._compiler._parser.parse
    monkeypatch.setattr(
        re._compiler._parser, "parse", lambda *args: parsed.append(args) or parse(*args)
    )
    with kept_regex_programs(tmp_path):
        compiled(*PATTERNS[0])
        compiled(*PATTERNS[1])
    assert PATTERNS[0] not in parsed and PATTERNS[1] not in parsed  # (the probe is parsed)


@pytest.mark.parametrize("content", [b"", b"\x00garbage", b"\xe9\x02\x00\x00\x00", None])
def test_an_unreadable_or_foreign_file_is_as_none(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / FILE_NAME
    if content is None:  # another interpreter's programs
        path.write_bytes(marshal.dumps(("Python 2.7 sre 0", {(PATTERNS[0][0], 0): (0, [], 0)})))
    else:
        path.write_bytes(content)
    with kept_regex_programs(tmp_path):
        made = compiled(*PATTERNS[0])
    assert made == compiled(*PATTERNS[0])
    with kept_regex_programs(tmp_path):  # rewritten, readable
        assert compiled(*PATTERNS[0]) == made


def test_no_folder_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "missing"
    with kept_regex_programs(folder):
        compiled(*PATTERNS[1])
    assert not folder.exists()


def test_a_build_with_kept_programs_gives_a_clean_builds_bytes(tmp_path: Path) -> None:
    """The CLI keeps the programs beside its cache file; a rebuild that reads them (after an
    edit adding highlighted code, a table and ~~strikethrough~~) publishes the bytes of a clean
    build that reads none."""
    site = write_site(tmp_path / "site")
    assert run_build(site, "--out", "public").returncode == 0
    kept = site / CACHE_FOLDER / FILE_NAME
    assert len(marshal.loads(kept.read_bytes())[1]) > 100  # noqa: S302 - written just now
    page = site / "content" / "index.md"
    added = "\n\n```python\nx = {'a': 1}\n```\n\n| a | b |\n|---|---|\n| ~~c~~ | d |\n"
    page.write_text(page.read_text(encoding="utf-8") + added, encoding="utf-8")
    assert run_build(site, "--out", "public").returncode == 0
    shutil.rmtree(site / CACHE_FOLDER)
    clean = run_build(site, "--out", "clean", "--clean")
    assert clean.returncode == 0, clean.stderr
    assert snapshot(site / "public") == snapshot(site / "clean")
    assert '<span class="p">{' in snapshot(site / "clean")["index.html"].decode()
