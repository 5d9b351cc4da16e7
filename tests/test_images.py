"""Images at build time: variants, markup, social cards, fingerprinted names, the image cache.

The fixture site (tests/build_support.py) gets a post with a 3000 px JPEG (in static/) and
a 900 px PNG (beside the post), both made with Pillow; the site is built through
``build_site`` so that each build says how many images it encoded.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from build_support import run_build, snapshot, write_site
from image_support import image_size, photo, soup_of, srcset_urls, write_bytes

from launchkit.config import load_config
from launchkit.errors import SiteError
from launchkit.site.builder import BuildReport, build_site
from launchkit.site.media import IMAGE_CACHE_ENV

# These tests count what each build encodes, in each site's own image cache.
pytestmark = pytest.mark.usefixtures("own_image_cache")

POST = (
    "---\ntitle: Photos from the launch\ndate: 2026-02-03\n---\n"
    "The stand.\n\n"
    "![The stand at the fair](/images/stand.jpg)\n\n"  # line 7
    "A chart.\n\n"
    "![Sign-ups by day](../signups.png)\n"  # line 11
)


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    """A 3000x2000 JPEG in static/ and a 900x600 PNG beside the post, by their site file."""
    return {
        "static/images/stand.jpg": photo(3000, 2000, seed=1),
        "content/blog/signups.png": photo(900, 600, seed=2, image_format="PNG"),
    }


def write_photo_site(root: Path, photos: dict[str, bytes]) -> Path:
    write_site(root, {"content/blog/photos.md": POST})
    for relative, data in photos.items():
        write_bytes(root / relative, data)
    return root


@pytest.fixture(scope="session")
def encoded(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, bytes]) -> Path:
    """An image cache holding the photos' variants, made by one build. It is keyed by
    content alone, so every test site may start with a copy (encoding is the slow part)."""
    root = write_photo_site(tmp_path_factory.mktemp("encoded"), photos)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(IMAGE_CACHE_ENV)
        build(root)
    return root / ".cache" / "images"


@pytest.fixture
def cold_photo_site(tmp_path: Path, photos: dict[str, bytes]) -> Path:
    """The fixture site with the photo post, nothing encoded yet."""
    return write_photo_site(tmp_path, photos)


@pytest.fixture
def photo_site(cold_photo_site: Path, encoded: Path) -> Path:
    """The same with the image cache of another build of it."""
    shutil.copytree(encoded, cold_photo_site / ".cache" / "images")
    return cold_photo_site


def build(root: Path, out: str = "public") -> BuildReport:
    return build_site(load_config(root / "site.toml"), root / out, workers=1)


def internal(url: str, page_url: str) -> str | None:
    """The site path of an internal URL, or None for another site's."""
    parts = urlsplit(urljoin(page_url, url))
    if parts.netloc and parts.netloc != "shop.example":
        return None
    return parts.path


def published(out: Path, path: str) -> Path:
    return out / (path.lstrip("/") + ("index.html" if path.endswith("/") else ""))


# --- variants and markup -------------------------------------------------------------------


def test_post_images_get_webp_variants_no_wider_than_the_original(photo_site: Path) -> None:
    build(photo_site)
    out = photo_site / "public"
    soup = soup_of(out / "blog/photos/index.html")
    pictures = soup.select("main picture")
    assert len(pictures) == 2
    originals = {"stand": 3000, "signups": 900}
    for picture, (stem, original) in zip(pictures, originals.items(), strict=True):
        source, img = picture.find("source"), picture.find("img")
        assert source["type"] == "image/webp"
        assert source["sizes"] == img["sizes"]
        webp = srcset_urls(source["srcset"])
        fallback = srcset_urls(img["srcset"])
        assert [width for _, width in webp] == [width for _, width in fallback]
        assert all(url.endswith(".webp") for url, _ in webp)
        assert img["src"] == fallback[-1][0]
        assert all(stem in url for url, _ in webp + fallback)
        for url, width in webp + fallback:
            actual_width, _ = image_size(out / url.lstrip("/"))
            assert actual_width == width <= original
        assert max(width for _, width in webp) == min(original, 1600)
    # The PNG stays a PNG beside its WebP; the JPEG a JPEG.
    assert pictures[0].find("img")["src"].endswith(".jpg")
    assert pictures[1].find("img")["src"].endswith(".png")


