"""The one hash every key is made with, in a module of its own: the template compiler
(:mod:`.compiled`) needs it, and its compiled templates are keyed by its code and what that
imports (:data:`.keys.COMPILER`), which the key ingredients of :mod:`.keys` are not."""

from __future__ import annotations

import hashlib


def digest(*parts: str | bytes) -> str:
    """A short, stable hash of ``parts`` (each length-prefixed, so boundaries count)."""
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


__all__ = ["digest"]
