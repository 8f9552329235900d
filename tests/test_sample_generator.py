"""The sample generator: determinism, shapes, realism, and a manifest that matches the files.

Bad records are found here by scanning the written files with rules of their own, then
compared with the manifest, so a wrong manifest or a wrong file both fail.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from include.sample.calendar import fiscal_week, fiscal_year_start, super_bowl_sunday, thanksgiving
from include.sample.generate import generate_sample, main
from include.sample.manifest import Manifest
from include.sample.stores import build_stores

END = date(2026, 11, 22)
SMALL = {"stores": 8, "seed": 7, "end_date": END, "sales_years": 2, "labor_weeks": 2}
SALES_KEYS = [
    "crf63_saleschanneldailyid", "crf63_storenumber", "crf63_calendardate", "crf63_sourceactor",
    "crf63_sourcechannel", "crf63_daypart", "crf63_tynetsalesusd", "crf63_tyorders", "crf63_discountsusd",
    "crf63_lynetsalesusd", "crf63_lyorders", "crf63_businesskey", "crf63_lastrefreshed", "modifiedon",
]
DAYPARTS = {"Lunch", "Afternoon", "Dinner", "Evening"}
ZIP_NAME = re.compile(r"^(\d{6})\.(pay_summ|summary)\.(\d{8})\.(\d{6})\.zip$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Manifest]:
    dest = tmp_path_factory.mktemp("sample")
    return dest, generate_sample(dest, **SMALL)


@pytest.fixture(scope="module")
def sales(sample) -> list[dict]:
    dest, _ = sample
    with (dest / "dataverse/crf63_saleschanneldailies.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _store(value: object) -> str | None:
    """The test's own store-number rule: 1-6 digits (Excel whole floats allowed) -> 6-digit text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    text = str(value).strip()
    return text.zfill(6) if re.fullmatch(r"\d{1,6}", text) else None


def test_same_arguments_give_byte_identical_files(sample, tmp_path):
    dest, _ = sample
    generate_sample(tmp_path / "again", **SMALL)
    first, second = _files(dest), _files(tmp_path / "again")
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []
    assert any(name.endswith(".zip") for name in first) and any(name.endswith(".xlsx") for name in first)


def test_another_seed_gives_other_data(sample, tmp_path):
    dest, _ = sample
    generate_sample(tmp_path / "other", **{**SMALL, "seed": 8})
    ours = (dest / "dataverse/crf63_saleschanneldailies.jsonl").read_bytes()
    theirs = (tmp_path / "other/dataverse/crf63_saleschanneldailies.jsonl").read_bytes()
    assert ours != theirs


def test_layout(sample):
    dest, _ = sample
    assert (dest / "onedrive/General/BI Import/BI Dimensions.xlsx").is_file()
    assert (dest / "dataverse/crf63_bwfiscalcalendars.jsonl").is_file()
    assert (dest / "dataverse/crf63_saleschanneldailies.jsonl").is_file()
    assert (dest / "manifest.json").is_file()
    names = [p.name for p in (dest / "onedrive/Labor").glob("*.zip")]
    assert any(".pay_summ." in n for n in names) and any(".summary." in n for n in names)


def test_manifest_round_trips(sample):
    dest, manifest = sample
    assert Manifest.read(dest) == manifest
    assert manifest.bad_counts() == {
        "access": {"malformed_email": 2, "unknown_access_level": 2, "unknown_store": 2},
        "labor": {"clock_in_after_business_day": 3, "clock_out_before_clock_in": 3,
                  "minutes_not_numeric": 3, "too_few_fields": 3},
        "sales": {"bad_store_number": 3, "duplicate_key": 3, "negative_net_sales": 3, "unknown_daypart": 3},
        "stores": {"bad_store_number": 1, "missing_store_name": 1, "store_number_too_long": 1},
    }


def test_stores_sheet(sample):
    dest, manifest = sample
    ws = openpyxl.load_workbook(dest / "onedrive/General/BI Import/BI Dimensions.xlsx")["Stores"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] and rows[1][0] and rows[0][1] is None  # two banner rows
    assert rows[2][:6] == ("Stores Number 0", "Store Name", "City", "State", "Open Date", "Status")
    data = rows[3:]
    assert len(data) == manifest.store_sheet_rows
    numbers = [r[0] for r in data]
    assert any(type(n) is int for n in numbers)
    assert any(type(n) is float for n in numbers)
    assert any(isinstance(n, str) and re.fullmatch(r"0+\d{3,4}", n) for n in numbers)
    found = {i + 1 for i, r in enumerate(data) if _store(r[0]) is None or not r[1]}
    assert found == {b.row for b in manifest.bad("stores")}
    valid = [r for r in data if _store(r[0]) and r[1]]
    assert sorted(_store(r[0]) for r in valid) == manifest.store_ids
    assert "001089" in manifest.store_ids
    assert all(re.fullmatch(r"[A-Z]{2}", r[3]) for r in valid)
    assert {r[3] for r in valid} & {"OH"}
    closed = sorted(_store(r[0]) for r in valid if r[5].lower() == "closed")
    assert closed == manifest.closed_stores and len(closed) >= 1
    assert all(isinstance(r[4], datetime) or r[4] is None for r in valid)


