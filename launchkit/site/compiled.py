"""Templates compiled once, each carrying what the cache layer needs to know of it.

The cache layer asks four things of every template: the names it reads from its context
(which identities its pages need, :class:`.keys.Identities`), the templates it pulls in
(extends, include, import), the page data keys it reads (:mod:`.template_usage`), and what
its output can depend on in its own text. Jinja works all of that out when it compiles a
template, so the code generator here writes it into the compiled module, beside the code:
it comes back with the code from Jinja's bytecode cache, and no build parses a template
again that an earlier build compiled.

"What its output can depend on" is a digest of the compiled Python without Jinja's table of
line numbers (``debug_info``): equal code renders equal output from equal inputs, and a
comment, or space inside a tag, compiles to the same code. Line numbers only say where an
error is, and a build that fails records nothing. So the pages of a template whose edit
changed no code are not made again.

Jinja applies a filter to constants while compiling (``{{ "/x/" | absolute }}`` would hold
the base URL in the code); launchkit's own filters are added so that it cannot
(:meth:`FactsEnvironment.add_filters`: they may read the config). The compiled code then
depends on the template's text, Python, Jinja and this package's code only:
:func:`compiled_folder` names the bytecode cache's folder by them, and a site.toml edit
compiles nothing again.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.bccache import Bucket
from jinja2.compiler import CodeGenerator, Frame
from jinja2.defaults import DEFAULT_NAMESPACE
from jinja2.idtracking import VAR_LOAD_RESOLVE

from .keys import digest
from .template_usage import page_keys_read

# The name of the facts in a compiled template's module.
_FACTS = "launchkit_facts"
# Jinja's own globals (range, dict, …): reading one depends on nothing of the site.
JINJA_GLOBALS = frozenset(DEFAULT_NAMESPACE)


class TemplateFacts(NamedTuple):
    """What compiling one template found.

    ``reads``: the names it resolves from its context, globals included; ``pulls_in``: the
    templates it extends, includes or imports (None: one is named by an expression, so it
    may be any); ``page_keys``: the page data keys it reads (None: computed ones); ``code``:
    a digest of its compiled code without line numbers.
    """

    reads: frozenset[str]
    pulls_in: tuple[str, ...] | None
    page_keys: frozenset[str] | None
    code: str

    @classmethod
    def of_missing(cls, source: str | None) -> TemplateFacts:
        """A template that does not exist (``source`` None) or does not compile: it depends
        on its text only; rendering reports the problem where it is."""
        return cls(frozenset(), (), frozenset(), digest("missing" if source is None else source))


class _FactsGenerator(CodeGenerator):
    """Jinja's code generator, also writing the template's :class:`TemplateFacts`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: set[str] = set()

    def enter_frame(self, frame: Frame) -> None:
        """Remember every name a frame resolves from the context (as
        :func:`jinja2.meta.find_undeclared_variables` does, globals included)."""
        super().enter_frame(frame)
        for action, name in frame.symbols.loads.values():
            if action == VAR_LOAD_RESOLVE:
                self.reads.add(name)

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        # Read from the tree before generating: the optimizer rewrites nodes on the way.
        found = list(jinja2.meta.find_referenced_templates(node))
        pulls_in = None if None in found else tuple(dict.fromkeys(found))  # type: ignore[arg-type]
        page_keys = page_keys_read(node)
        super().visit_Template(node, frame)
        code = self.stream.getvalue()  # type: ignore[attr-defined]
        code = code[: code.rindex("\ndebug_info = ")]
        keys = None if page_keys is None else tuple(sorted(page_keys))
        facts = (tuple(sorted(self.reads)), pulls_in, keys, digest(code))
        self.writeline(f"{_FACTS} = {facts!r}")


class CompiledTemplate(jinja2.Template):
    """A template with the :class:`TemplateFacts` its compiled module holds."""

    facts: TemplateFacts

    @classmethod
    def _from_namespace(cls, environment, namespace, globals):  # type: ignore[no-untyped-def]
        template = super()._from_namespace(environment, namespace, globals)
        reads, pulls_in, page_keys, code = namespace[_FACTS]
        template.facts = TemplateFacts(
            frozenset(reads),
            pulls_in,
            None if page_keys is None else frozenset(page_keys),
            code,
        )
        return template


class FactsEnvironment(jinja2.Environment):
    """A Jinja environment whose templates know their :class:`TemplateFacts`."""

    code_generator_class = _FactsGenerator
    template_class = CompiledTemplate

    def add_filters(self, **filters: Callable[..., Any]) -> None:
        """Add filters that Jinja applies only while rendering, never while compiling
        (to constants, as it does its own): their result may depend on the config, and the
        compiled code is kept whatever the config (Jinja does not fold a filter that is
        given the context)."""
        for name, function in filters.items():
            self.filters[name] = _at_render_time(function)

    def facts(self, name: str) -> TemplateFacts:
        """The facts of template ``name``, compiling it (or loading it compiled) if need be;
        a missing or broken template's from its text (:meth:`TemplateFacts.of_missing`)."""
        try:
            return self.get_template(name).facts  # type: ignore[attr-defined]
        except jinja2.TemplateNotFound:
            return TemplateFacts.of_missing(None)
        except jinja2.TemplateError:
            try:
                source = self.loader.get_source(self, name)[0]  # type: ignore[union-attr]
            except jinja2.TemplateError:
                source = None
            return TemplateFacts.of_missing(source)


def _at_render_time(function: Callable[..., Any]) -> Callable[..., Any]:
    @jinja2.pass_context
    def run(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return run


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """Jinja's bytecode cache, where a file that cannot be written is not an error: the
    template is compiled again next time (a read-only checkout, a folder just removed)."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def compiled_folder(cache: Path, code: str) -> Path:
    """The folder in ``cache`` for templates compiled by ``code`` (the fingerprint of the
    code and libraries that render documents: Python, Jinja, this module)."""
    return cache / digest(code)


def bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    """Jinja's bytecode cache in ``folder``, with the other folders beside it removed (each
    a version of the code gone by); none if it cannot be made (read-only)."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    for other in folder.parent.iterdir():
        if other != folder:
            _remove(other)
    return _QuietCache(str(folder))


def _remove(path: Path) -> None:
    """Remove a file or folder, if it still exists and may be removed."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


__all__ = [
    "JINJA_GLOBALS",
    "CompiledTemplate",
    "FactsEnvironment",
    "TemplateFacts",
    "bytecode_cache",
    "compiled_folder",
]
