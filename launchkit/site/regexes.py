"""Regular expressions compiled once per site, not once per ``build.py`` process.

A one-page rebuild is mostly what any process of it pays, and a fifth of that (18 % of its
instructions at 2000 pages) was ``re`` compiling the same few hundred patterns again: those
of the Pygments lexer of each fenced code language, of the Markdown extensions (PyMdown's
``~~`` boundary lists every Unicode punctuation mark), of YAML, Jinja and TOML. ``re`` turns a
pattern into a program in pure Python (parse, then code generation); ``_sre.compile`` makes
the Pattern from that program, a list of ints. While :func:`kept_regex_programs` is active,
``re`` is handed the program a build of the same site made before, if any, instead of
making it again: the same program, so an equal Pattern (``==`` compares pattern, flags and
program) and the same output. The programs are kept in the cache folder, with the
interpreter's version and ``_sre.MAGIC``: another Python's are not read.

Only the CLI uses it (``build.py``): it wraps a whole process, whose imports compile most of
the patterns. ``--clean`` uses none (it adds its own): no program of an earlier build is used.
"""

from __future__ import annotations

import _sre
import marshal
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

FILE_NAME = "regexes.marshal"
# The patterns of a build are fixed by the code; a pattern made from data (a site's own
# settings) is one more per value. Past this many, only the last build's are kept.
_MAX_PROGRAMS = 5000

# ``_sre.compile``'s arguments after the pattern: flags, code, groups, groupindex, indexgroup.
Program = tuple[int, list[int], int, dict[str, int], tuple[str | None, ...]]
_Key = tuple[str | bytes, int]


@contextmanager
def kept_regex_programs(folder: Path, *, read: bool = True) -> Iterator[None]:
    """While active, every pattern ``re`` compiles takes its program from ``folder`` when
    an earlier process kept it there (not with ``read`` false); on leaving, the programs
    it made are added, if ``folder`` exists (a build has made it). Those kept before stay,
    with ``read`` false too: a clean build's parent compiles few of the code lexers (its
    workers do), and had it replaced the file, the next edit would compile them again."""
    compiler = _compiler_if_understood()
    if compiler is None:  # another Python's re: it compiles as it always does
        yield
        return
    path = folder / FILE_NAME
    kept = _read(path)
    known = kept if read else {}
    used: dict[_Key, Program] = {}
    original = compiler.compile

    def compile(pattern: Any, flags: int = 0) -> re.Pattern:
        if not isinstance(pattern, str | bytes) or flags & re.DEBUG:
            return original(pattern, flags)
        key = (pattern, int(flags))
        program = known.get(key) or used.get(key) or _program(compiler, pattern, int(flags))
        used[key] = program
        return _sre.compile(pattern, *program)

    compiler.compile = compile
    try:
        yield
    finally:
        compiler.compile = original
    if folder.is_dir() and not used.keys() <= kept.keys():
        _write(path, used if len(kept) + len(used) > _MAX_PROGRAMS else {**kept, **used})


def _compiler_if_understood() -> Any:
    """``re._compiler`` when it compiles as :func:`_program` repeats (checked on one
    pattern), else None."""
    compiler = getattr(re, "_compiler", None)
    try:
        probe = r"(?P<word>\w+)[ \t]*(?:=|:)\s*(\1)?"
        if _sre.compile(probe, *_program(compiler, probe, 0)) == compiler.compile(probe, 0):
            return compiler
    except (AttributeError, TypeError, ValueError, RuntimeError):
        pass
    return None


def _program(compiler: Any, pattern: str | bytes, flags: int) -> Program:
    """What ``re._compiler.compile`` hands ``_sre.compile`` for ``pattern`` (its body, with
    the program kept): plain ints, which marshal writes (opcodes are a named int type)."""
    parsed = compiler._parser.parse(pattern, flags)
    code = [int(op) for op in compiler._code(parsed, flags)]
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    return flags | parsed.state.flags, code, parsed.state.groups - 1, groupindex, tuple(indexgroup)


def _version() -> str:
    return f"{sys.version} sre {_sre.MAGIC}"


def _read(path: Path) -> dict[_Key, Program]:
    """The programs kept in ``path`` by this interpreter; none if it cannot be read."""
    try:
        version, programs = marshal.loads(path.read_bytes())  # noqa: S302 - the build's own file
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return programs if version == _version() and isinstance(programs, dict) else {}


def _write(path: Path, programs: dict[_Key, Program]) -> None:
    """Replace ``path`` at once (a build reading it meanwhile sees the old file or the
    new); a folder that cannot be written keeps no programs."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".regexes")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(marshal.dumps((_version(), programs)))
        os.replace(temporary, path)
    except OSError:
        with suppress(OSError):
            os.unlink(temporary)


__all__ = ["FILE_NAME", "kept_regex_programs"]
