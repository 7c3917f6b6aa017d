"""Office files (XLSX, PPTX) written the same way every time: dated by the data's as-of date, never the clock.

openpyxl and python-pptx stamp every zip entry with the time of the save, so two saves of the same workbook
differ. :func:`stable_zip` re-packs what they wrote with one fixed timestamp; :func:`as_of_stamp` is the
date the core properties (created, modified) carry.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from evaluation.core.params import Params

EARLIEST_ZIP_DATE = dt.datetime(1980, 1, 1)  # the zip format cannot store an earlier date


def as_of_stamp(params: Params) -> dt.datetime:
    """The data's as-of date at midnight: the created and modified date of every funder file."""
    return dt.datetime.combine(params.as_of, dt.time())


def stable_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """The zip ``data`` with every entry dated ``stamp`` (the same entries, in the same order, compressed
    alike), so that the same content gives the same bytes."""
    when = max(stamp, EARLIEST_ZIP_DATE).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16  # one file mode for every entry, whoever saved it
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()
