"""Integer codes for text values, and group-by on them with plain numpy.

The detectors group a million rows several ways (token x window, IP x window, ...). Grouping
pandas string columns converts them back and forth between Arrow and Python objects; coding
each text column once and grouping integer arrays is several times faster, and turns "distinct
IPs per token-window" into two integer factorisations.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

Ints = np.ndarray[Any, np.dtype[np.int64]]
Floats = np.ndarray[Any, np.dtype[np.float64]]
Positions = np.ndarray[Any, np.dtype[np.intp]]
Flags = np.ndarray[Any, np.dtype[np.bool_]]
Objects = np.ndarray[Any, np.dtype[np.object_]]


@dataclass(frozen=True)
class Coded:
    """A text column as codes into `values`; -1 for a missing value."""

    codes: Ints
    values: Objects

    @classmethod
    def of(cls, column: "pd.Series[Any]") -> "Coded":
        codes, uniques = pd.factorize(column)
        return cls(codes.astype(np.int64), np.asarray(uniques, dtype=object))

    def text(self, codes: Ints) -> Objects:
        """The values of `codes`, None for -1."""
        padded = np.append(self.values, np.array([None], dtype=object))
        return np.asarray(padded[codes], dtype=object)  # -1 picks the trailing None

    def lookup(self, values: "pd.Series[Any] | Objects") -> Ints:
        """The code of each value; -1 for a value this column never holds."""
        return np.asarray(pd.Index(self.values).get_indexer(pd.Index(values)), dtype=np.int64)


def combine(*keys: Ints, sizes: Sequence[int] | None = None) -> Ints:
    """One non-negative int64 per combination of the keys (each >= -1).

    Each key's width is its largest value here, or `sizes` (every code of key i is below
    sizes[i]): pass sizes to compare combinations built from different arrays.
    """
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    for index, key in enumerate(keys):
        shifted = key + 1
        width = sizes[index] + 1 if sizes is not None else int(shifted.max(initial=0)) + 1
        combined = combined * width + shifted
    return combined


class Groups:
    """Rows grouped by a combination of integer keys; groups numbered by first appearance."""

    def __init__(self, *keys: Ints) -> None:
        codes, uniques = pd.factorize(combine(*keys))
        self.codes: Ints = codes.astype(np.int64)
        self.count = len(uniques)
        first = np.full(self.count, len(self.codes), dtype=np.int64)
        np.minimum.at(first, self.codes, np.arange(len(self.codes), dtype=np.int64))
        self.first_row: Ints = first

    def first(self, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Each group's value in its first row."""
        return values[self.first_row]

    def size(self) -> Ints:
        return np.bincount(self.codes, minlength=self.count).astype(np.int64)

    def sum(self, values: np.ndarray[Any, Any]) -> Floats:
        totals = np.bincount(self.codes, weights=values, minlength=self.count)
        return np.asarray(totals, dtype=np.float64)

    def max(self, values: Ints) -> Ints:
        result = np.full(self.count, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(result, self.codes, values)
        return result

    def nunique(self, values: Ints) -> Ints:
        """Distinct non-missing (>= 0) values per group."""
        present = values >= 0
        pairs = pd.unique(combine(self.codes[present], values[present]))
        # combine() keeps the group in the high part: recover it from each distinct pair.
        width = int(values[present].max(initial=0)) + 2
        groups = pairs // width - 1
        return np.bincount(groups, minlength=self.count).astype(np.int64)

    def cumcount(self) -> Ints:
        """Each row's position within its group (rows in order)."""
        return np.asarray(pd.Series(self.codes).groupby(self.codes).cumcount(), dtype=np.int64)
