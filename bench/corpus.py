"""A deterministic benchmark site: N realistic marketing and blog pages, generated offline.

``generate_corpus(dest, pages)`` writes a complete launchkit site that ``python build.py
--config <dest>/site.toml`` builds: ``content/`` with nested sections (blog posts with dates,
docs in topic folders, feature pages, a pricing page, section indexes with menu entries),
the project's own ``site.toml``, ``templates/`` and ``static/`` copied beside it, and a few
shared images: SVG drawings and, on about one page in ten, raster photos (JPEG and PNG made
with Pillow, so that the build resizes and encodes them). Every body has 300-800 words of
headings, paragraphs, lists, a table, fenced code, emphasis, a blockquote, an image and
internal links (some to ``#fragment`` headings of other pages), and a handful of pages carry
``{{< buy … >}}`` shortcodes. All links resolve, so the corpus also exercises a link checker
without warnings.

The same ``pages`` and ``seed`` give the same bytes: a seeded ``random.Random`` drives every
choice and no date comes from the clock.

The ``export_*`` functions lay the same pages out for the anchor tools (Pelican, MkDocs,
Hugo), so that the benchmark compares like with like.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from PIL import Image, ImageFilter

from launchkit.config import load_config

ROOT = Path(__file__).resolve().parent.parent
MIN_PAGES = 8  # the fixed pages (home, pricing, section indexes) plus a few of each section

# Share of the generated (non-fixed) pages per section; docs pages go into topic folders.
SECTION_SHARES = (("blog", 0.55), ("docs", 0.30), ("features", 0.15))
DOCS_TOPICS = ("getting-started", "monitors", "alerts", "status-pages", "integrations", "api")
IMAGES = ("dashboard", "status-page", "alert-timeline", "team-rota")
# Raster photos: (name, width, height, format); a page in PHOTO_SHARE shows one.
PHOTOS = (
    ("launch-stand", 2400, 1600, "JPEG"),
    ("team-offsite", 2400, 1600, "JPEG"),
    ("support-desk", 2000, 1333, "JPEG"),
    ("status-wall", 1800, 1200, "JPEG"),
    ("uptime-chart", 1400, 900, "PNG"),
    ("incident-map", 1200, 800, "PNG"),
)
PHOTO_SHARE = 0.1
FIRST_POST_DATE = dt.date(2022, 1, 3)
# Posts get a day each from the first date on, several a day past this many: a post dated
# after the build's clock is left out (the 20000-page corpus had 9200 future posts).
POST_DAYS = (dt.date(2025, 12, 31) - FIRST_POST_DATE).days

NOUNS = (
    "monitor", "status page", "alert", "incident", "uptime check", "on-call rota", "webhook",
    "dashboard", "response time", "SSL certificate", "heartbeat", "escalation policy", "team",
    "customer", "release", "deploy", "region", "integration", "maintenance window", "report",
    "latency budget", "cron job", "API endpoint", "domain", "postmortem", "runbook", "SLA",
)  # fmt: skip
ADJECTIVES = (
    "fast", "quiet", "reliable", "noisy", "global", "shared", "public", "private", "scheduled",
    "critical", "flaky", "calm", "predictable", "transparent", "lightweight", "detailed",
)  # fmt: skip
VERBS = (
    "catches", "tracks", "groups", "routes", "silences", "explains", "publishes", "checks",
    "escalates", "summarises", "watches", "reports", "measures", "retries", "confirms",
)  # fmt: skip
SENTENCES = (
    "Every {adj} {noun} {verb} the {noun2} before your customers notice.",
    "Beacon {verb} each {noun} from {num} regions, so one bad route never pages you at night.",
    "A {adj} {noun} is worth more than a dozen {adj2} ones.",
    "Most teams start with {num} monitors and add a {noun} once the first incident is behind them.",
    "When the {noun} fails, Beacon {verb} the {noun2} and keeps the history for {num} days.",
    "You can change the {noun} at any time; the {noun2} follows within a minute.",
    "The {adj} {noun} {verb} what happened, in words your support team can forward.",
    "Nobody wants a {adj} {noun}, and nobody should have to read logs to find the {noun2}.",
    "Set the {noun} once and let Beacon handle the {adj} parts.",
    "In our own numbers, a {adj} {noun} cut time to recovery by {num} percent.",
    "The {noun} keeps working when the {noun2} is down, which is the whole point.",
    "Small teams tell us the {adj} {noun} is the feature they would miss first.",
)
LIST_ITEMS = (
    "{adj} checks for every {noun}",
    "one {noun} per {noun2}",
    "alerts by email, SMS and webhook",
    "a {adj} {noun} in {num} seconds",
    "history kept for {num} days",
    "no agent to install",
)
HEADINGS = (
    "Why the {noun} matters",
    "Setting up a {adj} {noun}",
    "How Beacon {verb} the {noun}",
    "What changes for the {noun}",
    "A {adj} {noun} in practice",
    "Common questions about the {noun}",
    "When to use a {noun}",
    "Limits of the {noun}",
)
CODE_SAMPLES = (
    ("yaml", "monitor:\n  url: https://{host}/health\n  interval: {num}s\n  regions: [eu, us]\n"),
    ("bash", "curl -fsS https://{host}/api/v1/checks \\\n  -H 'Authorization: Bearer $TOKEN'\n"),
    (
        "python",
        "import beacon\n\nclient = beacon.Client()\nclient.pause('{host}', minutes={num})\n",
    ),
    ("json", '{{\n  "monitor": "{host}",\n  "status": "up",\n  "response_ms": {num}\n}}\n'),
)


@dataclass(frozen=True)
class PagePlan:
    """What is decided about a page before any body is written, so others can link to it."""

    source: str  # path under content/, e.g. "docs/alerts/quiet-alert.md"
    title: str
    headings: tuple[str, ...]
    date: dt.date | None = None
    menu: str | None = None
    menu_order: int | None = None
    template: str | None = None

    @property
    def url(self) -> str:
        """The page's pretty URL, by the rules of docs/templates.md."""
        path = self.source.removesuffix(".md")
        path = path.removesuffix("index").rstrip("/")
        return f"/{path}/" if path else "/"

    @property
    def is_post(self) -> bool:
        return self.source.startswith("blog/") and self.date is not None