def test_every_img_has_width_and_height_and_images_below_the_first_load_lazily(
    photo_site: Path,
) -> None:
    build(photo_site)
    soup = soup_of(photo_site / "public/blog/photos/index.html")
    images = soup.find_all("img")
    assert images
    for img in images:
        assert img.get("width") and img.get("height"), img
    first, second = soup.select("main img")
    assert first["width"] == "1600" and first["height"] == "1067"  # 3000x2000 at 1600 wide
    assert second["width"] == "900" and second["height"] == "600"
    assert "loading" not in first.attrs  # the first screen: load at once
    assert second["loading"] == "lazy" and second["decoding"] == "async"
    assert first["alt"] == "The stand at the fair"


def test_an_svg_gets_its_size_and_a_hashed_name(site: Path) -> None:
    write_bytes(
        site / "content/blog/chart.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 340"></svg>',
    )
    build(site)
    img = soup_of(site / "public/blog/first/index.html").select_one("main img")
    assert (img["width"], img["height"]) == ("640", "340")
    assert re.fullmatch(r"/blog/chart\.[0-9a-f]{8}\.svg", img["src"])


def test_variants_and_cards_are_the_same_bytes_on_every_build(photo_site: Path) -> None:
    build(photo_site, "first")  # with variants and cards encoded by another build
    shutil.rmtree(photo_site / ".cache")
    assert build(photo_site, "second").images_processed > 0
    first, second = snapshot(photo_site / "first"), snapshot(photo_site / "second")
    assert first.keys() == second.keys()
    different = [name for name in first if first[name] != second[name]]
    assert not different


def test_variants_carry_no_metadata(photo_site: Path) -> None:
    from PIL import Image

    build(photo_site)
    variants = sorted((photo_site / "public/images").glob("stand.*-*.*"))
    assert variants
    for path in variants:
        with Image.open(path) as image:
            assert not image.getexif(), path
            assert "icc_profile" not in image.info and "exif" not in image.info, path


# --- the image cache -----------------------------------------------------------------------


def test_a_rebuild_encodes_no_image_again(cold_photo_site: Path) -> None:
    photo_site = cold_photo_site
    first = build(photo_site)
    # Two formats of 4 widths (3000 px: 480 to 1600) and 3 (900 px: 480, 800, 900); a card
    # per page.
    assert first.images_processed == 2 * (4 + 3) + first.pages
    assert build(photo_site).images_processed == 0
    # An edit of the post's text: its card stays (same title), no image is encoded.
    post = photo_site / "content/blog/photos.md"
    post.write_text(POST + "\nOne more line.\n", encoding="utf-8")
    assert build(photo_site).images_processed == 0
    # Another build output, or the same image under another name: still nothing to encode.
    write_bytes(
        photo_site / "static/images/copy.jpg", (photo_site / "static/images/stand.jpg").read_bytes()
    )
    assert build(photo_site, "elsewhere").images_processed == 0


def test_sites_may_share_an_image_cache_named_by_the_environment(
    tmp_path: Path, photos: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IMAGE_CACHE_ENV, str(tmp_path / "shared"))
    first = write_photo_site(tmp_path / "first", photos)
    second = write_photo_site(tmp_path / "second", photos)
    report = build(first)
    assert report.images_processed == 2 * (4 + 3) + report.pages
    assert build(second).images_processed == 0
    assert snapshot(first / "public") == snapshot(second / "public")
    assert not (first / ".cache" / "images").exists()
    assert len(list((tmp_path / "shared").rglob("*.webp"))) == 4 + 3


def test_a_changed_image_gets_new_names_and_only_it_is_encoded(photo_site: Path) -> None:
    build(photo_site)
    page = photo_site / "public/blog/photos/index.html"
    before = soup_of(page).select("main img")[1]["src"]
    write_bytes(
        photo_site / "content/blog/signups.png", photo(900, 600, seed=3, image_format="PNG")
    )
    report = build(photo_site)
    assert report.images_processed == 3 * 2  # three widths, two formats; no card changed
    after = soup_of(page).select("main img")[1]["src"]
    assert after != before
    assert not (photo_site / "public" / before.lstrip("/")).exists()
    assert (photo_site / "public" / after.lstrip("/")).is_file()


