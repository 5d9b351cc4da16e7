"""Schema.org JSON-LD, which search engines read for rich results: one script per page.

- the home page (``/``): ``Organization`` and ``WebSite``;
- a page that sells products: a ``Product`` with an ``Offer`` for each. A page sells what
  its buy forms post (the ``buy`` shortcode's forms, found by the form contract's hidden
  ``product`` input) and what its template lists in ``{% set sells = … %}`` (the pricing
  grid). The offer's ``price``/``priceCurrency`` come from the catalogue's ``price`` and
  ``currency``, and are left out when not configured;
- a dated page (a blog post): ``BlogPosting``;
- a page below another (``/blog/launch/``): ``BreadcrumbList``, named after the pages above.

The JSON is escaped for a ``<script>`` element: no ``</script>``, ``<!--`` or line separator
in a title or description can end the element early or break the script.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jinja2
from markupsafe import Markup

from ..config import Product, SiteConfig
from .content import Page

SCHEMA = "https://schema.org"
# Google shows at most this many characters of a headline.
_HEADLINE = 110
_INPUT = re.compile(r"<input\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(name|value)="([^"]*)"')
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def parent_titles(pages: Sequence[Page]) -> dict[str, str]:
    """The title of every page that has pages below it, by URL (``/blog/`` -> "Blog")."""
    urls = {page.url: page for page in pages}
    parents = {}
    for page in pages:
        for url in _ancestors(page.url):
            if url in urls:
                parents[url] = urls[url].title
    return dict(sorted(parents.items()))


def _ancestors(url: str) -> list[str]:
    """``/blog/2026/launch/`` -> ``["/blog/", "/blog/2026/"]`` (the home page left out)."""
    parts = url.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: depth + 1]) + "/" for depth in range(len(parts))]


def products_in(content: str) -> list[str]:
    """The product keys the buy forms in ``content`` post, in order, once each."""
    if 'name="product"' not in content:
        return []
    keys = []
    for tag in _INPUT.findall(content):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if attributes.get("name") == "product" and "value" in attributes:
            keys.append(html.unescape(attributes["value"]))
    return list(dict.fromkeys(keys))


class StructuredData:
    """The JSON-LD of each page of one build: the template global ``structured_data(page)``."""

    def __init__(self, config: SiteConfig, logo: str, parents: Mapping[str, str]) -> None:
        self.config = config
        self.site = config.site
        self.logo = self.site.absolute(logo) if logo else None
        self.parents = parents

    @jinja2.pass_context
    def script(self, context: jinja2.runtime.Context, page: Page) -> Markup:
        """``<script type="application/ld+json">`` for ``page``, or nothing if it has none.

        A template lists the products it sells besides its content's forms in ``sells``
        (products or keys).
        """
        sold = self.sold(page, context.get("sells") or ())
        nodes = self.nodes(page, sold)
        if not nodes:
            return Markup("")
        data = {"@context": SCHEMA, "@graph": nodes}
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return Markup(  # noqa: S704 - JSON with every character that could end the element escaped
            f'<script type="application/ld+json">{text.translate(_SCRIPT_ESCAPES)}</script>'
        )

    def sold(self, page: Page, listed: Iterable[Product | str]) -> list[Product]:
        keys = [item if isinstance(item, str) else item.key for item in listed]
        keys += products_in(str(page.content))
        products = self.config.products
        return [products[key] for key in dict.fromkeys(keys) if key in products]

    def nodes(self, page: Page, sold: Sequence[Product]) -> list[dict[str, Any]]:
        nodes = []
        if page.url == "/":
            nodes += [self.organization(), self.website()]
        nodes += [self.product(page, product) for product in sold]
        if page.date is not None:
            nodes.append(self.blog_posting(page))
        if len(page.url.strip("/").split("/")) > 1:
            nodes.append(self.breadcrumbs(page))
        return nodes

    def organization(self) -> dict[str, Any]:
        return _present(
            {
                "@type": "Organization",
                "@id": self.site.absolute("/#organization"),
                "name": self.site.title,
                "url": self.site.absolute("/"),
                "logo": self.logo,
                "description": self.site.description,
            }
        )

    def website(self) -> dict[str, Any]:
        return _present(
            {
                "@type": "WebSite",
                "@id": self.site.absolute("/#website"),
                "name": self.site.title,
                "url": self.site.absolute("/"),
                "description": self.site.description,
                "inLanguage": self.site.language,
                "publisher": {"@id": self.site.absolute("/#organization")},
            }
        )

    def product(self, page: Page, product: Product) -> dict[str, Any]:
        offer = {
            "@type": "Offer",
            "url": page.absolute_url,
            "availability": f"{SCHEMA}/InStock",
        }
        if product.price is not None:
            offer["price"] = format(product.price, "f")
            offer["priceCurrency"] = product.currency
        return _present(
            {
                "@type": "Product",
                "@id": f"{page.absolute_url}#product-{product.key}",
                "name": product.name,
                "description": product.description,
                "image": self._image(page),
                "brand": {"@type": "Brand", "name": self.site.title},
                "offers": offer,
            }
        )

    def blog_posting(self, page: Page) -> dict[str, Any]:
        assert page.date is not None  # only dated pages are posts
        author = page.meta.get("author")
        return _present(
            {
                "@type": "BlogPosting",
                "@id": f"{page.absolute_url}#post",
                "headline": page.title[:_HEADLINE],
                "description": page.description,
                "datePublished": page.date.isoformat(),
                "author": (
                    {"@type": "Person", "name": str(author)}
                    if author
                    else {"@type": "Organization", "name": self.site.author or self.site.title}
                ),
                "publisher": _present(
                    {"@type": "Organization", "name": self.site.title, "logo": self.logo}
                ),
                "image": self._image(page),
                "url": page.absolute_url,
                "mainEntityOfPage": page.absolute_url,
                "inLanguage": self.site.language,
            }
        )

    def breadcrumbs(self, page: Page) -> dict[str, Any]:
        trail = [(self.site.title, self.site.absolute("/"))]
        trail += [
            (self.parents[url], self.site.absolute(url))
            for url in _ancestors(page.url)
            if url in self.parents
        ]
        trail.append((page.title, page.absolute_url))
        items = [
            {"@type": "ListItem", "position": position, "name": name, "item": url}
            for position, (name, url) in enumerate(trail, 1)
        ]
        return {"@type": "BreadcrumbList", "itemListElement": items}

    def _image(self, page: Page) -> str | None:
        image = page.image or self.site.image
        return self.site.absolute(image) if image else None


def _present(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` without its empty values (schema.org wants a property left out, not blank)."""
    return {key: value for key, value in node.items() if value not in (None, "", [], {})}


__all__ = ["StructuredData", "parent_titles", "products_in"]