@dataclass(frozen=True)
class Corpus:
    """A generated site on disk."""

    root: Path
    pages: tuple[Path, ...]  # every Markdown file, sorted

    @property
    def config(self) -> Path:
        return self.root / "site.toml"

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def first_post(self) -> Path:
        """The page a "one-page edit" benchmark edits: the oldest blog post."""
        return next(p for p in self.pages if p.parent.name == "blog" and p.name != "index.md")


def generate_corpus(dest: Path, pages: int, *, seed: int = 0, project_root: Path = ROOT) -> Corpus:
    """Write a site of ``pages`` Markdown pages into ``dest`` (which must not exist yet)."""
    if pages < MIN_PAGES:
        raise ValueError(f"a corpus needs at least {MIN_PAGES} pages, got {pages}")
    rng = random.Random(seed)
    dest.mkdir(parents=True)
    _copy_project_files(project_root, dest)
    products = list(load_config(dest / "site.toml").products)
    plans = _plan_pages(rng, pages)
    written = []
    for plan in plans:
        path = dest / "content" / plan.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_page_text(rng, plan, plans, products), encoding="utf-8")
        written.append(path)
    _write_images(dest / "static" / "images" / "bench")
    return Corpus(root=dest, pages=tuple(sorted(written)))


def split_front_matter(text: str) -> tuple[dict, str]:
    """A page's YAML front matter and its Markdown body."""
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


# --- planning -----------------------------------------------------------------------------


