"""The sample store roster: numbers, names, places, opening dates and the special cases.

Special stores (chosen deterministically): store 1089 always exists (it has tuned ARIMA
orders in the legacy config); one store opened three weeks before ``end_date`` (under 4 weeks
of history); one opened about a year before (under 104 weeks); one or two closed stores; one
store closed a week for a remodel; some stores start selling through an aggregator mid-history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from include.sample.rand import rng_for

MIN_STORES = 4
MAX_STORES = 500
TUNED_STORE = 1089

#: (city, state), Ohio first: Beachwood is an Ohio operator spreading into neighbouring states.
CITIES: tuple[tuple[str, str], ...] = (
    ("Beachwood", "OH"), ("Cleveland", "OH"), ("Lakewood", "OH"), ("Mentor", "OH"), ("Parma", "OH"),
    ("Strongsville", "OH"), ("Akron", "OH"), ("Canton", "OH"), ("Youngstown", "OH"), ("Columbus", "OH"),
    ("Dublin", "OH"), ("Westerville", "OH"), ("Dayton", "OH"), ("Kettering", "OH"), ("Cincinnati", "OH"),
    ("Mason", "OH"), ("Toledo", "OH"), ("Sandusky", "OH"), ("Elyria", "OH"), ("Medina", "OH"),
    ("Solon", "OH"), ("Euclid", "OH"), ("Stow", "OH"), ("Mansfield", "OH"), ("Findlay", "OH"),
    ("Detroit", "MI"), ("Ann Arbor", "MI"), ("Livonia", "MI"), ("Troy", "MI"), ("Warren", "MI"),
    ("Grand Rapids", "MI"), ("Lansing", "MI"), ("Flint", "MI"), ("Novi", "MI"), ("Dearborn", "MI"),
    ("Pittsburgh", "PA"), ("Erie", "PA"), ("Cranberry Township", "PA"), ("Monroeville", "PA"),
    ("Harrisburg", "PA"), ("State College", "PA"), ("Altoona", "PA"), ("Butler", "PA"),
    ("Fort Wayne", "IN"), ("Indianapolis", "IN"), ("South Bend", "IN"), ("Carmel", "IN"),
    ("Lexington", "KY"), ("Louisville", "KY"), ("Morgantown", "WV"), ("Wheeling", "WV"),
    ("Buffalo", "NY"), ("Rochester", "NY"), ("Jamestown", "NY"),
)
STREETS: tuple[str, ...] = (
    "Main St", "Market St", "High St", "Chagrin Blvd", "Mayfield Rd", "Detroit Ave", "Route 20",
    "Broadway", "Center St", "Lake Shore Blvd", "Pearl Rd", "Ridge Rd", "Euclid Ave", "State St",
    "Maple Ave", "Oak St", "Washington St", "Lincoln Way", "Grand River Ave", "Woodward Ave",
    "Liberty Ave", "Penn Ave", "Kenwood Rd", "Sawmill Rd", "Cleveland Ave", "Telegraph Rd",
    "Mill St", "Jefferson Ave", "Harvard Rd", "Fulton Rd",
)


@dataclass(frozen=True)
class Store:
    """One real store of the sample (bad Stores-sheet rows are not stores)."""

    number: int
    name: str
    city: str
    state: str
    district: int
    opened_on: date | None  # as written in the sheet (None: the cell is empty)
    first_day: date  # first day of trading
    closed_on: date | None  # first day without trading for good (Status Closed)
    size: float  # sales scale, 1.0 = a typical store
    role: str  # normal, recent, one_year, closed
    remodel: tuple[date, date] | None = None  # closed for a remodel, both days included
    aggregator_from: date | None = None  # sells through an aggregator from this day (None: always)
    aggregator: str = "DoorDash"

    @property
    def store_id(self) -> str:
        """Canonical 6-digit, zero-padded store number."""
        return f"{self.number:06d}"

    @property
    def active(self) -> bool:
        return self.closed_on is None

    def trades_on(self, day: date) -> bool:
        """Whether the store is open for business that day (holidays aside)."""
        if day < self.first_day or (self.closed_on is not None and day >= self.closed_on):
            return False
        return not (self.remodel and self.remodel[0] <= day <= self.remodel[1])


def store_numbers(seed: int, count: int) -> list[int]:
    """``count`` distinct realistic 3-4 digit store numbers, always including 126 and 1089, ascending."""
    rng = rng_for(seed, "store-numbers")
    pool = [n for n in range(101, 3000) if n not in (126, TUNED_STORE)]
    picked = rng.choice(len(pool), size=count - 2, replace=False)
    return sorted([126, TUNED_STORE, *(pool[i] for i in picked)])


def build_stores(seed: int, count: int, end_date: date, first_sales_date: date) -> list[Store]:
    """The roster of ``count`` stores with their special roles, ordered by store number."""
    if not MIN_STORES <= count <= MAX_STORES:
        raise ValueError(f"stores must be between {MIN_STORES} and {MAX_STORES}, got {count}")
    rng = rng_for(seed, "stores")
    numbers = store_numbers(seed, count)
    others = [n for n in numbers if n != TUNED_STORE]
    special = [others[int(i)] for i in rng.choice(len(others), size=len(others), replace=False)]
    recent, one_year, closed = special[0], special[1], [special[2]]
    if count >= 20:
        closed.append(special[3])
    remodel_store = special[len(closed) + 2] if count > len(closed) + 3 else TUNED_STORE
    normal = [n for n in numbers if n not in (recent, one_year, *closed)]
    late_aggregator = {normal[int(i)] for i in rng.choice(len(normal), size=len(normal) // 5, replace=False)}

    combos = [(c, s) for c in range(len(CITIES)) for s in range(len(STREETS))]
    order = rng.permutation(len(combos))
    district_size = 7
    empty_open_date = normal[-1] if len(normal) > 2 else None
    stores = []
    for i, number in enumerate(numbers):
        city, state = CITIES[combos[order[i]][0]]
        street = STREETS[combos[order[i]][1]]
        opened = first_sales_date - timedelta(days=int(rng.integers(400, 6000)))
        role, closed_on, remodel, agg_from = "normal", None, None, None
        if number == recent:
            role, opened = "recent", end_date - timedelta(days=20)
        elif number == one_year:
            role, opened = "one_year", end_date - timedelta(days=380)
        elif number in closed:
            role = "closed"
            closed_on = end_date - timedelta(days=150 + 40 * closed.index(number))
        if number == remodel_store:
            start = end_date - timedelta(days=200)
            remodel = (start, start + timedelta(days=6))
        if number in late_aggregator:
            agg_from = first_sales_date + timedelta(days=int(rng.integers(60, 300)))
        size = float(rng.lognormal(0.0, 0.25))
        stores.append(
            Store(
                number=number,
                name=f"{city} - {street}",
                city=city,
                state=state,
                district=i // district_size + 1,
                opened_on=None if number == empty_open_date else opened,
                first_day=max(opened, first_sales_date),
                closed_on=closed_on,
                size=size,
                role=role,
                remodel=remodel,
                aggregator_from=agg_from,
                aggregator=("DoorDash", "Uber Eats", "Grubhub")[int(rng.integers(0, 3))],
            )
        )
    return stores
