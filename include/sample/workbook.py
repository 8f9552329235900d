"""``BI Dimensions.xlsx``: the ``Stores`` sheet (two banner rows above the header) and ``Access``.

Written byte-identically for the same input: fixed document properties, fixed zip member
timestamps. Store numbers are written mostly as Excel numbers (126), some as text
(``000126``) and some as floats (``126.0`` in the sheet XML, as a float-typed export leaves them).
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from include.sample.access import HEADER as ACCESS_HEADER
from include.sample.access import AccessSheet
from include.sample.manifest import BadRecord
from include.sample.rand import rng_for
from include.sample.stores import Store

ITEM = "BI Dimensions.xlsx"
STORES_HEADER = ("Stores Number 0", "Store Name", "City", "State", "Open Date", "Status", "District", "Phone")
BANNERS = (
    "Beachwood Restaurant Group - Store Directory",
    "Maintained by Operations for the BI import. Do not edit the header row or add columns to its left.",
)
STORES_HEADER_ROW = len(BANNERS) + 1


@dataclass
class StoresSheet:
    rows: list[list[object]]  # data rows, header and banners excluded
    float_rows: list[int]  # 0-based data rows whose store number is written as a float
    bad: list[BadRecord]


def build_stores_sheet(seed: int, stores: list[Store]) -> StoresSheet:
    """Data rows of the Stores sheet, with three bad rows interspersed."""
    rng = rng_for(seed, "stores-sheet")
    rows: list[list[object]] = []
    float_rows: list[int] = []
    for i, store in enumerate(stores):
        style = 1 if i == 1 else 2 if i == 2 else int(rng.choice(3, p=[0.7, 0.15, 0.15]))
        number: object = store.number if style != 1 else store.store_id
        status = "Closed" if not store.active else ("Open" if rng.random() < 0.9 else "open")
        phone = f"({int(rng.integers(216, 990))}) 555-{int(rng.integers(0, 10000)):04d}"
        rows.append([number, store.name, store.city, store.state, store.opened_on, status,
                     f"District {store.district}", phone])
        if style == 2:
            float_rows.append(i)
    used = {s.number for s in stores}
    missing_name_number = next(n for n in range(3105, 9999) if n not in used)
    bad_rows = [
        ("bad_store_number", ["ABC12", "Test Kitchen", "Beachwood", "OH", None, "Open", "District 1", ""],
         "store number 'ABC12'"),
        ("store_number_too_long", [2040815, "Akron - Exchange St", "Akron", "OH", date(2019, 3, 4), "Open",
                                   "District 2", ""], "store number 2040815 has 7 digits"),
        ("missing_store_name", [missing_name_number, None, "Medina", "OH", date(2020, 6, 1), "Open",
                                "District 3", ""], f"store {missing_name_number} has no name"),
    ]
    n = len(rows)
    bad = []
    for k, (kind, row, detail) in enumerate(bad_rows):
        spot = (n * (k + 1)) // 4 + k  # after about a quarter, a half and three quarters of the stores
        rows.insert(spot, row)
        float_rows = [r + 1 if r >= spot else r for r in float_rows]
        bad.append((kind, row, detail))
    records = []
    for kind, row, detail in bad:
        final = rows.index(row)
        records.append(BadRecord("stores", ITEM, "Stores", final + 1, kind, detail, str(row[0])))
    return StoresSheet(rows=rows, float_rows=float_rows, bad=records)


def write_workbook(path: Path, stores_sheet: StoresSheet, access: AccessSheet, stamp: datetime) -> None:
    """Write the workbook with fixed properties and member timestamps ``stamp``."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    ws = wb.active
    ws.title = "Stores"
    for banner in BANNERS:
        ws.append([banner])
    ws.append(list(STORES_HEADER))
    for row in stores_sheet.rows:
        ws.append(row)
        if row[4] is not None:
            ws.cell(ws.max_row, 5).number_format = "m/d/yyyy"
    ws.column_dimensions["B"].width = 32
    acc = wb.create_sheet("Access")
    acc.append(list(ACCESS_HEADER))
    for row in access.rows:
        acc.append(row)
    acc.column_dimensions["A"].width = 36
    wb.properties.creator = "Beachwood Operations"
    wb.properties.lastModifiedBy = "Beachwood Operations"
    wb.properties.created = stamp
    wb.properties.modified = stamp

    buffer = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)).save()
    sheet_xml = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == sheet_xml:
                data = _floats(data, stores_sheet)
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
    epoch = (stamp - datetime(1970, 1, 1)).total_seconds()
    os.utime(path, (epoch, epoch))


def _floats(xml: bytes, sheet: StoresSheet) -> bytes:
    """Rewrite the chosen store-number cells as ``126.0`` (openpyxl writes whole floats as ``126``)."""
    for i in sheet.float_rows:
        ref = f"A{STORES_HEADER_ROW + 1 + i}"
        value = sheet.rows[i][0]
        old = f'<c r="{ref}" t="n"><v>{value}</v></c>'.encode()
        if old not in xml:
            raise RuntimeError(f"cell {ref} not written as expected; cannot mark it as a float")
        xml = xml.replace(old, f'<c r="{ref}" t="n"><v>{value}.0</v></c>'.encode())
    return xml