def _plan_pages(rng: random.Random, count: int) -> list[PagePlan]:
    plans = [
        PagePlan("index.md", "Uptime monitoring for small teams", _headings(rng), None,
                 "Home", 10, "home"),
        PagePlan("pricing.md", "Pricing", _headings(rng), None, "Pricing", 20, "pricing"),
        PagePlan("features/index.md", "Features", _headings(rng), None, "Features", 30),
        PagePlan("docs/index.md", "Documentation", _headings(rng), None, "Docs", 40),
        PagePlan("blog/index.md", "Blog", _headings(rng), None, "Blog", 50, "blog"),
    ]  # fmt: skip
    slugs: set[str] = set()
    for section, quota in _section_quotas(count - len(plans)):
        for index in range(quota):
            title = _unique_title(rng, slugs)
            plans.append(_section_page(rng, section, index, title))
    return plans


def _section_quotas(pages: int) -> list[tuple[str, int]]:
    """How many of ``pages`` go to each section; the last takes the rounding remainder."""
    quotas = [(section, round(pages * share)) for section, share in SECTION_SHARES[:-1]]
    last_section, _ = SECTION_SHARES[-1]
    return [*quotas, (last_section, pages - sum(quota for _, quota in quotas))]


def _section_page(rng: random.Random, section: str, index: int, title: str) -> PagePlan:
    slug = _slug(title)
    if section == "blog":
        date = FIRST_POST_DATE + dt.timedelta(days=index % POST_DAYS)
        return PagePlan(f"blog/{slug}.md", title, _headings(rng), date)
    if section == "docs":
        return PagePlan(f"docs/{rng.choice(DOCS_TOPICS)}/{slug}.md", title, _headings(rng))
    return PagePlan(f"features/{slug}.md", title, _headings(rng))


def _unique_title(rng: random.Random, taken_slugs: set[str]) -> str:
    """A new title whose slug (and so file name and URL) no other page has."""
    title = _fill(rng, rng.choice(HEADINGS))
    title = title[0].upper() + title[1:]
    part = 1
    candidate = title
    while _slug(candidate) in taken_slugs:  # combinations repeat: number them like a series
        part += 1
        candidate = f"{title} part {part}"
    taken_slugs.add(_slug(candidate))
    return candidate


def _headings(rng: random.Random) -> tuple[str, ...]:
    """Two to four distinct h2 headings, plain words so their anchor ids are predictable."""
    count = rng.randint(2, 4)
    headings: list[str] = []
    while len(headings) < count:
        heading = _fill(rng, rng.choice(HEADINGS))
        heading = heading[0].upper() + heading[1:]
        if heading not in headings:
            headings.append(heading)
    return tuple(headings)


# --- writing ------------------------------------------------------------------------------


def _page_text(
    rng: random.Random, plan: PagePlan, plans: list[PagePlan], products: list[str]
) -> str:
    return _front_matter(rng, plan) + _body(rng, plan, plans, products)


def _front_matter(rng: random.Random, plan: PagePlan) -> str:
    fields: dict[str, object] = {"title": plan.title, "description": _sentence(rng)}
    if plan.date:
        fields["date"] = plan.date.isoformat()
    if plan.template:
        fields["template"] = plan.template
    if plan.menu:
        fields["menu"] = plan.menu
        fields["menu_order"] = plan.menu_order
    # JSON scalars are valid YAML and quote whatever needs quoting.
    lines = [
        f"{key}: {value if key == 'date' else json.dumps(value)}" for key, value in fields.items()
    ]
    return "---\n" + "\n".join(lines) + "\n---\n"


def _body(rng: random.Random, plan: PagePlan, plans: list[PagePlan], products: list[str]) -> str:
    """300-800 words: an intro, then one section per heading; every kind of block once."""
    others = [other for other in plans if other is not plan]
    blocks = [_table, _code, _bullets, _numbered, _quote, _image]
    rng.shuffle(blocks)
    sections: list[list[str]] = [[f"## {heading}"] for heading in plan.headings]
    for number, section in enumerate(sections):
        section.append(_paragraph(rng, others, fragment=number == 1))
    sections[1] += [f"### {_fill(rng, 'The {adj} {noun}').capitalize()}", _paragraph(rng, others)]
    for number, block in enumerate(blocks):
        sections[number % len(sections)].append(block(rng))
    parts = [_paragraph(rng, others)] + [part for section in sections for part in section]
    if plan.source in ("index.md", "pricing.md") or rng.random() < 0.03:
        parts.append(_shortcode(rng, products))
    if rng.random() < PHOTO_SHARE:
        parts.insert(2, _photo(rng))
    target_words = rng.randint(300, 740)  # the last paragraph may overshoot it by up to ~60 words
    while _words(parts) < target_words:
        parts.insert(rng.randint(1, len(parts)), _paragraph(rng, others))
    return "\n" + "\n\n".join(parts) + "\n"


