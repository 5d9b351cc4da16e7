"""Random edit sequences: after every edit, the incremental build is a clean build, exactly.

From a seeded generator, :data:`STEPS` edits of a small generated site (bench/corpus.py: real
templates, partials, links between pages, shortcodes): page edits, new, deleted and renamed
pages, front matter, templates and partials, ``site.toml``, static files, launchkit's own
source (a copy of the package) and its Markdown extension settings. After each, one
process builds incrementally (one BuildContext for its life and the changed paths, as the
preview; sometimes a fresh context, as the CLI) and another, separate process makes a clean
build of the same tree: the files, their bytes and the link warnings must be the same, and
a build that fails must fail the same way. The seed is printed on failure;
``RANDOM_EDITS_SEED=N`` replays one.

The clean builds are the slow side (a fresh context compiles and renders everything), so
:data:`CLEAN_PROCESSES` of them take turns, each building its own copy of the tree as it
was after its step (:class:`Mirror`) while the next steps are edited and built
incrementally: the machine's cores are kept busy instead of waiting for one clean build at
a time. Their own copy also keeps their cache folder apart from the incremental side's.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from build_support import ROOT, snapshot

from bench.corpus import PHOTOS, generate_corpus, photo
from launchkit.site.context import BuildContext
from launchkit.site.keys import COMPILER, Codebase
from launchkit.site.store import CACHE_FOLDER, Store

STEPS = int(os.environ.get("RANDOM_EDITS_STEPS", "300"))
SEED = int(os.environ.get("RANDOM_EDITS_SEED", "20261201"))
# Clean-build processes taking turns: one builds step n's tree while another builds step
# n + 1's and the incremental process builds step n + 2.
CLEAN_PROCESSES = 2
HELPER = Path(__file__).with_name("build_helper.py")


class Zygote:
    """The process that build processes are forked from (tests/build_helper.py --zygote):
    it has imported the libraries a build uses, never launchkit."""

    def __init__(self) -> None:
        self.messages, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Bytecode is written (and kept in the package copy): a build process started after
        # a code change imports launchkit instead of compiling it. Python checks a module's
        # bytecode against its source's mtime and size, and every code edit here changes
        # the size of what was last compiled (a toggle's two texts differ in length, a
        # comment only lengthens), so no process runs stale code.
        env = {**os.environ}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPATH", None)  # launchkit must not be importable in the zygote
        self.process = subprocess.Popen(
            [sys.executable, str(HELPER), "--zygote", str(theirs.fileno())],
            env=env,
            pass_fds=[theirs.fileno()],
        )
        theirs.close()

    def fork(self, site: Path, package: Path) -> socket.socket:
        """A new build process working in ``site`` with the launchkit in ``package``: the
        socket that carries its requests and answers."""
        return _send(self.messages, {"cwd": str(site), "path": str(package)})

    def with_code(self, package: Path, site: Path) -> CodeZygote:
        """A zygote forked from this one that has imported the launchkit in ``package``:
        the build processes of one version of the code share that import, its fingerprints
        and the warm-up of Python-Markdown and Pygments on ``site``'s pages (the libraries'
        own caches: no build runs there, see tests/build_helper.py ``rehearse``)."""
        request = {"path": str(package), "site": str(site)}
        messages = _send(self.messages, request, socket.SOCK_SEQPACKET)
        return CodeZygote(messages, package)

    def stop(self) -> None:
        self.messages.close()
        self.process.wait(timeout=30)


class CodeZygote:
    """The zygote of one version of launchkit (:meth:`Zygote.with_code`)."""

    def __init__(self, messages: socket.socket, package: Path) -> None:
        self.messages, self.package = messages, package

    def fork(self, site: Path, package: Path) -> socket.socket:
        """As :meth:`Zygote.fork`, for this zygote's own launchkit only."""
        assert package == self.package
        return _send(self.messages, {"cwd": str(site)})

    def stop(self) -> None:
        """Fork no more: it ends when the build processes forked from it have."""
        self.messages.close()


