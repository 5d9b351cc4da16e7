"""Text files as editors save them: one decoding for pages and ``site.toml``.

Windows editors may start a UTF-8 file with a byte order mark and end lines with CRLF; old
Mac ones end them with CR alone. Each is the same text to a marketer, so each gives the same
site: the BOM is dropped and every line ending becomes ``\\n`` before anything parses the
text. A file that is not UTF-8 at all (an export in Windows-1252, say) is refused with the
byte that is wrong, its place, and how to fix it, rather than guessed at.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from .errors import SiteError

__all__ = ["decode_source", "read_text"]


def read_text(path: Path, shown: str) -> str:
    """The text of ``path`` (see :func:`decode_source`); ``shown`` names it in errors."""
    return decode_source(path.read_bytes(), shown)


def decode_source(data: bytes, shown: str) -> str:
    """``data`` as UTF-8 text without a BOM and with ``\\n`` line endings only.

    Raises :class:`SiteError` at ``shown:line`` when ``data`` is not UTF-8.
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, bom + exc.start, exc.reason, shown) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _not_utf8(data: bytes, offset: int, reason: str, shown: str) -> SiteError:
    """The error for the undecodable byte at ``offset``: where it is and what to do."""
    line = (
        data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset)
    )
    hint = "save the file as UTF-8 (most editors: 'Save with Encoding' or 'Reopen with Encoding')"
    if _decodes_as_windows_1252(data):
        hint += "; it looks like Windows-1252 or Latin-1 text"
    return SiteError(
        f"not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset} ({reason})",
        shown,
        line + 1,
        hint=hint,
    )


def _decodes_as_windows_1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True