def _paragraph(rng: random.Random, others: list[PagePlan], *, fragment: bool = False) -> str:
    sentences = [_sentence(rng) for _ in range(rng.randint(2, 4))]
    emphasis = rng.randrange(len(sentences))
    sentences[emphasis] = _emphasise(rng, sentences[emphasis])
    sentences.append(_link_sentence(rng, rng.choice(others), fragment=fragment))
    return " ".join(sentences)


def _link_sentence(rng: random.Random, target: PagePlan, *, fragment: bool) -> str:
    if fragment:
        heading = rng.choice(target.headings)
        return f"The details are under [{heading.lower()}]({target.url}#{_slug(heading)})."
    return f"Read more in [{target.title}]({target.url})."


def _emphasise(rng: random.Random, sentence: str) -> str:
    words = sentence.split(" ")
    at = rng.randrange(len(words) - 1)
    marker = rng.choice(("*", "**", "`"))
    words[at] = f"{marker}{words[at]}{marker}"
    return " ".join(words)


def _bullets(rng: random.Random) -> str:
    return "\n".join(f"- {_list_item(rng)}" for _ in range(rng.randint(3, 5)))


def _numbered(rng: random.Random) -> str:
    return "\n".join(f"{n}. {_list_item(rng)}" for n in range(1, rng.randint(4, 6)))


def _list_item(rng: random.Random) -> str:
    item = _fill(rng, rng.choice(LIST_ITEMS))
    return item[0].upper() + item[1:]


def _table(rng: random.Random) -> str:
    rows = ["| Plan | Monitors | Check interval | Status pages |", "| --- | ---: | ---: | ---: |"]
    for _ in range(rng.randint(2, 4)):
        name = _fill(rng, "{adj} {noun}").capitalize()
        rows.append(f"| {name} | {rng.randint(1, 500)} | {rng.choice((30, 60, 300))} s "
                    f"| {rng.randint(1, 10)} |")  # fmt: skip
    return "\n".join(rows)


def _code(rng: random.Random) -> str:
    language, sample = rng.choice(CODE_SAMPLES)
    host = f"{rng.choice(('api', 'app', 'www', 'status'))}.example.com"
    return f"```{language}\n{sample.format(host=host, num=rng.randint(10, 120))}```"


def _quote(rng: random.Random) -> str:
    return f"> {_sentence(rng)}\n>\n> — a {rng.choice(NOUNS)} owner"


def _image(rng: random.Random) -> str:
    name = rng.choice(IMAGES)
    return f"![The {name.replace('-', ' ')} view](/images/bench/{name}.svg)"


def _photo(rng: random.Random) -> str:
    name, _, _, image_format = rng.choice(PHOTOS)
    suffix = "jpg" if image_format == "JPEG" else "png"
    return f"![The {name.replace('-', ' ')}](/images/bench/{name}.{suffix})"


def _shortcode(rng: random.Random, products: list[str]) -> str:
    key = rng.choice(products)
    if rng.random() < 0.5:
        return f"{{{{< buy {key} >}}}}"
    return f'{{{{< buy {key} "Try {key} free for 14 days" >}}}}'


def _sentence(rng: random.Random) -> str:
    return _fill(rng, rng.choice(SENTENCES))


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        noun=rng.choice(NOUNS),
        noun2=rng.choice(NOUNS),
        adj=rng.choice(ADJECTIVES),
        adj2=rng.choice(ADJECTIVES),
        verb=rng.choice(VERBS),
        num=rng.randint(2, 90),
    )


