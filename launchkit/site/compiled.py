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
depends on the template's text, Python, Jinja, this module's code (with what it imports,
:data:`.keys.COMPILER`) and the environment's settings (syntax, options, the filters and
tests) only: :func:`compiled_folder` names the bytecode cache's folder by the code, and each
template's checksum in it covers the settings as they are when it is loaded or compiled
(:class:`_CompiledCache`), however they were reached: a filter put straight into
``env.filters`` after the cache was set counts as one given to the constructor. So a
site.toml edit, or a change of launchkit's code elsewhere (the renderer, the steps),
compiles nothing again.

An ``{% include %}`` whose output cannot differ from page to page is rendered once per
environment (:meth:`FactsEnvironment.included`): the names it and what it pulls in read,
each resolving to the same global object (or to nothing) as when it was rendered, give the
same output. A base layout's footer, logo, theme styles and scripts were a fifth of the
time of rendering a post's document again.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.bccache import Bucket
from jinja2.compiler import CodeGenerator, Frame
from jinja2.defaults import DEFAULT_NAMESPACE
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.runtime import missing

from .hashing import digest
from .template_usage import page_keys_read

# The name of the facts in a compiled template's module.
_FACTS = "launchkit_facts"
# Jinja's own globals (range, dict, …): reading one depends on nothing of the site.
JINJA_GLOBALS = frozenset(DEFAULT_NAMESPACE)
# The options of an environment that Jinja's compiler reads (FactsEnvironment.compile_settings).
_COMPILER_OPTIONS = (
    *("block_start_string", "block_end_string", "variable_start_string"),
    *("variable_end_string", "comment_start_string", "comment_end_string"),
    *("line_statement_prefix", "line_comment_prefix", "trim_blocks"),
    *("lstrip_blocks", "newline_sequence", "keep_trailing_newline"),
    *("optimized", "is_async", "autoescape", "finalize"),
)
# Globals whose value differs from call to call: an include reading one is never reused.
_UNSTABLE_GLOBALS = frozenset({"lipsum", "cycler", "joiner", "namespace"})


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

    def visit_Include(self, node: nodes.Include, frame: Frame) -> None:
        """An include of a template named by a constant, with the context (Jinja's
        default), goes through :meth:`FactsEnvironment.included`; any other is Jinja's."""
        named = isinstance(node.template, nodes.Const) and isinstance(node.template.value, str)
        if not named or not node.with_context or node.ignore_missing or self.environment.is_async:
            super().visit_Include(node, frame)
            return
        self.writeline("template = environment.get_template(", node)
        self.visit(node.template, frame)
        self.write(f", {self.name!r})")
        self.writeline(
            f"gen = environment.included(template, context, {self.dump_local_context(frame)})"
        )
        self.writeline("try:")
        self.indent()
        self.writeline("for event in gen:")
        self.indent()
        self.simple_write("event", frame)
        self.outdent()
        self.outdent()
        self.writeline("finally: gen.close()")


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

    def compile_settings(self) -> str:
        """What Jinja's compiler reads of this environment besides a template's text: its
        syntax and options, its extensions, and its filters and tests by name, by what they
        are passed and by the function's name (a filter that is not given the context is
        applied to constants while compiling). Their code is not: Jinja's own are its
        version's, and launchkit's are applied only while rendering (:meth:`add_filters`),
        never folded into the code. Asked for each template loaded or compiled
        (:class:`_CompiledCache`); written again only when what it reads changed."""
        state = self._compiler_state()
        if self._settings is None or self._settings[0] != state:
            self._settings = (state, self._settings_text())
        return self._settings[1]

    def _compiler_state(self) -> tuple[Any, ...]:
        """The values :meth:`compile_settings` reads, compared by identity or equality: a
        few microseconds, where writing the settings out takes a third of a millisecond."""
        return (
            *(getattr(self, name) for name in _COMPILER_OPTIONS),
            tuple(self.extensions.items()),
            tuple(self.filters.items()),
            tuple(self.tests.items()),
        )

    def _settings_text(self) -> str:
        options = [
            _qualified(value) if callable(value) else repr(value)
            for value in (getattr(self, name) for name in _COMPILER_OPTIONS)
        ]
        options += sorted(self.extensions)
        for kind, functions in (("filter", self.filters), ("test", self.tests)):
            options += [
                f"{kind} {name} {getattr(function, 'jinja_pass_arg', None)} {_qualified(function)}"
                for name, function in sorted(functions.items())
            ]
        return "\n".join(options)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What compile_settings last read, and what it wrote of it.
        self._settings: tuple[tuple[Any, ...], str] | None = None
        # By included template: the names its output depends on (None: it may depend on
        # anything), and its last output with the values those names had.
        self._include_reads: dict[jinja2.Template, tuple[str, ...] | None] = {}
        self._included: dict[jinja2.Template, tuple[tuple[Any, ...], str]] = {}
        self._loaded: dict[tuple[str, str | None], jinja2.Template] = {}

    def get_template(
        self,
        name: str | jinja2.Template,
        parent: str | None = None,
        globals: Any = None,
    ) -> jinja2.Template:
        """Jinja's, from a dict once loaded when templates are not reloaded: each include
        asks for its template again, and Jinja's cache (a locked LRU) was a tenth of the time
        of rendering a document. Jinja gives the same object from its cache then."""
        if self.auto_reload or globals is not None or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        template = self._loaded.get((name, parent))
        if template is None:
            template = self._loaded[name, parent] = super().get_template(name, parent)
        return template

    def included(
        self, template: jinja2.Template, context: jinja2.runtime.Context, local_vars: dict
    ) -> Iterator[str]:
        """The output of ``{% include %}`` of ``template`` (as Jinja renders it, in a new
        context sharing ``context`` and the include's ``local_vars``).

        When every name that ``template`` and what it pulls in resolve from their context is
        here either a global or nothing, the output depends on those globals only (and on
        the templates' code): it is rendered once, and given again while each of those names
        is the very same object. Held here, the objects stay alive: no other object can
        take the identity of one that was replaced (a preview's next build sets new
        globals). Filters and tests are the environment's own, alike for every page.

        A reused include makes none of the calls its render would: what templates can call
        must record nothing (what a page used is found from its output and from these
        facts, never while rendering). ``tests/test_compiled_templates.py`` lists each name
        launchkit gives templates as checked for that.
        """
        if template not in self._include_reads:  # () is an answer: it reads no name
            self._include_reads[template] = self._reads_of(template)
        names = self._include_reads[template]
        values = None if names is None else self._global_values(names, context, local_vars)
        if values is None:
            yield from template.root_render_func(
                template.new_context(context.get_all(), True, local_vars)
            )
            return
        known = self._included.get(template)
        if known is None or not all(a is b for a, b in zip(known[0], values, strict=True)):
            output = self.concat(  # type: ignore[attr-defined]
                template.root_render_func(template.new_context(context.get_all(), True, local_vars))
            )
            known = self._included[template] = (values, output)
        yield known[1]

    def _reads_of(self, template: jinja2.Template) -> tuple[str, ...] | None:
        """The names ``template`` and every template it pulls in resolve from their
        context; None if one is named by an expression or reads a global that gives a new
        value each time (:data:`_UNSTABLE_GLOBALS`) or is given the context (it may read
        any name of it)."""
        reads: set[str] = set()
        seen: set[str] = set()
        todo = [template]
        while todo:
            facts: TemplateFacts = todo.pop().facts  # type: ignore[attr-defined]
            if facts.pulls_in is None:
                return None
            reads |= facts.reads
            for name in facts.pulls_in:
                if name not in seen:
                    seen.add(name)
                    try:
                        todo.append(self.get_template(name))
                    except jinja2.TemplateError:  # rendering reports it, where it is
                        return None
        for name in reads:
            value = self.globals.get(name)
            if name in _UNSTABLE_GLOBALS or hasattr(value, "jinja_pass_arg"):
                return None
        return tuple(sorted(reads))

    def _global_values(
        self, names: tuple[str, ...], context: jinja2.runtime.Context, local_vars: dict
    ) -> tuple[Any, ...] | None:
        """The values ``names`` take in the included template's context, if each is the
        environment's global of that name or is nowhere (then what the template pulls in
        is given it by the template, or does without); else None."""
        values = []
        for name in names:
            value = local_vars.get(name, missing)
            if value is missing:
                value = context.resolve_or_missing(name)
            if value is not self.globals.get(name, missing):
                return None
            values.append(value)
        return tuple(values)

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