def _send(messages: socket.socket, request: dict, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """Send a zygote ``request`` with one end of a new socket pair of ``kind``, for the
    process it forks: the other end, ours."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, kind)
    socket.send_fds(messages, [json.dumps(request).encode()], [theirs.fileno()])
    theirs.close()
    return ours


class Builder:
    """A build process (tests/build_helper.py) running the package copy in ``package``."""

    def __init__(self, site: Path, package: Path, zygote: Zygote | CodeZygote) -> None:
        self.site, self.package, self.zygote = site, package, zygote
        self.channel: socket.socket | None = None

    def start(self) -> None:
        self.channel = self.zygote.fork(self.site, self.package)
        self.requests = self.channel.makefile("w", encoding="utf-8")
        self.answers = self.channel.makefile("r", encoding="utf-8")

    def send(self, **request: object) -> None:
        self.requests.write(json.dumps(request) + "\n")
        self.requests.flush()

    def answer(self, where: str) -> dict:
        line = self.answers.readline()
        assert line, f"the build process died ({where})"
        return json.loads(line)

    def stop(self) -> None:
        """End the process: it stops at the end of its requests, and its end of the socket
        closes when it has exited."""
        if self.channel is not None:
            self.requests.close()
            self.channel.shutdown(socket.SHUT_WR)
            self.answers.read()
            self.answers.close()
            self.channel.close()
            self.channel = None


class Mirror:
    """A copy of the site for a clean-build process, brought up to the site's state just
    before it builds: the paths edited since are copied again (with their mtimes) or
    removed. The site's own ``.cache`` and output are not copied: a clean build reads no
    cache file, and writes its own beside its copy. Except Jinja's compiled templates,
    which every build reads, clean or not (keyed by the template's text and the code): the
    copies' folder is the site's, as for builds in the site's own folder. (Jinja's keys
    also hold the template file's path, so each copy's processes still compile their own:
    a code edit compiles every template once in each build process.)"""

    def __init__(self, site: Path, root: Path) -> None:
        self.site, self.root = site, root
        shutil.copytree(site, root, ignore=shutil.ignore_patterns(".cache", "public"))
        compiled = site / CACHE_FOLDER / "templates"
        compiled.mkdir(parents=True, exist_ok=True)
        (root / CACHE_FOLDER).mkdir(parents=True)
        (root / CACHE_FOLDER / "templates").symlink_to(compiled, target_is_directory=True)
        self.edited: set[Path] = set()

    def update(self) -> None:
        for relative in sorted(self.edited):
            source, target = self.site / relative, self.root / relative
            if source.parent.is_dir():  # a folder made for a page stays when it goes
                target.parent.mkdir(parents=True, exist_ok=True)
            if source.exists():
                shutil.copy2(source, target)
            else:
                target.unlink(missing_ok=True)
        self.edited = set()


class Site:
    """The site being edited, and the edits a marketer (or a launchkit developer) makes."""

    def __init__(self, root: Path, package: Path, rng: random.Random) -> None:
        self.root, self.package, self.rng = root, package, rng
        self.counter = 0

    def pages(self) -> list[Path]:
        return sorted((self.root / "content").rglob("*.md"))

    def write(self, path: Path, text: str) -> set[Path]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return {path}

    def content_path(self) -> str:
        """A page's path as ``ref`` names it: ``blog/w3.md`` (it may be renamed or deleted
        later), or a section's ``index.md`` (never deleted; its slug may change)."""
        pages = self.pages()
        if self.rng.random() < 0.5:
            pages = [page for page in pages if page.name == "index.md"]
        return self.rng.choice(pages).relative_to(self.root / "content").as_posix()

    def word(self) -> str:
        self.counter += 1
        return f"w{self.counter}"

    # --- the edits -------------------------------------------------------------------------

    def page_edit(self) -> tuple[str, set[Path]]:
        page = self.rng.choice(self.pages())
        text = page.read_text(encoding="utf-8")
        extra = self.rng.choice(
            [
                f"\nA new paragraph {self.word()}.\n",
                f"\n## A heading {self.word()}\n\nText.\n",
                f"\nSee [the pricing](/pricing/) and [{self.word()}](/gone-{self.counter}/).\n",
                "\n{{< buy pro >}}\n",
                f'\n"Quoted" -- {self.word()}...\n',
                f'\nSee [another]({{{{< relref "{self.content_path()}" >}}}}).\n',
                "\nBy {{< param team >}}.\n",
            ]
        )
        if self.rng.random() < 0.3 and "\n\n" in text:
            text = text[: text.rindex("\n\n")] + "\n"  # drop the last paragraph
        return f"edit {page.name}", self.write(page, text + extra)

    def add_page(self) -> tuple[str, set[Path]]:
        section = self.rng.choice(["blog", "docs/alerts", "features", ""])
        name = self.word()
        front = f"title: Page {name}\n"
        if section == "blog":
            front += f"date: 2026-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}\n"
        if self.rng.random() < 0.2:
            front += f"menu: M{name}\nmenu_order: {self.rng.randint(1, 90)}\n"
        path = self.root / "content" / section / f"{name}.md"
        body = f"Hello from {name}. Back to [the blog](/blog/#top).\n"
        return f"add {path.name}", self.write(path, f"---\n{front}---\n{body}")

    def delete_page(self) -> tuple[str, set[Path]]:
        pages = [p for p in self.pages() if p.name != "index.md"]
        if not pages:  # every page but the sections' is gone: write one instead
            return self.add_page()
        page = self.rng.choice(pages)
        page.unlink()
        return f"delete {page.name}", {page}

    def rename_page(self) -> tuple[str, set[Path]]:
        pages = [p for p in self.pages() if p.name != "index.md"]
        if not pages:
            return self.add_page()
        page = self.rng.choice(pages)
        folder = self.rng.choice([page.parent, self.root / "content" / "features"])
        target = folder / f"{self.word()}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.rename(target)
        return f"rename {page.name} -> {target.name}", {page, target}

    def front_matter(self) -> tuple[str, set[Path]]:
        page = self.rng.choice(self.pages())
        text = page.read_text(encoding="utf-8")
        _, front, body = text.split("---\n", 2)
        lines = [line for line in front.splitlines() if line.strip()]
        key, value = self.rng.choice(
            [
                ("title", f'"Title {self.word()}"'),
                ("description", f'"About {self.word()}"'),
                ("menu", f'"Menu {self.word()}"'),
                ("menu_order", str(self.rng.randint(1, 99))),
                ("draft", self.rng.choice(["true", "false"])),
                ("noindex", "true"),
                ("slug", f"slug-{self.word()}"),
                ("date", f"2025-1{self.rng.randint(0, 2)}-0{self.rng.randint(1, 9)}"),
                ("aliases", f"[/old/{self.rng.choice(['a', 'b', self.word()])}/]"),
                ("team", f'"Team {self.word()}"'),
                # Tags and categories make list pages and feeds; spellings share a slug.
                ("tags", self.terms(["Go", "go", "Service Mesh", "Über", "release"])),
                ("categories", self.terms(["News", "Guides"])),
                ("summary", f'"Summary {self.word()}"'),
            ]
        )
        lines = [line for line in lines if not line.startswith(f"{key}:")] + [f"{key}: {value}"]
        text = "---\n" + "\n".join(lines) + "\n---\n" + body
        return f"front matter {key} of {page.name}", self.write(page, text)

    def terms(self, names: list[str]) -> str:
        """A YAML list of some of ``names`` (maybe none)."""
        return (
            "[" + ", ".join(self.rng.sample(names, self.rng.randint(0, min(3, len(names))))) + "]"
        )

    def template_edit(self) -> tuple[str, set[Path]]:
        name = self.rng.choice(
            ["post.html", "page.html", "blog.html", "base.html", "term.html", "taxonomy.html"]
        )
        path = self.root / "templates" / name
        text = path.read_text(encoding="utf-8")
        marker = "{% endblock %}" if name != "base.html" else "</footer>"
        addition = self.rng.choice(
            [
                f"<p>Edited {self.word()}</p>",
                f"{{# comment {self.word()} #}}",
                f'<a href="/nowhere-{self.counter}/">x</a>',
            ]
        )
        text = text.replace(marker, addition + marker, 1)
        return f"template {name}", self.write(path, text)

    def partial_edit(self) -> tuple[str, set[Path]]:
        name = self.rng.choice(["nav.html", "buy_form.html", "meta.html", "post_list.html"])
        path = self.root / "templates" / "partials" / name
        text = path.read_text(encoding="utf-8")
        return f"partial {name}", self.write(path, text + f"<!-- {self.word()} -->\n")

    def config_edit(self) -> tuple[str, set[Path]]:
        path = self.root / "site.toml"
        text = path.read_text(encoding="utf-8")
        choice = self.rng.randrange(6)
        if choice == 0:
            text = re.sub(r'(?m)^title = ".*"$', f'title = "Beacon {self.word()}"', text, count=1)
        elif choice == 1:
            text = text.replace('price_text = "$19 / month"', f'price_text = "${self.counter}"')
            text = re.sub(r'price_text = "\$\d+"', f'price_text = "${self.counter}"', text)
        elif choice == 2:  # few posts a page: the small site's lists have several pages
            text = re.sub(r"(?m)^page_size = \d+\n", "", text)
            size = self.rng.randint(1, 4)
            text = text.replace("[rewardful]", f"page_size = {size}\n\n[rewardful]", 1)
            text = text.replace(f"page_size = {size}\n\n\n", f"page_size = {size}\n\n")
        elif choice == 3:  # a section's URLs, or none
            text = re.sub(r"(?ms)^\[permalinks\]\n.*?\n\n", "", text)
            pattern = self.rng.choice(["/blog/:year/:slug/", "/posts/:slugorfilename/", ""])
            if pattern:
                text += f'\n[permalinks]\nblog = "{pattern}"\n\n'
        elif choice == 4:  # the site's own values ({{< param >}})
            text = re.sub(r"(?ms)^\[params\]\n.*?\n\n", "", text)
            text += f'\n[params]\nteam = "Crew {self.word()}"\n\n'
        else:
            text = re.sub(r"(?m)^feed_entries = \d+\n", "", text)
            entries = self.rng.randint(1, 5)
            text = text.replace("[rewardful]", f"feed_entries = {entries}\n\n[rewardful]", 1)
            text = text.replace(f"feed_entries = {entries}\n\n\n", f"feed_entries = {entries}\n\n")
        return "site.toml", self.write(path, text)

    def static_edit(self) -> tuple[str, set[Path]]:
        folder = self.rng.choice([self.root / "static" / "css", self.root / "content" / "blog"])
        path = folder / self.rng.choice(["extra.css", "chart.svg", "notes.txt"])
        if path.exists() and self.rng.random() < 0.4:
            path.unlink()
            return f"delete {path.name}", {path}
        return f"static {path.name}", self.write(path, f"/* {self.word()} */\n")

    def code_edit(self) -> tuple[str, set[Path]]:
        """A change of launchkit's own source: a comment, or a real change of behaviour."""
        module = self.rng.choice(["linkcheck", "render", "extras", "content", "lists"])
        path = self.package / "launchkit" / "site" / f"{module}.py"
        text = path.read_text(encoding="utf-8")
        if module == "linkcheck" and self.rng.random() < 0.7:
            # Fragments that always resolve: the corpus links to #top; toggle whether it does.
            if '{"", "top"}' in text:
                text = text.replace('{"", "top"}', '{""}')
            else:
                text = text.replace('frozenset({""})', 'frozenset({"", "top"})')
        else:
            text += f"\n# {self.word()}\n"
        self.write(path, text)
        return f"code {module}.py", set()

    def markdown_setting(self) -> tuple[str, set[Path]]:
        """A change of the Markdown extensions' settings (in the package copy)."""
        path = self.package / "launchkit" / "site" / "markup.py"
        text = path.read_text(encoding="utf-8")
        if '"toc": {"permalink": True}' in text:
            text = text.replace('"toc": {"permalink": True}', '"toc": {"permalink": "#"}')
        else:
            text = text.replace('"toc": {"permalink": "#"}', '"toc": {"permalink": True}')
        self.write(path, text)
        return "markdown setting toc.permalink", set()