def _words(parts: Iterable[str]) -> int:
    return sum(len(part.split()) for part in parts)


def _slug(text: str) -> str:
    """The id Python-Markdown's toc extension gives a heading of plain words."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


# --- files beside the content --------------------------------------------------------------


def _copy_project_files(project_root: Path, dest: Path) -> None:
    """The project's config, templates and static files, so the corpus builds like the site."""
    shutil.copyfile(project_root / "site.toml", dest / "site.toml")
    for folder in ("templates", "static"):
        if (project_root / folder).is_dir():
            shutil.copytree(project_root / folder, dest / folder)


def photo(width: int, height: int, seed: int = 0, image_format: str = "JPEG") -> bytes:
    """A photo-like image (smooth colour fields with fine grain), the same bytes for the
    same arguments: it compresses as a photo does, so byte sizes are realistic."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (48, 32), rng.randbytes(48 * 32 * 3))
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    grain = grain.filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")
    image = Image.blend(image, grain, 0.18)
    buffer = io.BytesIO()
    options = {"quality": 92} if image_format == "JPEG" else {}
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _write_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, (name, width, height, image_format) in enumerate(PHOTOS):
        suffix = "jpg" if image_format == "JPEG" else "png"
        (folder / f"{name}.{suffix}").write_bytes(photo(width, height, number, image_format))
    for number, name in enumerate(IMAGES):
        hue = number * 90
        (folder / f"{name}.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360">'
            f'<rect width="640" height="360" fill="hsl({hue},60%,85%)"/>'
            f'<text x="32" y="64" font-size="32">{name}</text></svg>\n',
            encoding="utf-8",
        )


# --- the same pages for the anchor tools ----------------------------------------------------

# A buy form without the catalogue: the anchors have no shortcodes of ours, only HTML blocks.
_SHORTCODE = re.compile(r"^\{\{< buy (\w+).*>\}\}$", re.MULTILINE)
_STATIC_FORM = (
    '<form class="buy-form" method="post" action="/create-checkout-session">'
    '<input type="hidden" name="product" value="\\1"><button type="submit">Buy</button></form>'
)

PELICANCONF = """\
# Minimal Pelican settings for the benchmark: the bundled theme, the same Markdown
# extensions as the Python-Markdown floor, and the content cache on for rebuilds.
AUTHOR = "The Beacon team"
SITENAME = "Beacon"
SITEURL = ""
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
THEME = "notmyidea"
ARTICLE_PATHS = ["blog"]
PAGE_PATHS = ["pages"]
STATIC_PATHS = ["images"]
DEFAULT_PAGINATION = 10
MARKDOWN = {
    "extension_configs": {"markdown.extensions.extra": {}, "markdown.extensions.toc": {}},
    "output_format": "html5",
}
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CACHE_PATH = "cache"
# Like launchkit's navigation, the menu holds only the pages that ask for it: Pelican's
# default lists every page in every page's menu, which is quadratic in the page count.
DISPLAY_PAGES_ON_MENU = False
"""

MKDOCS_YML = """\
# Minimal MkDocs settings for the benchmark: the built-in theme, the same Markdown extensions
# as the Python-Markdown floor, and (appended) a nav of the pages with a menu entry, like
# launchkit's: without one MkDocs puts every page into every page's navigation.
site_name: Beacon
site_url: https://beacon.example/
docs_dir: docs
site_dir: site
theme:
  name: mkdocs
markdown_extensions:
  - extra
  - toc