def test_access_sheet(sample):
    dest, manifest = sample
    ws = openpyxl.load_workbook(dest / "onedrive/General/BI Import/BI Dimensions.xlsx")["Access"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Email", "First Name", "Last Name", "Stores", "Access Level", "Active")
    data = rows[1:]
    assert len(data) == manifest.access_sheet_rows
    known = set(manifest.store_ids)
    found = defaultdict(set)
    for i, (email, _first, _last, stores, level, _active) in enumerate(data, start=1):
        if not EMAIL.match(email):
            found["malformed_email"].add(i)
        refs = [s.strip() for s in re.split(r"[,;]", stores)]
        if stores != "ALL" and any(_store(s) not in known for s in refs):
            found["unknown_store"].add(i)
        if level.lower() not in ("view", "explore", "admin"):
            found["unknown_access_level"].add(i)
    expected = defaultdict(set)
    for b in manifest.bad("access"):
        expected[b.kind].add(b.row)
    assert found == expected
    good = [r for i, r in enumerate(data, start=1) if not any(i in rows for rows in found.values())]
    assert len(good) == manifest.users
    assert 1.2 <= manifest.users / manifest.stores <= 2.2
    emails = [r[0].lower() for r in good]
    assert len(emails) == len(set(emails))
    assert all(r[0].endswith("@beachwood.me") for r in good)
    assert sum(1 for r in good if r[3] == "ALL" and r[4] == "admin") == 2
    assert any(r[4].lower() == "explore" and len(re.split(r"[,;]", r[3])) > 1 for r in good)
    inactive = [r for r in good if str(r[5]).lower() in ("no", "false", "0")]
    assert len(inactive) == manifest.inactive_users >= 1


def test_fiscal_rule():
    assert fiscal_year_start(2026) == date(2025, 12, 29)
    assert fiscal_year_start(2027) == date(2026, 12, 28)
    assert fiscal_week(date(2026, 11, 22)) == (2026, 47)
    assert fiscal_week(date(2025, 12, 28)) == (2025, 52)
    assert fiscal_week(date(2025, 12, 29)) == (2026, 1)
    # a 53-week fiscal year: FY2023 starts 2022-12-26 and FY2024 on 2024-01-01
    assert fiscal_week(date(2023, 12, 31)) == (2023, 53)


def test_calendar(sample):
    dest, manifest = sample
    with (dest / "dataverse/crf63_bwfiscalcalendars.jsonl").open() as fh:
        records = [json.loads(line) for line in fh]
    assert len(records) == manifest.calendar_rows
    days = [date.fromisoformat(r["crf63_date"]) for r in records]
    assert days == [days[0] + timedelta(days=i) for i in range(len(days))]
    first_sales = date.fromisoformat(manifest.first_sales_date)
    assert days[0] == fiscal_year_start(fiscal_week(first_sales)[0])
    assert days[-1] >= END + timedelta(weeks=60)
    for r, d in zip(records, days, strict=True):
        year, week = fiscal_week(d)
        assert (r["crf63_fiscalyearnumber"], r["crf63_fiscalweeknumber"], r["crf63_fiscalyearlabel"]) == (
            year, week, f"FY{year}")
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            r["crf63_bwfiscalcalendarid"])
    assert all(d.weekday() == 0 for r, d in zip(records, days, strict=True) if r["crf63_fiscalweeknumber"] == 1
               and d == fiscal_year_start(r["crf63_fiscalyearnumber"]))


def _sales_scan(sales: list[dict]) -> dict[str, set[int]]:
    """The test's own rules for bad sales lines (1-based line numbers)."""
    found: dict[str, set[int]] = defaultdict(set)
    seen: set[tuple] = set()
    for line, r in enumerate(sales, start=1):
        store = _store(r["crf63_storenumber"])
        if store is None:
            found["bad_store_number"].add(line)
        elif r["crf63_daypart"] not in DAYPARTS:
            found["unknown_daypart"].add(line)
        elif r["crf63_tynetsalesusd"] < 0:
            found["negative_net_sales"].add(line)
        else:
            key = (store, r["crf63_calendardate"], r["crf63_sourcechannel"], r["crf63_daypart"])
            if key in seen:
                found["duplicate_key"].add(line)
            seen.add(key)
    return found


