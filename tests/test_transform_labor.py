"""Labor zips: file selection, business day and day-part split, capping, rejects, employees."""

from __future__ import annotations

import random
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from include.transforms.labor import (
    LaborFileName,
    parse_labor_file_name,
    select_newest_files,
    split_shift_hours,
    transform_labor_zip,
)

STORE = "000126"
DAY = "20260901"
D = date(2026, 9, 1)


def timecard(clock_in: str, clock_out: str, employee: str = "E1", regular="0", overtime="0", store: str = STORE,
             record: str = "1", day: str = DAY) -> list[str]:
    """A 14-field timecard row; clock times get the zone suffix the exports carry."""
    return [store, record, day, "10", "Crew", "12.50", "REG", f"{clock_in} EDT", f"{clock_out} EDT", "30",
            employee, "CREW", str(regular), str(overtime)]


def employee_row(employee: str, first: str, last: str, day: str = DAY) -> list[str]:
    return [STORE, "x", day, employee, first, last, "CREW"]


def make_zip(folder: Path, timecards: dict[int, list[list[str]]], employees: list[list[str]] | None = None,
             name: str = f"{STORE}.pay_summ.{DAY}.153045.zip", day: str = DAY) -> Path:
    """A labor zip with timecard members ``_{n}`` and one employee-detail member."""
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        for n, rows in timecards.items():
            text = "".join("\t".join(row) + "\r\n" for row in rows)
            archive.writestr(f"{STORE}.p_hs_timecard_record.{day}_{n}.csv", text)
        if employees is not None:
            text = "".join("\t".join(row) + "\n" for row in employees)
            archive.writestr(f"{STORE}.p_hs_employee_detail.{day}_1.csv", text)
    return path


def by_part(result, employee: str = "E1") -> dict[str, float]:
    rows = result.hours[result.hours["employee_id"] == employee]
    return dict(zip(rows["daypart"], rows["hours"], strict=True))


def assert_counts_add_up(result) -> None:
    assert result.rows_read == result.timecards_loaded + len(result.rejects)


# --- file names -----------------------------------------------------------------------------------


def test_parse_labor_file_name():
    assert parse_labor_file_name("000126.pay_summ.20260901.153045.zip") == LaborFileName("000126", D, "153045")
    assert parse_labor_file_name("Labor/126.summary.20260901.070000.zip") == LaborFileName("000126", D, "070000")
    for bad in ("000126.pay_summ.20260931.153045.zip", "ABC.pay_summ.20260901.153045.zip",
                "000126.pay_summ.20260901.zip", "000126.pay_summ.20260901.256000.zip", "notes.txt"):
        with pytest.raises(ValueError, match="not a labor file name"):
            parse_labor_file_name(bad)


def test_select_newest_files_keeps_one_newest_per_store_and_day():
    names = [
        "000126.pay_summ.20260901.080000.zip",
        "000126.pay_summ.20260901.153045.zip",
        "000126.summary.20260901.120000.zip",
        "000126.pay_summ.20260902.090000.zip",
        "000200.summary.20260901.010101.zip",
        "126.pay_summ.20260901.000001.zip",
        "readme.txt",
        "000126.pay_summ.2026090.153045.zip",
    ]
    selection = select_newest_files(names)
    chosen, superseded, unrecognised = selection
    assert chosen == [
        "000126.pay_summ.20260901.153045.zip",
        "000200.summary.20260901.010101.zip",
        "000126.pay_summ.20260902.090000.zip",
    ]
    assert sorted(superseded) == sorted([
        "000126.pay_summ.20260901.080000.zip",
        "000126.summary.20260901.120000.zip",
        "126.pay_summ.20260901.000001.zip",
    ])
    assert unrecognised == ["readme.txt", "000126.pay_summ.2026090.153045.zip"]
    assert len(chosen) + len(superseded) + len(unrecognised) == len(names)


# --- day parts and the business day ----------------------------------------------------------------


def test_shift_split_by_minutes_in_each_daypart(tmp_path):
    # 16:02-23:10 is 428 minutes: Afternoon 58, Dinner 240, Evening 130.
    result = transform_labor_zip(make_zip(tmp_path, {1: [timecard("2026-09-01 16:02:00", "2026-09-01 23:10:00",
                                                                   regular=428)]}))
    assert by_part(result) == {"Afternoon": 0.9667, "Dinner": 4.0, "Evening": 2.1667}
    assert result.source_item == f"{STORE}.pay_summ.{DAY}.153045.zip"
    assert set(result.hours["business_date"]) == {D}
    assert set(result.hours["store_id"]) == {STORE}
    assert list(result.hours.columns) == ["store_id", "employee_id", "business_date", "daypart", "hours",
                                          "employee_name", "source_item"]
    assert_counts_add_up(result)


