"""Small, dependency-free statistics and formatting helpers of the benchmark."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """The median of `runs` samples and their spread."""

    median: float
    min: float
    max: float
    runs: int

    def as_dict(self, digits: int = 4) -> dict[str, float | int]:
        return {"median": round(self.median, digits), "min": round(self.min, digits),
                "max": round(self.max, digits), "runs": self.runs}


def summarize(samples: Sequence[float]) -> Summary:
    """Median, min and max of `samples`; raises ValueError on an empty sequence."""
    if not samples:
        raise ValueError("no samples to summarize")
    return Summary(statistics.median(samples), min(samples), max(samples), len(samples))


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Summary:
    """Ratios of samples measured side by side (run i over run i): robust to a noisy machine,
    since both halves of a pair saw the same load."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators for {len(denominators)} denominators")
    return summarize([n / d for n, d in zip(numerators, denominators, strict=True)])


def paired_differences(minuends: Sequence[float], subtrahends: Sequence[float]) -> Summary:
    """Differences of samples measured side by side (run i minus run i)."""
    if len(minuends) != len(subtrahends):
        raise ValueError(f"{len(minuends)} minuends for {len(subtrahends)} subtrahends")
    return summarize([a - b for a, b in zip(minuends, subtrahends, strict=True)])


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Slope, intercept and R^2 of the least-squares line through (xs, ys)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("need at least two (x, y) points")
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1.0 if ss_tot == 0 else 1 - ss_res / ss_tot
    return slope, intercept, r2

