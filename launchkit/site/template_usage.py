"""Which page data the templates read: the summary of front matter keys that nothing shows.

Imported content carries fields of its old theme (``author_staff_member``, ``featured_image``);
they build unchanged as ``page.params``, and the build says once which of them no template
uses, so that a marketer knows what to add to a template or delete. Found by reading the
templates' syntax trees (no rendering): ``page.params.X``, ``page.params["X"]``,
``page.params.get("X")`` and the same through ``page.meta``, on any page variable
(``post.params.X`` in a loop too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from jinja2 import nodes

# The attributes through which a template reads a page's own front matter fields.
_DATA_ATTRIBUTES = frozenset({"params", "meta"})


class _PageData(Protocol):
    @property
    def params(self) -> dict: ...


# Objects that have a ``params`` of their own, not a page's: ``rewardful.params``,
# ``config.rewardful.params``, a shortcode's named arguments ``shortcode.params``.
_NOT_PAGES = frozenset({"site", "config", "rewardful", "products", "shortcode"})


def used_keys(per_template: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """The page data keys all templates read, from each one's :func:`page_keys_read`; None
    when one of them cannot be told."""
    found: set[str] = set()
    for keys in per_template:
        if keys is None:
            return None
        found |= keys
    return frozenset(found)


def page_keys_read(tree: nodes.Template) -> frozenset[str] | None:
    """The keys one template's syntax tree reads from pages' ``params``/``meta``; None if
    one is computed at render time (``page.params[name]``, ``page.params.items()``…)."""
    parents = {
        id(child): node for node in tree.find_all(nodes.Node) for child in node.iter_child_nodes()
    }
    parents.update({id(child): tree for child in tree.iter_child_nodes()})
    keys = set()
    for data in tree.find_all(nodes.Getattr):
        if data.attr not in _DATA_ATTRIBUTES or not _may_be_a_page(data.node):
            continue
        key = _key_of_use(data, parents.get(id(data)), parents)
        if key is None:
            return None
        keys.add(key)
    return frozenset(keys)


def _key_of_use(data: nodes.Getattr, parent: nodes.Node | None, parents: dict) -> str | None:
    """The key that the expression around ``data`` reads from it; None when computed."""
    if isinstance(parent, nodes.Getattr) and parent.attr == "get":
        call = parents.get(id(parent))
        if isinstance(call, nodes.Call) and call.node is parent and call.args:
            return _constant_text(call.args[0])  # page.params.get("author")
        return None
    if isinstance(parent, nodes.Getattr) and parent.attr not in ("items", "keys", "values"):
        return parent.attr  # page.params.author
    if isinstance(parent, nodes.Getitem) and parent.node is data:
        return _constant_text(parent.arg)  # page.params["author"]
    return None


def _constant_text(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _may_be_a_page(node: nodes.Node) -> bool:
    """Whether ``node.params`` may be a page's: ``page``, ``post``, ``shortcode.page``, but
    not ``rewardful`` or ``config.rewardful``."""
    if isinstance(node, nodes.Name):
        return node.name not in _NOT_PAGES
    if isinstance(node, nodes.Getattr):
        return node.attr not in _NOT_PAGES
    return True


@dataclass(frozen=True)
class TemplateUsage:
    """The page data keys that one version of the templates reads (None: any key may be).

    Each template's keys are found once, with the rest of what its syntax tree says
    (:meth:`launchkit.site.render.Renderer.page_keys`); a build reuses the last build's
    usage when no template changed (``templates_digest``).
    """

    templates_digest: str
    keys: frozenset[str] | None

    @classmethod
    def of(
        cls,
        templates_digest: str,
        keys: Callable[[], frozenset[str] | None],
        known: TemplateUsage | None = None,
    ) -> TemplateUsage:
        """The usage of the templates of ``templates_digest``: ``known`` when it is of the
        same templates, else ``keys()`` (the keys they read)."""
        if known is not None and known.templates_digest == templates_digest:
            return known
        return cls(templates_digest, keys())


def unused_params(pages: Iterable[_PageData], used: frozenset[str] | None) -> list[str]:
    """One line per front matter key of the pages' own that no template reads (``used``:
    :attr:`TemplateUsage.keys`), the most common first: "`author_staff_member` in 164 files
    is used by no template"."""
    if used is None:
        return []
    counts = Counter(key for page in pages for key in page.params if key not in used)
    unused = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        f"`{key}` in {count} file{'' if count == 1 else 's'} is used by no template"
        for key, count in unused
    ]


__all__ = ["TemplateUsage", "page_keys_read", "unused_params", "used_keys"]