def test_paid_minutes_are_split_in_proportion_to_clock_minutes(tmp_path):
    # 09:00-15:00 on the clock (6 h) but 5 h paid (an unpaid break): Morning 1/6, Lunch 4/6, Afternoon 1/6.
    result = transform_labor_zip(make_zip(tmp_path, {1: [timecard("2026-09-01 09:00:00", "2026-09-01 15:00:00",
                                                                   regular=270, overtime=30)]}))
    assert by_part(result) == {"Morning": 0.8333, "Lunch": 3.3333, "Afternoon": 0.8333}


def test_late_night_after_midnight_belongs_to_the_file_business_day(tmp_path):
    rows = [timecard("2026-09-01 20:00:00", "2026-09-02 02:00:00", regular=360)]
    result = transform_labor_zip(make_zip(tmp_path, {1: rows}))
    assert by_part(result) == {"Dinner": 1.0, "Evening": 3.0, "Late Night": 2.0}
    assert set(result.hours["business_date"]) == {D}


def test_opener_before_eight_counts_as_late_night_of_the_same_day(tmp_path):
    rows = [timecard("2026-09-01 07:30:00", "2026-09-01 12:00:00", regular=270)]
    result = transform_labor_zip(make_zip(tmp_path, {1: rows}))
    assert by_part(result) == {"Morning": 2.0, "Lunch": 2.0, "Late Night": 0.5}
    assert set(result.hours["business_date"]) == {D}


def test_shift_ending_exactly_at_eight_next_day_is_not_capped(tmp_path):
    rows = [timecard("2026-09-02 00:00:00", "2026-09-02 08:00:00", regular=480)]
    result = transform_labor_zip(make_zip(tmp_path, {1: rows}))
    assert by_part(result) == {"Late Night": 8.0}
    assert result.rejects.empty


def test_clock_out_after_the_business_day_is_capped_and_hours_pro_rated(tmp_path):
    rows = [
        # 06:00-10:00 on D+1: only 2 of 4 hours fall before 08:00, so 240 paid minutes become 2 hours.
        timecard("2026-09-02 06:00:00", "2026-09-02 10:00:00", employee="E1", regular=240),
        # 22:00-10:00 next day, 11 h paid over 12 h on the clock: 10/12 kept -> 9.1667 h,
        # split Evening 2/10 and Late Night 8/10.
        timecard("2026-09-01 22:00:00", "2026-09-02 10:00:00", employee="E2", regular=600, overtime=60),
    ]
    result = transform_labor_zip(make_zip(tmp_path, {1: rows}))
    assert by_part(result, "E1") == {"Late Night": 2.0}
    assert by_part(result, "E2") == {"Evening": 1.8333, "Late Night": 7.3333}
    assert result.timecards_loaded == 2


def test_every_timecard_member_is_read_and_hours_add_up_per_employee(tmp_path):
    members = {
        1: [timecard("2026-09-01 10:00:00", "2026-09-01 12:00:00", regular=120, record="1")],
        2: [timecard("2026-09-01 13:00:00", "2026-09-01 15:00:00", regular=120, record="2"),
            timecard("2026-09-01 11:00:00", "2026-09-01 12:00:00", employee="E2", regular=60, record="3")],
    }
    result = transform_labor_zip(make_zip(tmp_path, members))
    assert by_part(result) == {"Lunch": 3.0, "Afternoon": 1.0}
    assert by_part(result, "E2") == {"Lunch": 1.0}
    assert result.rows_read == 3 and result.timecards_loaded == 3
    assert not result.hours.duplicated(["store_id", "employee_id", "business_date", "daypart"]).any()


# --- rejects ---------------------------------------------------------------------------------------


