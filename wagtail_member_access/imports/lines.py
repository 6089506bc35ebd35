"""The file's lines: read in chunks, decoded line by line, so that memory does not grow with
the file and an encoding error names its line."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

from django.utils.translation import gettext as _

from .results import InvalidFile

__all__ = ["MAX_LINE_BYTES", "lines"]

_CHUNK_SIZE = 64 * 1024
#: Longest line read (bytes): a file without line breaks must not be read into memory whole.
MAX_LINE_BYTES = 1024 * 1024


def lines(file: BinaryIO) -> Iterator[str]:
    """The file's lines, decoded, with their line endings (``csv`` needs them inside quoted
    cells). Read in chunks so that memory does not grow with the file; decoded line by line
    so that an encoding error names its line."""
    number = 0
    rest = b""
    first = True
    decode = codecs.getdecoder("utf-8")
    while True:
        chunk = file.read(_CHUNK_SIZE)
        if first and chunk:
            first = False
            if chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise InvalidFile(
                    _("The file is UTF-16 text. Save it as “CSV UTF-8” and import it again."),
                    line=1,
                )
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            if b"\x00" in chunk:
                # UTF-16 without a byte order mark, or a binary file such as an .xlsx: NUL
                # bytes are valid UTF-8, so decoding alone would not notice.
                raise InvalidFile(
                    _(
                        "The file is not CSV text (it contains NUL bytes): it is UTF-16 text or "
                        "a spreadsheet file. Save it as “CSV UTF-8” and import it again."
                    ),
                    line=1,
                )
        if not chunk:
            break
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        if len(rest) > MAX_LINE_BYTES or any(len(part) > MAX_LINE_BYTES for part in parts):
            long_line = (
                number
                + 1
                + next(
                    (i for i, part in enumerate(parts) if len(part) > MAX_LINE_BYTES), len(parts)
                )
            )
            raise InvalidFile(
                _(
                    "Line %(line)s is longer than %(max)s MB; this is not a CSV file of "
                    "grants. Nothing was imported."
                )
                % {"line": long_line, "max": MAX_LINE_BYTES // (1024 * 1024)},
                line=long_line,
            )
        for part in parts:
            number += 1
            try:
                yield decode(part + b"\n")[0]
            except UnicodeDecodeError:
                raise _not_utf8(number) from None
    if rest:
        number += 1
        try:
            yield decode(rest)[0]
        except UnicodeDecodeError:
            raise _not_utf8(number) from None


def _not_utf8(line: int) -> InvalidFile:
    return InvalidFile(
        _(
            "Line %(line)s is not UTF-8 text; the file was probably saved in another encoding. "
            "Save it as “CSV UTF-8” and import it again. Nothing was imported."
        )
        % {"line": line},
        line=line,
    )