# --- errors --------------------------------------------------------------------------------


def test_a_broken_image_names_the_page_and_line(photo_site: Path) -> None:
    write_bytes(photo_site / "content/blog/signups.png", b"not a png at all")
    before = snapshot(photo_site / "public") if (photo_site / "public").exists() else {}
    result = run_build(photo_site)
    assert result.returncode == 1
    assert "content/blog/photos.md:11:" in result.stderr
    assert "signups.png" in result.stderr and "not an image Pillow can read" in result.stderr
    assert "Traceback" not in result.stderr
    assert (snapshot(photo_site / "public") if (photo_site / "public").exists() else {}) == before


def test_a_missing_image_is_a_warning_at_its_line(photo_site: Path) -> None:
    post = photo_site / "content/blog/photos.md"
    post.write_text(POST.replace("/images/stand.jpg", "/images/gone.jpg"), encoding="utf-8")
    result = run_build(photo_site)
    assert result.returncode == 0, result.stderr
    assert "content/blog/photos.md:7: warning:" in result.stderr
    assert "/images/gone.jpg" in result.stderr


# --- social cards --------------------------------------------------------------------------


def card_of(out: Path, page: str) -> Path:
    soup = soup_of(out / page)
    og = soup.find("meta", property="og:image")
    twitter = soup.find("meta", attrs={"name": "twitter:image"})
    assert og is not None and twitter is not None and og["content"] == twitter["content"]
    assert og["content"].startswith("https://shop.example/social/")
    return out / urlsplit(og["content"]).path.lstrip("/")


META = Path(__file__).resolve().parent.parent / "templates/partials/meta.html"


@pytest.fixture
def card_site(photo_site: Path) -> Path:
    """The photo site whose base template includes the bundled meta partial (og:image)."""
    base = photo_site / "templates/base.html"
    title = "<title>{{ page.title }} | {{ site.title }}</title>"
    base.write_text(base.read_text().replace(title, '{% include "partials/meta.html" %}'))
    write_bytes(photo_site / "templates/partials/meta.html", META.read_bytes())
    return photo_site


def test_every_page_gets_its_own_1200x630_card(card_site: Path) -> None:
    build(card_site)
    out = card_site / "public"
    pages = [path.relative_to(out).as_posix() for path in out.rglob("*.html")]
    cards = {page: card_of(out, page) for page in pages}
    assert len(set(cards.values())) == len(pages)
    for card in cards.values():
        assert image_size(card) == (1200, 630)


def test_a_page_image_is_cropped_into_its_card(card_site: Path) -> None:
    from PIL import Image

    post = card_site / "content/blog/photos.md"
    post.write_text(POST.replace("date:", "image: /images/stand.jpg\ndate:"), encoding="utf-8")
    build(card_site)
    card = card_of(card_site / "public", "blog/photos/index.html")
    assert card.suffix == ".jpg"
    with Image.open(card) as image, Image.open(card_site / "static/images/stand.jpg") as source:
        assert image.size == (1200, 630)
        # A crop of the photo, not a drawn card: its colours are the photo's.
        expected = source.resize((1200, 800)).crop((0, 85, 1200, 715))
        difference = sum(
            abs(a - b)
            for a, b in zip(
                image.resize((12, 6)).tobytes(), expected.resize((12, 6)).tobytes(), strict=True
            )
        )
        assert difference / (12 * 6 * 3) < 12


def test_a_card_changes_with_the_title_and_the_theme(card_site: Path) -> None:
    build(card_site)
    out = card_site / "public"
    first = card_of(out, "blog/first/index.html")
    first_bytes = first.read_bytes()
    post = card_site / "content/blog/first.md"
    post.write_text(post.read_text().replace("First post", "The first post"), encoding="utf-8")
    build(card_site)
    retitled = card_of(out, "blog/first/index.html")
    assert retitled != first and retitled.read_bytes() != first_bytes
    config = card_site / "site.toml"
    config.write_text(
        config.read_text() + '\n[theme.colors]\naccent = "#b91c1c"\n', encoding="utf-8"
    )
    build(card_site)
    assert card_of(out, "blog/first/index.html") != retitled


