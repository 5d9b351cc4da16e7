"""Which pages a build publishes: drafts only with ``--drafts``, future ones only with ``--future``.

A page left out keeps a reason, so that a link to it is a warning saying why it is missing
rather than a bare "no such page".

The preview (``python build.py --serve``) shows future-dated pages too, marked as not yet
published (a banner, ``noindex``, left out of the sitemap and the feed), so that a post can
be reviewed before its date. ``--future`` in a build publishes them as any other page (Hugo's
``--buildFuture``): that build is what visitors get.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


class Publishable(Protocol):
    """What the rules look at: a page's draft flag and date (an aware datetime)."""

    @property
    def draft(self) -> bool: ...
    @property
    def datetime(self) -> dt.datetime | None: ...


@dataclass(frozen=True)
class PublishRules:
    """The choices of one build, and its time (aware) that future dates are compared with."""

    now: dt.datetime
    drafts: bool = False
    future: bool = False
    preview: bool = False  # future pages shown, and marked as such

    @classmethod
    def of_build(
        cls,
        *,
        drafts: bool = False,
        future: bool = False,
        now: dt.datetime | None = None,
        preview: bool = False,
    ) -> PublishRules:
        """The rules of a build starting now (the clock, in UTC), or at ``now`` (tests); a
        ``preview`` shows future pages, marked."""
        return cls(now or dt.datetime.now(dt.UTC), drafts, future or preview, preview)

    def scheduled(self, page: Publishable) -> bool:
        """Whether ``page`` is shown before its date, by a preview: its document says so."""
        return self.preview and page.datetime is not None and page.datetime > self.now

    def left_out(self, page: Publishable) -> str | None:
        """Why this build leaves ``page`` out, or None when it publishes it."""
        if page.draft and not self.drafts:
            return "a draft (build with --drafts to see it)"
        if page.datetime is not None and page.datetime > self.now and not self.future:
            return (
                f"dated {page.datetime.isoformat()}, in the future "
                "(published by the first build after that; --future builds it now)"
            )
        return None


__all__ = ["PublishRules", "Publishable"]
