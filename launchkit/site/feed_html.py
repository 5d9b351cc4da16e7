"""A page's HTML as a feed entry carries it: what works in a feed reader, away from the site.

A reader shows an entry outside the page, so (Atom, RFC 4287 §3.1.1.2 lets readers resolve
relative references against anything, and most use the feed's own URL):

- every URL is absolute: ``href``, ``src``, ``poster``, ``cite``, ``action`` and each
  candidate of ``srcset``, resolved against the page's absolute URL (``../chart.svg`` on
  ``/blog/post/`` is ``https://site/blog/chart.svg``);
- a buy form (it cannot post from a reader, and its referral would be lost) becomes a link
  to the page: "Buy Beacon Pro on <the page's title>"; any other form a link likewise;
- Rewardful's inputs and every script go; the headings' permalink marks (``¶``) too.

Parsed and written back with lxml's HTML parser, never with regular expressions: attributes
may be quoted either way or not at all, and a ``>`` may sit inside a value.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import urljoin

import lxml.html
from lxml import etree

# Attributes holding one URL, on any element.
_URL_ATTRIBUTES = ("href", "src", "poster", "cite", "action")
# Elements a reader has no use for: they run code, or are the site's own controls.
_DROPPED = "//script | //a[contains(concat(' ', @class, ' '), ' headerlink ')]"
_REFERRAL = "//*[@data-rewardful] | //input[@name='referral']"


def feed_html(
    content: str,
    page_url: str,
    page_title: str,
    product_name: Callable[[str], str | None],
) -> str:
    """``content`` (a page's HTML, shortcodes expanded) as its feed entry carries it.

    ``page_url`` is the page's absolute URL; ``product_name`` gives a catalogue product's
    name from the key a buy form posts (None for an unknown key).
    """
    if not content.strip():
        return ""
    root = lxml.html.fragment_fromstring(content, create_parent="div")
    for form in root.xpath("//form"):
        _replace(form, _form_link(form, page_url, page_title, product_name))
    for element in root.xpath(_DROPPED):
        _remove(element)
    for element in root.xpath(_REFERRAL):
        if element.tag == "input":
            _remove(element)
        else:
            del element.attrib["data-rewardful"]
    for element in root.iter(etree.Element):
        for name in _URL_ATTRIBUTES:
            value = element.get(name)
            if value is not None:
                element.set(name, urljoin(page_url, value.strip()))
        srcset = element.get("srcset")
        if srcset is not None:
            element.set("srcset", absolute_srcset(srcset, page_url))
    head = html.escape(root.text or "", quote=False)
    return head + "".join(lxml.html.tostring(child, encoding="unicode") for child in root)


def absolute_srcset(value: str, base: str) -> str:
    """Each candidate of a ``srcset`` with its URL resolved against ``base``.

    Candidates are "URL [descriptor]" separated by commas; a ``data:`` URL (which holds
    commas) is left as it is.
    """
    if "data:" in value:
        return value
    candidates = []
    for candidate in value.split(","):
        url, _, descriptor = candidate.strip().partition(" ")
        if url:
            resolved = urljoin(base, url)
            candidates.append(f"{resolved} {descriptor.strip()}".rstrip())
    return ", ".join(candidates)


def _form_link(
    form: etree.Element,
    page_url: str,
    page_title: str,
    product_name: Callable[[str], str | None],
) -> etree.Element:
    """What stands for ``form`` in the entry: a paragraph with a link to the page."""
    product = form.xpath("string(.//input[@name='product']/@value)")
    name = product_name(product) if product else None
    paragraph = etree.Element("p")
    link = etree.SubElement(paragraph, "a", href=page_url)
    link.text = f"Buy {name} on {page_title}" if name else f"Open the form on {page_title}"
    return paragraph


def _replace(old: etree.Element, new: etree.Element) -> None:
    """Put ``new`` where ``old`` is, keeping the text after ``old``."""
    new.tail = old.tail
    old.getparent().replace(old, new)


def _remove(element: etree.Element) -> None:
    """Take ``element`` out, keeping the text after it."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


__all__ = ["absolute_srcset", "feed_html"]