def test_a_missing_page_image_is_an_error_at_its_line(card_site: Path) -> None:
    post = card_site / "content/blog/photos.md"
    post.write_text(POST.replace("date:", "image: /images/nope.jpg\ndate:"), encoding="utf-8")
    with pytest.raises(SiteError) as caught:
        build(card_site)
    assert caught.value.line == 3
    assert caught.value.path.endswith("content/blog/photos.md")
    assert "/images/nope.jpg" in caught.value.message


# --- fingerprinted assets ------------------------------------------------------------------


def references(out: Path) -> list[tuple[str, str]]:
    """Every internal URL the built HTML and CSS use: (file, site path)."""
    found = []
    for path in sorted(out.rglob("*.html")):
        page_url = "/" + path.relative_to(out).as_posix().removesuffix("index.html")
        soup = soup_of(path)
        for tag in soup.find_all(True):
            urls = [tag.get(name) for name in ("href", "src", "poster") if tag.get(name)]
            for name in ("srcset",):
                if tag.get(name):
                    urls += [url for url, _ in srcset_urls(tag[name])]
            if tag.name == "meta" and tag.get("property") == "og:image":
                urls.append(tag.get("content", ""))
            for url in urls:
                site_path = internal(url, page_url)
                if site_path and not url.startswith("#"):
                    found.append((path.name, site_path))
    for path in sorted(out.rglob("*.css")):
        css_url = "/" + path.relative_to(out).as_posix()
        for url in re.findall(r"url\(\"?([^\")]+)\"?\)", path.read_text()):
            found.append((path.name, urlsplit(urljoin(css_url, url)).path))
    return found


def test_every_reference_resolves_to_a_hashed_file(card_site: Path) -> None:
    css = 'body { background: url("../images/stand.jpg") } h1 { background: url(/bg.png) }\n'
    (card_site / "static/css/site.css").write_text(css, encoding="utf-8")
    write_bytes(card_site / "static/bg.png", photo(64, 64, image_format="PNG"))
    base = (card_site / "templates/base.html").read_text()
    base = base.replace("</head>", '<link rel="stylesheet" href="/css/site.css"></head>')
    (card_site / "templates/base.html").write_text(base, encoding="utf-8")
    report = build(card_site)
    assert not report.warnings  # the link checker found every link
    out = card_site / "public"
    found = references(out)
    assert any(path.endswith(".css") for _, path in found)
    for origin, path in found:
        if path.startswith(("/blog/photos", "/blog/first", "/shop")):
            continue
        assert published(out, path).is_file(), (origin, path)
        if path.endswith((".css", ".png", ".jpg", ".webp", ".svg")):
            assert re.search(r"\.[0-9a-f]{8}(-\d+)?\.\w+$", path), (origin, path)
    # url() inside the CSS points at hashed files too, and the CSS is published hashed only.
    (stylesheet,) = out.glob("css/site.*.css")
    assert re.findall(r"url\(\"(/images/stand\.[0-9a-f]{8}\.jpg)\"\)", stylesheet.read_text())
    assert not (out / "css/site.css").exists()
    # Files outside the site may link by name keep it: the top of static/.
    assert (out / "bg.png").is_file()


def test_hashed_names_change_when_the_content_does(site: Path) -> None:
    build(site)
    out = site / "public"
    (first,) = out.glob("css/site.*.css")
    (site / "static/css/site.css").write_text("body { margin: 1px }\n", encoding="utf-8")
    build(site)
    (second,) = out.glob("css/site.*.css")
    assert first.name != second.name
    # An image a stylesheet uses changes the stylesheet's name too.
    write_bytes(site / "static/images/bg.png", photo(32, 32, image_format="PNG"))
    (site / "static/css/site.css").write_text("body { background: url(../images/bg.png) }\n")
    build(site)
    (third,) = out.glob("css/site.*.css")
    write_bytes(site / "static/images/bg.png", photo(32, 32, seed=9, image_format="PNG"))
    build(site)
    (fourth,) = out.glob("css/site.*.css")
    assert third.name != fourth.name