# Each edit with its weight: code changes restart the build processes, so they are rarer.
# About as many pages are deleted as added: the site keeps its size (and a clean build its
# cost) over the steps.
EDITS: list[tuple[Callable[[Site], tuple[str, set[Path]]], int]] = [
    (Site.page_edit, 20),
    (Site.add_page, 7),
    (Site.delete_page, 6),
    (Site.rename_page, 5),
    (Site.front_matter, 14),
    (Site.template_edit, 7),
    (Site.partial_edit, 6),
    (Site.config_edit, 6),
    (Site.static_edit, 6),
    (Site.code_edit, 3),
    (Site.markdown_setting, 2),
]


# The edits of launchkit itself: the processes must be idle before the source changes.
CODE_EDITS = (Site.code_edit, Site.markdown_setting)


def small_site(root: Path):
    """The benchmark's corpus, 11 pages cut to their first 700 characters and its photos to a
    quarter of their width: the fixed pages (home, pricing, the section indexes), three blog
    posts, two docs pages in a topic folder and a feature page, every photo with variants.
    Every kind of page and template an edit touches is there, and each page more costs
    every clean build (at 16 pages, half of a clean build's CPU time went to the pages;
    encoding the full photos' variants took each build process 20 CPU seconds)."""
    corpus = generate_corpus(root, 11, seed=SEED)
    config = corpus.root / "site.toml"  # the site's own values, for {{< param team >}}
    config.write_text(config.read_text(encoding="utf-8") + '\n[params]\nteam = "Crew"\n\n', "utf-8")
    for number, (name, width, height, image_format) in enumerate(PHOTOS):
        suffix = "jpg" if image_format == "JPEG" else "png"
        photo_path = corpus.root / "static" / "images" / "bench" / f"{name}.{suffix}"
        photo_path.write_bytes(photo(width // 4, height // 4, number, image_format))
    for page in corpus.pages:
        _, front, body = page.read_text(encoding="utf-8").split("---\n", 2)
        cut = body.find("\n\n", 700)
        page.write_text(f"---\n{front}---\n{body[: cut if cut > 0 else None]}\n", "utf-8")
    return corpus


@pytest.mark.runs_last
def test_random_edit_sequences_build_as_clean_builds(tmp_path: Path) -> None:
    started, own, children = time.perf_counter(), time.process_time(), _children_cpu()
    rng = random.Random(SEED)
    package = tmp_path / "package"
    shutil.copytree(
        ROOT / "launchkit", package / "launchkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    corpus = small_site(tmp_path / "site")
    site = Site(corpus.root, package, rng)
    mirrors = [Mirror(corpus.root, tmp_path / f"mirror{n}") for n in range(CLEAN_PROCESSES)]
    zygote = Zygote()
    code = zygote.with_code(package, corpus.root)
    cleans = [Builder(mirror.root, package, code) for mirror in mirrors]
    incremental = Builder(corpus.root, package, code)
    builders = [incremental, *cleans]
    for builder in builders:
        builder.start()
    changed: set[Path] = set()
    history: list[str] = []
    kinds = [edit for edit, weight in EDITS for _ in range(weight)]
    # By clean process: the step it is building, the incremental build's answer, and the
    # clean build's once read.
    pending: dict[int, tuple[str, dict, dict | None]] = {}
    # CPU seconds of the builds (with their hashes), by side: printed at the end.
    spent = {"incremental": 0.0, "clean": 0.0}

    def check(number: int) -> None:
        """Compare clean process ``number``'s answer with the incremental one of its step."""
        where, ours, theirs = pending.pop(number)
        theirs = theirs or cleans[number].answer(where)
        spent["clean"] += theirs.get("cpu", 0.0)
        for field in ("ok", "error", "warnings"):
            assert ours.get(field) == theirs.get(field), where
        if ours["ok"]:
            # Each process hashed its own files' bytes: the same paths, the same hashes.
            built, expected = ours["files"], theirs["files"]
            assert sorted(built) == sorted(expected), where
            different = [name for name in built if built[name] != expected[name]]
            assert different == [], where

    try:
        for step in range(STEPS + 1):
            if step:
                edit = rng.choice(kinds)
                if edit in CODE_EDITS:  # no process may be running the code being changed
                    for number in list(pending):
                        check(number)
                what, paths = edit(site)
                history.append(what)
                changed |= paths
                for mirror in mirrors:
                    mirror.edited |= {path.relative_to(corpus.root) for path in paths}
                if not paths:  # launchkit itself changed: new processes run the new code
                    for builder in builders:
                        builder.stop()
                    code.stop()
                    code = zygote.with_code(package, corpus.root)
                    for builder in builders:
                        builder.zygote = code
                        builder.start()
            fresh = rng.random() < 0.2
            where = f"seed {SEED}, step {step}: {history[-3:]}"
            number = step % CLEAN_PROCESSES
            if number in pending:
                check(number)
            mirrors[number].update()
            # A fresh folder each time: the last one is removed while this one is built.
            clean_out = tmp_path / "clean" / str(step)
            cleans[number].send(out=str(clean_out), clean=True, digests=True, discard=True)
            # The photos' variants and the cards, encoded once for all builds (by this one).
            theirs = None if step else cleans[number].answer(where)
            changes = sorted(map(str, changed))
            incremental.send(out="public", changed=changes, fresh=fresh, digests=True)
            ours = incremental.answer(where)
            spent["incremental"] += ours.get("cpu", 0.0)
            pending[number] = (where, ours, theirs)
            if ours["ok"]:
                changed = set()
        for number in list(pending):
            check(number)
    finally:
        for builder in builders:
            builder.stop()
        code.stop()
        zygote.stop()
    # Where the time goes (pytest -s shows it): the rest of the build processes' CPU time
    # is starting them and importing launchkit.
    print(
        f"\n{STEPS} steps in {time.perf_counter() - started:.1f} s: build processes "
        f"{_children_cpu() - children:.1f} CPU s, of which incremental builds "
        f"{spent['incremental']:.1f} and clean builds {spent['clean']:.1f}; the test's own "
        f"process {time.process_time() - own:.1f} CPU s"
    )


def _children_cpu() -> float:
    """CPU seconds of this process's children that ended and were waited for (the zygote
    waits for the build processes it forked)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_two_clean_builds_in_one_process_share_nothing(tmp_path: Path) -> None:
    """A clean build after another in the same process: nothing of the first reaches it."""
    from build_support import write_site

    from launchkit.config import load_config
    from launchkit.site.builder import build_site

    root = write_site(tmp_path)
    config = load_config(root / "site.toml")
    context = BuildContext()
    first = build_site(config, root / "first", clean=True, context=context)
    # Tamper with everything the first build left in memory and in the cache file: a page's
    # front matter and body key, the record of its outputs, the rendered bodies.
    for path, entry in list(context.pages.items()):
        page = entry.page.__class__(**{**entry.page.__dict__, "title": "Tampered"})
        context.pages[path] = entry._replace(page=page, body_key="x")
    for record in context.records.values():
        record.values = dict.fromkeys(record.values, "tampered")
    store = Store(root / ".cache" / "build" / "cache.sqlite3")
    store.write(bodies=dict.fromkeys(store.body_keys(), ("<p>Tampered</p>", "", ())))
    store.close()
    second = build_site(config, root / "second", clean=True, context=context)
    third = build_site(config, root / "third", clean=True)  # a context of its own
    assert snapshot(root / "second") == snapshot(root / "first") == snapshot(root / "third")
    assert second.markdown_rendered == first.markdown_rendered == third.markdown_rendered
    assert second.rendered == second.pages == third.rendered
    assert not [name for name, data in snapshot(root / "second").items() if b"Tampered" in data]


def test_the_code_fingerprint_follows_imports(tmp_path: Path) -> None:
    """A new module counts once imported, and a module's change keys only its steps."""
    package = tmp_path / "launchkit"
    shutil.copytree(ROOT / "launchkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = Codebase(package)
    (package / "site" / "helper.py").write_text("X = 1\n", encoding="utf-8")
    linkcheck = package / "site" / "linkcheck.py"
    linkcheck.write_text(
        linkcheck.read_text(encoding="utf-8").replace(
            "from .content import", "from . import helper\nfrom .content import"
        ),
        encoding="utf-8",
    )
    after = Codebase(package)
    assert "launchkit.site.helper" in after.closure("launchkit.site.linkcheck")
    assert after.fingerprint("links") != before.fingerprint("links")
    for step in ("pages", "bodies", "documents"):
        assert after.fingerprint(step) == before.fingerprint(step), step
    (package / "site" / "helper.py").write_text("X = 2\n", encoding="utf-8")
    assert Codebase(package).fingerprint("links") != after.fingerprint("links")


def test_compiled_templates_are_keyed_by_the_compiler_alone(tmp_path: Path) -> None:
    """A change of launchkit's renderer or steps keeps the compiled templates (Jinja's
    bytecode cache); a change of the compiler or of what it imports compiles them again."""
    package = tmp_path / "launchkit"
    shutil.copytree(ROOT / "launchkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = Codebase(package).module_fingerprint(COMPILER)
    for module in ("render", "builder", "keys", "markup", "content"):
        path = package / "site" / f"{module}.py"
        path.write_text(path.read_text(encoding="utf-8") + "\nX = 1\n", encoding="utf-8")
    assert Codebase(package).module_fingerprint(COMPILER) == before
    for module in ("compiled", "template_usage", "hashing"):
        path = package / "site" / f"{module}.py"
        path.write_text(path.read_text(encoding="utf-8") + "\nX = 1\n", encoding="utf-8")
        changed = Codebase(package).module_fingerprint(COMPILER)
        assert changed != before, module
        before = changed