"""

HUGO_FILES = {
    "hugo.toml": 'baseURL = "https://beacon.example/"\ntitle = "Beacon"\n'
    "[markup.goldmark.renderer]\nunsafe = true\n",
    "layouts/_default/baseof.html": "<!doctype html><html><head><title>{{ .Title }}</title>"
    "</head><body><nav>{{ range .Site.Menus.main }}<a href='{{ .URL }}'>{{ .Name }}</a>"
    '{{ end }}</nav>{{ block "main" . }}{{ end }}</body></html>\n',
    "layouts/_default/single.html": '{{ define "main" }}<h1>{{ .Title }}</h1>'
    "{{ .TableOfContents }}{{ .Content }}{{ end }}\n",
    "layouts/_default/list.html": '{{ define "main" }}<h1>{{ .Title }}</h1>{{ .Content }}'
    "{{ range .Pages }}<a href='{{ .RelPermalink }}'>{{ .Title }}</a>{{ end }}{{ end }}\n",
    "layouts/shortcodes/buy.html": '<form class="buy-form" method="post" '
    'action="/create-checkout-session"><input type="hidden" name="product" '
    'value="{{ .Get 0 }}"><button type="submit">{{ or (.Get 1) "Buy" }}</button></form>\n',
}


def export_pelican(corpus: Corpus, dest: Path) -> Path:
    """Pelican's layout: blog posts as articles, every other page under ``pages/``.

    Pelican reads ``Key: value`` metadata rather than YAML, and derives URLs from slugs, so
    each page gets an explicit slug made unique from its path.
    """
    menu = []
    for page, meta, body in _pages_with_meta(corpus):
        relative = page.relative_to(corpus.content_dir)
        is_post = "date" in meta
        target = dest / "content" / (relative if is_post else Path("pages", relative))
        fields = {"Title": meta["title"], "Summary": meta["description"]}
        fields["Slug"] = str(relative.with_suffix("")).replace("/", "-")
        if is_post:
            fields["Date"] = str(meta["date"])
        header = "".join(f"{key}: {value}\n" for key, value in fields.items())
        _write(target, header + "\n" + _SHORTCODE.sub(_STATIC_FORM, body))
        if "menu" in meta:
            menu.append((meta["menu_order"], meta["menu"], f"/pages/{fields['Slug']}.html"))
    shutil.copytree(corpus.root / "static" / "images", dest / "content" / "images")
    items = [(label, url) for _, label, url in sorted(menu)]
    _write(dest / "pelicanconf.py", f"{PELICANCONF}MENUITEMS = {items!r}\n")
    return dest


def export_mkdocs(corpus: Corpus, dest: Path) -> Path:
    """MkDocs' layout: the same tree under ``docs/``, with YAML front matter as it is.

    Only ``template`` goes: MkDocs reads that key too, as a template of its own theme.
    """
    nav = []
    for page, meta, body in _pages_with_meta(corpus):
        meta.pop("template", None)
        if "menu" in meta:
            nav.append((meta["menu_order"], meta["menu"], page.relative_to(corpus.content_dir)))
        text = "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n"
        text += _SHORTCODE.sub(_STATIC_FORM, body)
        _write(dest / "docs" / page.relative_to(corpus.content_dir), text)
    shutil.copytree(corpus.root / "static" / "images", dest / "docs" / "images")
    entries = "".join(f"  - {label}: {path}\n" for _, label, path in sorted(nav))
    _write(dest / "mkdocs.yml", f"{MKDOCS_YML}nav:\n{entries}")
    return dest


def export_hugo(corpus: Corpus, dest: Path) -> Path:
    """Hugo's layout is ours (YAML front matter, ``{{< buy >}}`` is Hugo's shortcode syntax).

    Section index pages become ``_index.md`` and a minimal theme renders single pages,
    lists, the menu and the buy shortcode.
    """
    for page in corpus.pages:
        relative = page.relative_to(corpus.content_dir)
        if relative.name == "index.md":
            relative = relative.with_name("_index.md")
        _write(dest / "content" / relative, page.read_text(encoding="utf-8"))
    shutil.copytree(corpus.root / "static", dest / "static")
    for name, text in HUGO_FILES.items():
        _write(dest / name, text)
    return dest


def _pages_with_meta(corpus: Corpus) -> Iterable[tuple[Path, dict, str]]:
    for page in corpus.pages:
        meta, body = split_front_matter(page.read_text(encoding="utf-8"))
        yield page, meta, body


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
