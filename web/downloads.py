"""Files the pages hand out: a period's commission export, payout files, an affiliate's statement.

Each is written by the same function as the `attro export` commands into a temporary folder and
sent back from memory (a period's files are small), so a download is byte for byte what finance
gets from the command line and nothing is left under data/exports.
"""

from __future__ import annotations

import html
import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from fastapi.responses import HTMLResponse, Response

from core.settings import Settings
from pipelines.exports import FORMATS as COMMISSION_FORMATS
from pipelines.exports import ExportError, export_commissions, statement_csv
from pipelines.payouts import PROVIDERS as PAYOUT_FORMATS
from pipelines.payouts import PayoutError, export_payouts, not_paid_report

_MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".parquet": "application/vnd.apache.parquet",
    ".zip": "application/zip",
}

__all__ = ["COMMISSION_FORMATS", "PAYOUT_FORMATS", "DownloadError", "Download"]


class DownloadError(RuntimeError):
    """The file cannot be made (no warehouse, month not closed, ...); the message says why."""


@dataclass(frozen=True)
class Download:
    filename: str
    content: bytes

    @property
    def media_type(self) -> str:
        return _MEDIA.get(Path(self.filename).suffix, "application/octet-stream")


def served(refused: int, back: str, make: Callable[..., Download], *args: object) -> Response:
    """`make(*args)` as an attachment; a DownloadError answers `refused` with a page that says why
    (a button's link opens it in the browser: a bare JSON body there reads as a crash) and leads
    `back`."""
    try:
        file = make(*args)
    except DownloadError as exc:
        reasons = str(exc).split("\n")
        items = "".join(f"<li>{html.escape(line)}</li>" for line in reasons[1:])
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No file</title></head>'
            f"<body><h1>No file</h1><p>{html.escape(reasons[0])}</p>"
            + (f"<ul>{items}</ul>" if items else "")
            + f'<p><a href="{html.escape(back)}">Back</a></p></body></html>',
            refused,
        )
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


def _bundle(files: list[Path], zip_name: str) -> Download:
    """One file as it is; several (Parquet's statement and lines, PayPal's per currency) in a zip."""
    if len(files) == 1:
        return Download(files[0].name, files[0].read_bytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.name)
    return Download(zip_name, buffer.getvalue())


def commission_export(settings: Settings, period: str, fmt: str) -> Download:
    """`attro export commissions --period P --format F`, as a download."""
    with tempfile.TemporaryDirectory(prefix="attro-web-") as tmp:
        try:
            export = export_commissions(settings, period, fmt, Path(tmp))
        except ExportError as exc:
            raise DownloadError(str(exc)) from None
        return _bundle(export.files, f"commissions-{period}.{fmt}.zip")


def payout_export(settings: Settings, period: str, fmt: str) -> Download:
    """`attro export payouts --period P --format F`, as a download (closed months only). What the
    files do not pay (left out, frozen as pending, paid by both providers' files) is said as the CLI
    says it: in a text file beside them in the zip, or on the page when there is no file."""
    if fmt not in PAYOUT_FORMATS:
        raise DownloadError(f"format must be one of {', '.join(PAYOUT_FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="attro-web-") as tmp:
        try:
            payouts = export_payouts(settings, period, fmt, Path(tmp))
        except PayoutError as exc:
            raise DownloadError(str(exc)) from None
        report = not_paid_report(payouts)
        if not payouts.files:
            raise DownloadError("\n".join([f"nothing to pay for {period} in the {fmt} format", *report]))
        files = list(payouts.files)
        if report:
            files.append(Path(tmp) / f"payouts-{period}-{fmt}.NOT-IN-THE-FILE.txt")
            files[-1].write_text("\n".join(report) + "\n", encoding="utf-8")
        return _bundle(files, f"payouts-{period}-{fmt}.zip")


def affiliate_statement(settings: Settings, period: str, affiliate_id: str) -> Download:
    """One affiliate's statement and lines for a period as CSV: the commission export cut down to
    that affiliate, with a header that names only them (the program's totals are not theirs to see)."""
    with tempfile.TemporaryDirectory(prefix="attro-web-") as tmp:
        try:
            export = export_commissions(settings, period, "csv", Path(tmp))
        except ExportError as exc:
            raise DownloadError(str(exc)) from None
    statement = export.statement.filter(pl.col("affiliate_id") == affiliate_id)
    lines = export.lines.filter(pl.col("affiliate_id") == affiliate_id)
    if statement.is_empty() and lines.is_empty():
        raise DownloadError(f"no statement for {period}")
    header = [*export.header[:3], f"affiliate: {affiliate_id}"]
    return Download(f"statement-{affiliate_id}-{period}.csv", statement_csv(header, statement, lines))
