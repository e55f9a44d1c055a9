"""Craniofacial measures from dlib's 68 landmarks (iBUG 300-W indexing), as ratios so that scale cancels.

Distances are divided by the outer-canthal width (eye corners 36-45) unless the measure is itself a ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Landmarks = np.ndarray  # (n, 68, 2)


def _dist(marks: Landmarks, i: int, j: int) -> np.ndarray:
    return np.linalg.norm(marks[:, i] - marks[:, j], axis=-1)


def _per_eyes(marks: Landmarks, i: int, j: int) -> np.ndarray:
    return _dist(marks, i, j) / _dist(marks, 36, 45)


MEASURES: dict[str, Callable[[Landmarks], np.ndarray]] = {
    "nose_width": lambda m: _per_eyes(m, 31, 35),
    "nasal_index": lambda m: _dist(m, 31, 35) / _dist(m, 27, 33),  # nose width / nose height
    "mouth_width": lambda m: _per_eyes(m, 48, 54),
    "lip_height": lambda m: _per_eyes(m, 51, 57),
    "jaw_width": lambda m: _per_eyes(m, 4, 12),
    "face_width": lambda m: _per_eyes(m, 0, 16),
    "face_aspect": lambda m: _dist(m, 27, 8) / _dist(m, 0, 16),  # nasion-chin over face width
    "lower_face": lambda m: _dist(m, 33, 8) / _dist(m, 27, 8),  # subnasale-chin share of nasion-chin
    "intercanthal": lambda m: _per_eyes(m, 39, 42),
    "eye_width": lambda m: (_dist(m, 36, 39) + _dist(m, 42, 45)) / 2 / _dist(m, 36, 45),
}


def measures(marks: Landmarks) -> dict[str, np.ndarray]:
    """Every measure for a stack of landmark sets."""
    marks = np.asarray(marks, np.float64)
    return {name: fn(marks) for name, fn in MEASURES.items()}
