"""How sharp decoded faces are beside the real crops: the variance of the Laplacian, a common focus measure."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from s2f.images import upscale


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of an RGB image's grey levels (blur lowers it)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def sharpness(faces: Sequence[np.ndarray], real: Sequence[np.ndarray], side: int) -> np.ndarray:
    """Each face's sharpness relative to real crops: its Laplacian variance when shown at `side` px (upscaled
    bicubically, as faces are shown) over the median of the real crops' at `side` px. 1 is as sharp as the median
    real crop; a blurred or upscaled face scores below."""
    reference = float(np.median([laplacian_variance(upscale(r, side)) for r in real]))
    return np.array([laplacian_variance(upscale(f, side)) for f in faces]) / max(reference, 1e-12)