def _qualified(function: Callable[..., Any]) -> str:
    """The module and name of ``function`` (or of its type: a ``functools.partial`` has none)."""
    named = function if hasattr(function, "__qualname__") else type(function)
    return f"{getattr(named, '__module__', None)}.{named.__qualname__}"


def _at_render_time(function: Callable[..., Any]) -> Callable[..., Any]:
    @jinja2.pass_context
    def run(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return run


class _CompiledCache(jinja2.FileSystemBytecodeCache):
    """Jinja's bytecode cache, where a template's checksum covers the environment's
    settings as they are when it is loaded or compiled, and a file that cannot be written
    is not an error: the template is compiled again next time (a read-only checkout, a
    folder just removed)."""

    def get_bucket(
        self, environment: jinja2.Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        """Jinja's (``jinja2.BytecodeCache.get_bucket``), the settings beside the source in
        the checksum: Jinja loads, or compiles and stores, the template right after, in the
        environment as it is now, so no filter added since the cache was set escapes it."""
        settings = (
            environment.compile_settings() if isinstance(environment, FactsEnvironment) else ""
        )
        bucket = Bucket(
            environment,
            self.get_cache_key(name, filename),
            self.get_source_checksum(f"{settings}\0{source}"),
        )
        self.load_bytecode(bucket)
        return bucket

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def compiled_folder(cache: Path, code: str) -> Path:
    """The folder in ``cache`` for templates compiled by ``code`` (the fingerprint of this
    module's code and what it imports: Python, Jinja, :data:`.keys.COMPILER`); the
    environment's settings are in each template's checksum (:class:`_CompiledCache`)."""
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
    return _CompiledCache(str(folder))


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
