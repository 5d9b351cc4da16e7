"""The media step: the site's files as published, image variants and social cards.

    plan_media   what is published under which name, each page's card (cheap: hashes, headers)
    make_media   encode what the image cache lacks (Pillow: the slow part, over workers)

:func:`plan_media` gives a :class:`Media`: :mod:`.assets` for the fingerprinted names, the
image variants and the documents' rewriting, :mod:`.social` for each page's card. Both are
pure functions of the files, the config and the pages; :func:`make_media` fills the
content-addressed image cache (``.cache/images/``), so a rebuild encodes nothing again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import SiteConfig
from .assets import Assets, outside_names, plan_assets
from .content import Asset, Page, display_path, walk_files
from .images import encode, write_atomically
from .publish import SiteFiles
from .social import CardSpec, card_spec, card_style, card_url, draw_card

# Image variants and social cards, by content hash: kept across --clean builds (a clean
# build's images would be the same bytes).
IMAGE_CACHE = Path(".cache") / "images"
# Names another image cache folder: being content-addressed, one may serve several sites,
# or a CI job's cache between runs, so that each image is encoded once.
IMAGE_CACHE_ENV = "LAUNCHKIT_IMAGE_CACHE"

# How the builder runs jobs: ``run(job, items)`` is ``[job(item) for item in items]``,
# maybe over worker processes (so jobs are module-level functions of picklable items).
RunJobs = Callable[[Callable[[Any], Any], Sequence[Any]], list]


@dataclass(frozen=True)
class Card:
    """One page's social card: its URL, what it is drawn from, its file in the image cache."""

    url: str
    spec: CardSpec
    cached: str  # relative to the image cache folder


@dataclass(frozen=True)
class Media:
    """The site's files as published (:mod:`.assets`) and each page's social card."""

    assets: Assets
    cards: dict[str, Card]  # by page URL
    base_url: str
    card_style: str = ""  # what every title card is drawn in (repr of its CardSpec)

    def social_image(self, page: Page) -> str:
        """The template global ``social_image(page)``: the absolute URL of its card."""
        return self.base_url.rstrip("/") + self.cards[page.url].url

    def identities(self) -> dict[str, str]:
        """What documents see of the media, as identities (:class:`.keys.Identities`):
        ``assets`` (published names and image sizes, every document needs it) and
        ``social_cards`` (with a page's own identity, its card's URL: ``social_image``)."""
        style = hashlib.blake2b(self.card_style.encode(), digest_size=16).hexdigest()
        assets = self.assets.digest
        return {"assets": assets, "social_cards": f"{assets}:{style}"}

    def for_documents(self) -> Media:
        """What rendering documents needs, for a worker's payload: the published files'
        bytes left out (rewriting documents needs only the names and images)."""
        return dataclasses.replace(self, assets=dataclasses.replace(self.assets, files={}))

    def add_files(self, files: SiteFiles, pages: Sequence[Page], cache: Path) -> None:
        """Add what the site publishes besides pages and generated files to ``files``:
        static/ and the page bundles (fingerprinted), image variants, social cards."""
        for output, (data, origin) in sorted(self.assets.files.items()):
            files.add(output, data, origin)
        # os.path rather than pathlib: a social card per page on every build.
        folder = str(cache)
        for source, variant in self.assets.variants():
            files.add(variant.output, os.path.join(folder, variant.cached), display_path(source))
        for page in pages:
            card = self.cards[page.url]
            files.add(
                card.url.lstrip("/"),
                os.path.join(folder, card.cached),
                f"the social card of {page.source}",
            )


# plan_assets, or the cache layer's stand-in for it (same arguments, same result).
PlanAssets = Callable[[SiteConfig, Mapping[str, Path], Iterable[str]], Assets]


def plan_media(
    config: SiteConfig,
    pages: Sequence[Page],
    assets: Sequence[Asset],
    plan: PlanAssets = plan_assets,
    static: Iterable[str] | None = None,
) -> Media:
    """The published names of static/ and the page bundles, image variants, cards.
    ``static``: the files of static/ in :func:`.content.walk_files`' order, when the caller
    walked it already."""
    sources = SiteFiles()  # refuses a static file and a bundle file at one path
    for asset in assets:
        sources.add(asset.output, asset.path, display_path(asset.path))
    if config.static_dir.is_dir():
        for name in walk_files(config.static_dir) if static is None else static:
            path = Path(name)
            relative = path.relative_to(config.static_dir).as_posix()
            sources.add(relative, path, display_path(path))
    files = {output: Path(data) for output, data in sources.items()}
    planned = plan(config, files, outside_names(config, files))
    style = card_style(config)
    cards = {}
    for page in pages:
        spec = card_spec(page, style, planned)
        key, suffix = spec.key(), spec.suffix
        cards[page.url] = Card(card_url(page, key, suffix), spec, f"cards/{key}.{suffix}")
    return Media(planned, cards, config.site.base_url, repr(style))


def image_cache_folder(root: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """The image cache of the site whose ``site.toml`` is in ``root``: ``.cache/images/``
    beside it, or the folder :data:`IMAGE_CACHE_ENV` names (relative to the working folder)."""
    named = environ.get(IMAGE_CACHE_ENV, "")
    return Path(named).expanduser().absolute() if named else root / IMAGE_CACHE


def make_media(media: Media, folder: Path, run: RunJobs) -> int:
    """Encode the variants and cards not in the image cache ``folder``; how many were."""
    # os.path rather than pathlib: this looks at a file per page on every build.
    cache = str(folder)
    missing: dict[str, list[tuple[int, str, str]]] = {}
    for source, variant in media.assets.variants():
        target = os.path.join(cache, variant.cached)
        if not os.path.isfile(target):
            missing.setdefault(source, []).append((variant.width, variant.format, target))
    specs = {os.path.join(cache, card.cached): card.spec for card in media.cards.values()}
    cards = [(target, specs[target]) for target in sorted(specs) if not os.path.isfile(target)]
    run(encode_variants, sorted(missing.items()))
    run(draw_card_into, cards)
    return sum(len(variants) for variants in missing.values()) + len(cards)


def media_job(state: object, item: tuple[Callable[[Any], Any], Any]) -> Any:
    """One job of :func:`make_media` as the builder's worker pool runs it (no state)."""
    job, argument = item
    return job(argument)


def encode_variants(job: tuple[str, list[tuple[int, str, str]]]) -> None:
    """Encode the variants of one image (decoded once) into the image cache."""
    source, variants = job
    sizes = [(width, image_format) for width, image_format, _ in variants]
    encoded = encode(Path(source).read_bytes(), sizes)
    for (_, _, target), data in zip(variants, encoded, strict=True):
        write_atomically(Path(target), data)


def draw_card_into(job: tuple[str, CardSpec]) -> None:
    """Draw one social card into the image cache."""
    target, spec = job
    write_atomically(Path(target), draw_card(spec))


__all__ = [
    "IMAGE_CACHE",
    "IMAGE_CACHE_ENV",
    "Card",
    "Media",
    "image_cache_folder",
    "make_media",
    "media_job",
    "plan_media",
]