def test_sales_shape_and_bad_records(sample, sales):
    _, manifest = sample
    assert len(sales) == manifest.sales_rows
    assert all(list(r) == SALES_KEYS for r in sales)
    expected = defaultdict(set)
    for b in manifest.bad("sales"):
        expected[b.kind].add(b.row)
    assert _sales_scan(sales) == expected
    numbers = [r["crf63_storenumber"] for r in sales]
    padded = sum(1 for n in numbers if re.fullmatch(r"\d{6}", n))
    stripped = sum(1 for n in numbers if re.fullmatch(r"[1-9]\d{2,3}", n))
    assert padded > 0.9 * len(numbers) and stripped > 0
    assert {r["crf63_sourcechannel"] for r in sales} == {"carryout", "delivery", "online", "aggregator"}
    assert {r["crf63_sourceactor"] for r in sales} - {"POS"} <= {"DoorDash", "Uber Eats", "Grubhub"}
    for r in sales:
        assert r["crf63_businesskey"] == (
            f"{r['crf63_storenumber']}_{r['crf63_calendardate'].replace('-', '')}_"
            f"{r['crf63_sourcechannel']}_{r['crf63_daypart']}")
        assert r["crf63_tyorders"] >= 0 and r["crf63_discountsusd"] >= 0
        assert r["crf63_lastrefreshed"].endswith("Z") and r["modifiedon"] >= r["crf63_lastrefreshed"]
    ids = [r["crf63_saleschanneldailyid"] for r in sales]
    assert len(set(ids)) == len(ids)


def test_sales_closed_days_and_last_year(sample, sales):
    _, manifest = sample
    bad_lines = {b.row for b in manifest.bad("sales")}
    valid = [r for i, r in enumerate(sales, start=1) if i not in bad_lines]
    dates = {r["crf63_calendardate"] for r in valid}
    assert thanksgiving(2025).isoformat() not in dates and "2025-12-25" not in dates
    assert set(manifest.closed_holidays) & dates == set()
    remodel = manifest.remodel
    remodel_days = {r["crf63_calendardate"] for r in valid if _store(r["crf63_storenumber"]) == remodel["store"]}
    week = {(date.fromisoformat(remodel["first_day"]) + timedelta(days=i)).isoformat() for i in range(7)}
    assert remodel_days & week == set() and len(remodel_days) > 300

    # LY = the same key 364 days earlier (null when there is none); rows corrupted to negative
    # net sales keep their true value as the next year's LY, so they are left out of the check
    key = lambda r: (_store(r["crf63_storenumber"]), r["crf63_calendardate"], r["crf63_sourcechannel"],  # noqa: E731
                     r["crf63_daypart"])
    by_key = {key(r): r for r in valid}
    corrupted = {key(sales[b.row - 1]) for b in manifest.bad("sales", "negative_net_sales")}
    with_ly = without_ly = 0
    for (store, day, channel, daypart), row in by_key.items():
        prior = (store, (date.fromisoformat(day) - timedelta(days=364)).isoformat(), channel, daypart)
        if prior in corrupted:
            continue
        if prior in by_key:
            with_ly += 1
            assert (row["crf63_lynetsalesusd"], row["crf63_lyorders"]) == (
                by_key[prior]["crf63_tynetsalesusd"], by_key[prior]["crf63_tyorders"])
        else:
            without_ly += 1
            assert row["crf63_lynetsalesusd"] is None and row["crf63_lyorders"] is None
    assert with_ly > 0 and without_ly > 0


