"""Landmark layouts known to the SDK: names, point counts and reference indices."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayoutInfo:
    """Static facts about a landmark layout.

    Attributes:
        name: layout key, e.g. ``"ibug68"``.
        num_points: number of landmarks.
        outer_eye_corners: indices of the two outer eye corners (NME normaliser).
        mirror_pairs: (i, j) index pairs swapped by a horizontal flip; points not listed
            lie on the symmetry plane.
    """

    name: str
    num_points: int
    outer_eye_corners: tuple[int, int]
    mirror_pairs: tuple[tuple[int, int], ...]

    def flip_permutation(self) -> list[int]:
        """Index map under a horizontal flip: point i becomes point ``perm[i]``."""
        perm = list(range(self.num_points))
        for i, j in self.mirror_pairs:
            perm[i], perm[j] = j, i
        return perm


def _pairs(*ranges: tuple[list[int], list[int]]) -> tuple[tuple[int, int], ...]:
    return tuple((a, b) for left, right in ranges for a, b in zip(left, right))


_r = lambda a, b: list(range(a, b))  # noqa: E731

LAYOUTS: dict[str, LayoutInfo] = {
    "ibug68": LayoutInfo(
        "ibug68", 68, (36, 45),
        _pairs(
            (_r(0, 8), list(range(16, 8, -1))),
            (_r(17, 22), list(range(26, 21, -1))),
            ([31, 32], [35, 34]),
            ([36, 37, 38, 39, 40, 41], [45, 44, 43, 42, 47, 46]),
            ([48, 49, 50, 55, 56], [54, 53, 52, 59, 58]),
            ([60, 61, 65], [64, 63, 67]),
        ),
    ),
    "wflw98": LayoutInfo(
        "wflw98", 98, (60, 72),
        _pairs(
            (_r(0, 16), list(range(32, 16, -1))),
            (_r(33, 42), [46, 45, 44, 43, 42, 50, 49, 48, 47]),
            ([55, 56], [59, 58]),
            (_r(60, 68), [72, 71, 70, 69, 68, 75, 74, 73]),
            ([76, 77, 78, 83, 84], [82, 81, 80, 87, 86]),
            ([88, 89, 93], [92, 91, 95]),
            ([96], [97]),
        ),
    ),
}


def layout_info(name: str) -> LayoutInfo:
    """Return the LayoutInfo of ``name``; raises InputError for unknown names."""
    from .errors import InputError

    try:
        return LAYOUTS[name]
    except KeyError:
        raise InputError(f"unknown layout {name!r}; expected one of {sorted(LAYOUTS)}") from None


def layout_for_count(n: int) -> str:
    """Name of the bundled layout with ``n`` points, else ``"custom<n>"``."""
    return next((k for k, v in LAYOUTS.items() if v.num_points == n), f"custom{n}")