def test_invalid_timecards_are_rejected_with_reasons_and_line_numbers(tmp_path):
    good = timecard("2026-09-01 10:00:00", "2026-09-01 14:00:00", regular=240)
    rows = [
        good,
        good[:9],
        timecard("yesterday", "2026-09-01 14:00:00", regular=240),
        timecard("2026-09-01 10:00:00", "2026-09-01 25:00:00", regular=240),
        timecard("2026-09-01 14:00:00", "2026-09-01 10:00:00", regular=240),
        timecard("2026-08-31 23:00:00", "2026-09-01 10:00:00", regular=240),
        timecard("2026-09-02 08:00:00", "2026-09-02 10:00:00", regular=240),
        timecard("2026-09-01 10:00:00", "2026-09-01 14:00:00", regular="-5"),
        timecard("2026-09-01 10:00:00", "2026-09-01 14:00:00", regular=240, overtime="abc"),
        timecard("2026-09-01 10:00:00", "2026-09-01 14:00:00", regular=240, store="000127"),
        timecard("2026-09-01 10:00:00", "2026-09-01 14:00:00", employee=" ", regular=240),
        timecard("2026-09-01 10:00:00", "2026-09-01 14:00:00", regular=240, store="126"),
    ]
    result = transform_labor_zip(make_zip(tmp_path, {1: rows}))
    reasons = dict(zip(result.rejects["source_row"], result.rejects["reason"], strict=True))
    assert sorted(reasons) == list(range(2, 12))
    assert reasons[2] == "malformed row: 9 fields, 14 expected"
    assert reasons[3].startswith("invalid clock-in: 'yesterday EDT'")
    assert reasons[4].startswith("invalid clock-out:")
    assert reasons[5].startswith("clock-out not after clock-in:")
    assert reasons[6].startswith("clock-in outside the business day: 2026-08-31 23:00:00")
    assert reasons[7].startswith("clock-in outside the business day: 2026-09-02 08:00:00")
    assert reasons[8] == "invalid minutes: regular minutes -5 is negative"
    assert reasons[9] == "invalid minutes: overtime minutes 'abc' is not a number"
    assert reasons[10] == "store mismatch: row store '000127' is not the file's store 000126"
    assert reasons[11] == "missing employee id: the timecard has no employee id"
    raw = result.rejects["raw"].iloc[0]
    assert raw["member"] == f"{STORE}.p_hs_timecard_record.{DAY}_1.csv"
    assert raw["store"] == STORE and raw["clock_out"] == "2026-09-01 14:00:00 EDT"
    assert all(isinstance(v, str) for r in result.rejects["raw"] for v in r.values())
    # Rows 1 and 12 (store written as 126) are loaded: 4 + 4 Lunch hours.
    assert result.timecards_loaded == 2 and by_part(result) == {"Lunch": 8.0}
    assert result.rows_read == len(rows)
    assert_counts_add_up(result)


def test_blank_lines_are_not_rows_but_keep_line_numbers(tmp_path):
    path = tmp_path / f"{STORE}.summary.{DAY}.010203.zip"
    line = "\t".join(timecard("2026-09-01 10:00:00", "2026-09-01 11:00:00", regular=60))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{STORE}.p_hs_timecard_record.{DAY}_1.csv", f"{line}\n\n{line[:20]}\n")
    result = transform_labor_zip(path)
    assert result.rows_read == 2 and result.rejects["source_row"].tolist() == [3]


def test_employee_names_come_from_the_detail_member(tmp_path):
    rows = [
        timecard("2026-09-01 10:00:00", "2026-09-01 11:00:00", employee="E1", regular=60),
        timecard("2026-09-01 10:00:00", "2026-09-01 11:00:00", employee="E9", regular=60),
    ]
    employees = [employee_row("E1", "Ada", "Lovelace"), employee_row("E2", "Alan", "Turing"), ["x", "y"],
                 employee_row("E1", "Ada", "Again")]
    result = transform_labor_zip(make_zip(tmp_path, {1: rows}, employees))
    names = dict(zip(result.hours["employee_id"], result.hours["employee_name"], strict=True))
    assert names == {"E1": "Ada Lovelace", "E9": None}
    assert result.employees.to_dict("records") == [
        {"store_id": STORE, "employee_id": "E1", "first_name": "Ada", "last_name": "Lovelace"},
        {"store_id": STORE, "employee_id": "E2", "first_name": "Alan", "last_name": "Turing"},
    ]
    assert result.employee_rejects["reason"].tolist() == [
        "malformed employee row: 2 fields, 6 expected",
        "duplicate employee: E1 is listed earlier in the zip",
    ]
    assert result.employee_rejects["source_row"].tolist() == [3, 4]
    assert result.rejects.empty and result.timecards_loaded == 2


def test_not_a_zip_or_not_a_labor_name_is_a_clear_error(tmp_path):
    bad = tmp_path / f"{STORE}.pay_summ.{DAY}.153045.zip"
    bad.write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable zip"):
        transform_labor_zip(bad)
    other = tmp_path / "hours.zip"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="not a labor file name"):
        transform_labor_zip(other)


# --- conservation of hours ---------------------------------------------------------------------------