def _daily_totals(sales: list[dict], manifest: Manifest) -> dict[tuple[str, date], float]:
    bad_lines = {b.row for b in manifest.bad("sales")}
    totals: dict[tuple[str, date], float] = defaultdict(float)
    for line, r in enumerate(sales, start=1):
        if line not in bad_lines:
            totals[(_store(r["crf63_storenumber"]), date.fromisoformat(r["crf63_calendardate"]))] += (
                r["crf63_tynetsalesusd"])
    return totals


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_sales_seasonality(sample, sales):
    _, manifest = sample
    totals = _daily_totals(sales, manifest)
    weekend = _mean([v for (_, d), v in totals.items() if d.weekday() in (4, 5)])
    early_week = _mean([v for (_, d), v in totals.items() if d.weekday() in (0, 1)])
    assert weekend > 1.3 * early_week
    by_month: dict[tuple[str, int], list[float]] = defaultdict(list)
    for (store, d), v in totals.items():
        by_month[(store, d.month)].append(v)
    both = [s for s in manifest.store_ids if by_month[(s, 12)] and by_month[(s, 2)] and by_month[(s, 7)]]
    dec_feb = sorted(_mean(by_month[(s, 12)]) / _mean(by_month[(s, 2)]) for s in both)
    jul_feb = sorted(_mean(by_month[(s, 7)]) / _mean(by_month[(s, 2)]) for s in both)
    assert abs(dec_feb[len(both) // 2] - 1) > 0.04  # December differs from February
    assert jul_feb[len(both) // 2] > 1.04  # summer above late winter
    bowl = super_bowl_sunday(2026)
    bowl_mean = _mean([v for (_, d), v in totals.items() if d == bowl])
    sundays = _mean([v for (_, d), v in totals.items() if d.weekday() == 6 and d != bowl])
    assert bowl_mean > 1.3 * sundays
    per_store = defaultdict(list)
    for (store, _), v in totals.items():
        per_store[store].append(v)
    means = sorted(_mean(v) for v in per_store.values())
    assert means[-1] > 1.2 * means[0]  # stores differ in size


def test_store_histories(sample, sales):
    _, manifest = sample
    days = defaultdict(set)
    for r in sales:
        store = _store(r["crf63_storenumber"])
        if store:
            days[store].add(date.fromisoformat(r["crf63_calendardate"]))
    recent = days[manifest.recently_opened_store]
    assert min(recent) == date.fromisoformat(manifest.recently_opened_on)
    assert max(recent) == END and len(recent) == 21  # three weeks: under four
    one_year = days[manifest.one_year_store]
    assert 52 * 7 - 30 < (END - min(one_year)).days < 104 * 7
    assert max(days["001089"]) == END and min(days["001089"]) == date.fromisoformat(manifest.first_sales_date)
    for closed in manifest.closed_stores:
        assert max(days[closed]) < END - timedelta(weeks=8)
    assert set(days) == set(manifest.store_ids)


def _labor_files(dest: Path) -> dict[str, zipfile.ZipFile]:
    return {p.name: zipfile.ZipFile(p) for p in sorted((dest / "onedrive/Labor").glob("*.zip"))}


def _stamp(text: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} E[DS]T", text), text
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")


def test_labor_files(sample):
    dest, manifest = sample
    files = _labor_files(dest)
    assert len(files) == manifest.labor_files
    newest: dict[tuple[str, str], str] = {}
    for name in files:
        match = ZIP_NAME.match(name)
        assert match, name
        store, _, day, stamp = match.groups()
        if (store, day) not in newest or newest[(store, day)] < name.rsplit(".", 2)[1]:
            newest[(store, day)] = stamp
    current = {n for n in files if ZIP_NAME.match(n).group(4) == newest[(n[:6], ZIP_NAME.match(n).group(3))]}
    assert sorted(set(files) - current) == manifest.superseded_labor_files and manifest.superseded_labor_files
    for old in manifest.superseded_labor_files:
        store, day = old[:6], ZIP_NAME.match(old).group(3)
        new = next(n for n in current if n[:6] == store and ZIP_NAME.match(n).group(3) == day)
        old_rows = files[old].read(files[old].namelist()[0]).decode().splitlines()
        new_rows = files[new].read(files[new].namelist()[0]).decode().splitlines()
        assert len(old_rows) == len(new_rows)
        assert sum(a != b for a, b in zip(old_rows, new_rows, strict=True)) == 1

    labor_dates = [date.fromisoformat(d) for d in manifest.labor_dates]
    assert len(labor_dates) == 14 and labor_dates[-1] == END
    received = {(n[:6], ZIP_NAME.match(n).group(3)) for n in current}
    expected = {(s, f"{d:%Y%m%d}") for s in manifest.active_stores for d in labor_dates
                if d >= date.fromisoformat(manifest.recently_opened_on) or s != manifest.recently_opened_store}
    missing = {(s, d.replace("-", "")) for s, d in manifest.missing_labor_files}
    assert len(missing) == 3 and missing <= expected
    assert received == expected - missing

    resent = {(o[:6], ZIP_NAME.match(o).group(3)) for o in manifest.superseded_labor_files}
    for name, zf in files.items():
        store, _, day = ZIP_NAME.match(name).groups()[:3]
        seq = zf.namelist()[0].rsplit("_", 1)[-1]
        assert zf.namelist() == [f"{store}.p_hs_timecard_record.{day}_{seq}",
                                 f"{store}.p_hs_employee_detail.{day}_{seq}"]
        assert seq == ("2.csv" if name in current and (store, day) in resent else "1.csv")  # a re-export
        employees = {line.split("\t")[3]: line.split("\t") for line in zf.read(zf.namelist()[1]).decode().splitlines()}
        assert all(len(e) >= 6 and e[4] and e[5] for e in employees.values())
        for line in zf.read(zf.namelist()[0]).decode().splitlines():
            fields = line.split("\t")
            assert fields[0] == store and fields[2] == day
            if len(fields) == 14:
                assert fields[10] in employees


def test_labor_bad_and_capped_rows(sample):
    dest, manifest = sample
    files = _labor_files(dest)
    superseded = set(manifest.superseded_labor_files)
    found: dict[str, set[tuple[str, int]]] = defaultdict(set)
    capped = set()
    overtime = 0
    for name, zf in files.items():
        if name in superseded:
            continue
        member = zf.namelist()[0]
        day = datetime.strptime(ZIP_NAME.match(name).group(3), "%Y%m%d")
        for row, line in enumerate(zf.read(member).decode().splitlines(), start=1):
            f = line.split("\t")
            if len(f) < 14:
                found["too_few_fields"].add((name, row))
                continue
            if not (f[12].isdigit() and f[13].isdigit()):
                found["minutes_not_numeric"].add((name, row))
                continue
            clock_in, clock_out = _stamp(f[7]), _stamp(f[8])
            if clock_out <= clock_in:
                found["clock_out_before_clock_in"].add((name, row))
                continue
            if not day <= clock_in < day + timedelta(hours=32):
                found["clock_in_after_business_day"].add((name, row))
                continue
            worked = (clock_out - clock_in).total_seconds() / 60 - int(f[9])
            assert int(f[12]) + int(f[13]) == worked, (name, row)
            overtime += int(f[13]) > 0
            if clock_out > day + timedelta(hours=32):
                capped.add((name, row))
    expected = defaultdict(set)
    for b in manifest.bad("labor"):
        assert b.member == f"{b.item[:6]}.p_hs_timecard_record.{ZIP_NAME.match(b.item).group(3)}_1.csv"
        expected[b.kind].add((b.item, b.row))
    assert found == expected
    assert capped == {(c["item"], c["row"]) for c in manifest.capped_shifts} and capped
    assert overtime > 0
    assert not any(b.item in superseded for b in manifest.bad("labor"))


def test_labor_shifts_are_realistic(sample):
    dest, _ = sample
    starts, ends_after_midnight, per_store_ids = [], 0, defaultdict(set)
    for name, zf in _labor_files(dest).items():
        for line in zf.read(zf.namelist()[0]).decode().splitlines():
            f = line.split("\t")
            if len(f) < 14 or not f[12].isdigit():
                continue
            clock_in, clock_out = _stamp(f[7]), _stamp(f[8])
            starts.append(clock_in.hour + clock_in.minute / 60)
            ends_after_midnight += clock_out.date() > clock_in.date()
            per_store_ids[name[:6]].add(f[10])
    assert min(starts) < 7.6 and any(7.2 <= s <= 7.8 for s in starts)  # openers around 07:30
    assert ends_after_midnight > 0  # closers work past midnight
    assert all(8 <= len(ids) <= 40 for ids in per_store_ids.values())  # a stable crew per store


def test_cli_prints_what_it_wrote(tmp_path, capsys):
    assert main(["--dest", str(tmp_path), "--stores", "4", "--sales-years", "1", "--labor-weeks", "1",
                 "--end-date", "2026-03-01"]) == 0
    out = capsys.readouterr().out
    assert "crf63_saleschanneldailies.jsonl" in out and "BI Dimensions.xlsx" in out and "manifest" in out
    manifest = Manifest.read(tmp_path)
    assert manifest.end_date == "2026-03-01" and manifest.stores == 4
    with pytest.raises(SystemExit):
        main(["--dest", str(tmp_path), "--stores", "501"])


def test_five_hundred_stores_accepted():
    stores = build_stores(20261122, 500, END, END - timedelta(days=3 * 364 - 1))
    assert len(stores) == 500 and len({s.number for s in stores}) == 500
    assert all(100 <= s.number <= 9999 for s in stores) and 1089 in {s.number for s in stores}
    assert sum(s.role == "recent" for s in stores) == 1 and sum(s.role == "closed" for s in stores) == 2
    assert len({s.name for s in stores}) == 500
    with pytest.raises(ValueError, match="between 4 and 500"):
        build_stores(1, 501, END, END)
