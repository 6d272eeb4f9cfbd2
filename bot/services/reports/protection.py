"""The one rule for every count the council sees: reports, CSV files, /mystats, any dashboard.

A cell is a count of people (or events) in one calendar month and one category: sign-ups in
Chelmsford in November, ratings of 4 after an introduction in December. Each cell is rounded to
the nearest multiple of the base (5 unless the council sets another), halves up: 0 to 2 show as
0, 3 to 7 as 5, 8 to 12 as 10. Everything longer or larger than a cell (a period of several
months, a row or column total, a rate) is worked out from the rounded cells alone, never from the
exact counts.

So everything published, over every period anyone can ask for, is a function of the rounded
cells: however a reader combines reports (subtracting one period from another, adding months,
comparing totals), she learns no more about a cell than its own rounded figure tells her, and a
count from 1 to 4 never shows as itself. This is the rounding UK statistics producers use (HESA:
0 to 2 become 0, everything else the nearest 5), applied to month-sized cells so that
differencing reports over different periods gains nothing.

It replaces withholding counts below the threshold ("<5") with complementary suppression: that
protected one report at a time, but a report for November and one for November to December
could still be subtracted.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_BASE = 5
# A rate of a handful of rounded counts mostly shows the rounding: like HESA (no percentage of
# fewer than 22.5 people), a rate is shown only when its rounded whole is five bases or more.
RATE_MIN_BASES = 5


def _checked(base: int) -> int:
    if base < 2:
        raise ValueError("the rounding base must be at least 2")
    return base


def protect_count(count: int, base: int = DEFAULT_BASE) -> int:
    """One cell's exact count as it may be published: the nearest multiple of `base`."""
    if count < 0:
        raise ValueError("a count cannot be negative")
    step = _checked(base)
    return (count + step // 2) // step * step


def indistinguishable(shown: int, base: int = DEFAULT_BASE) -> range:
    """Every exact count a published cell could stand for: what the protection guarantees."""
    step = _checked(base)
    if shown < 0 or shown % step:
        raise ValueError(f"{shown} is not a published figure for base {step}")
    return range(max(shown - step // 2, 0), shown - step // 2 + step)


def protected_total(counts: Iterable[int], base: int = DEFAULT_BASE) -> int:
    """The published sum of some cells' exact counts: the sum of their rounded figures."""
    return sum(protect_count(count, base) for count in counts)


def protected_rate(part: int, whole: int, base: int = DEFAULT_BASE) -> float | None:
    """A share of two published figures, or None when the whole is too small to mean much.

    Both must already be protected (rounded cells or their sums): a rate is never worked out
    from exact counts, or it would tell what the rounding hides.
    """
    if part % _checked(base) or whole % base or not 0 <= part <= whole:
        raise ValueError("a rate is only taken of published figures, the part within the whole")
    if whole < RATE_MIN_BASES * base:
        return None
    return part / whole