CONSERVATION_CASES = [
    # (clock-in, clock-out, paid minutes, share of the shift kept)
    ("2026-09-01 08:00:00", "2026-09-01 16:00:00", 480, 1.0),
    ("2026-09-01 07:30:00", "2026-09-01 09:15:00", 100, 1.0),
    ("2026-09-01 23:45:00", "2026-09-02 00:15:00", 30, 1.0),
    ("2026-09-01 00:00:00", "2026-09-01 03:00:00", 180, 1.0),
    ("2026-09-02 07:00:00", "2026-09-02 08:00:00", 60, 1.0),
    ("2026-09-02 07:00:00", "2026-09-02 09:00:00", 120, 0.5),
    ("2026-09-01 18:00:00", "2026-09-02 12:00:00", 900, 14 / 18),
    ("2026-09-01 09:00:07", "2026-09-01 17:59:53", 521, 1.0),
    ("2026-09-01 10:00:00", "2026-09-01 14:00:00", 0, 1.0),
]


@pytest.mark.parametrize(("clock_in", "clock_out", "paid", "share"), CONSERVATION_CASES)
def test_split_conserves_paid_hours(clock_in, clock_out, paid, share):
    parts = split_shift_hours(datetime.fromisoformat(clock_in), datetime.fromisoformat(clock_out), D, paid)
    assert sum(parts.values()) == pytest.approx(paid / 60 * share, abs=1e-9)
    assert all(value >= 0 for value in parts.values())


def test_split_conserves_hours_on_random_shifts_and_zip_totals_match(tmp_path):
    rng = random.Random(126)
    rows, expected = [], 0.0
    day_start = datetime(2026, 9, 1)
    for record in range(200):
        clock_in = day_start + timedelta(minutes=rng.randrange(0, 32 * 60))
        clock_out = clock_in + timedelta(minutes=rng.randrange(1, 14 * 60))
        regular, overtime = rng.randrange(0, 600), rng.choice([0, 0, 15, 90])
        cap = min(clock_out, datetime(2026, 9, 2, 8))
        share = (cap - clock_in) / (clock_out - clock_in)
        parts = split_shift_hours(clock_in, clock_out, D, regular + overtime)
        assert sum(parts.values()) == pytest.approx((regular + overtime) / 60 * share, abs=1e-9)
        expected += (regular + overtime) / 60 * share
        rows.append(timecard(f"{clock_in:%Y-%m-%d %H:%M:%S}", f"{clock_out:%Y-%m-%d %H:%M:%S}",
                             employee=f"E{record % 7}", regular=regular, overtime=overtime, record=str(record)))
    result = transform_labor_zip(make_zip(tmp_path, {1: rows[:100], 2: rows[100:]}))
    assert result.rejects.empty and result.timecards_loaded == 200
    # Each aggregated row is rounded to 4 decimals: the total may differ by half a unit per row.
    assert result.hours["hours"].sum() == pytest.approx(expected, abs=0.00005 * len(result.hours) + 1e-9)


# --- many zips at once -------------------------------------------------------------------------------


def test_batch_of_zips_gives_the_same_rows_and_per_file_counts(tmp_path):
    from include.transforms.labor import transform_labor_zips

    first = make_zip(tmp_path, {1: [timecard("2026-09-01 10:00:00", "2026-09-01 12:00:00", regular=120),
                                    timecard("bad", "2026-09-01 12:00:00", regular=120)]},
                     [employee_row("E1", "Ada", "Old")])
    day2 = "20260902"
    second = make_zip(tmp_path, {1: [timecard("2026-09-02 17:00:00", "2026-09-02 18:00:00", regular=60, day=day2)]},
                      [employee_row("E1", "Ada", "New", day=day2)], name=f"{STORE}.summary.{day2}.060000.zip",
                      day=day2)
    batch = transform_labor_zips([second, first])
    singles = [transform_labor_zip(second), transform_labor_zip(first)]
    assert batch.hours.to_dict("records") == [r for s in singles for r in s.hours.to_dict("records")]
    assert batch.employees.to_dict("records") == [
        {"store_id": STORE, "employee_id": "E1", "first_name": "Ada", "last_name": "New"}]
    assert [(f.source_item, f.rows_read, f.timecards_loaded, f.rejected) for f in batch.files] == [
        (second.name, 1, 1, 0), (first.name, 2, 1, 1)]
    assert batch.rows_read == batch.timecards_loaded + len(batch.rejects) == 3
    assert batch.rejects["raw"].iloc[0]["file"] == first.name
    with pytest.raises(ValueError, match="both for store 000126 on 2026-09-01"):
        transform_labor_zips([first, first])
