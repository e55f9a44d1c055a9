"""Image helpers, in one place: RGB uint8 arrays to and from PNG, square upscaling, tiling into a grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from s2f.atomic import atomic_write


def png_bytes(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode a {rgb.shape} image as PNG")
    return buf.tobytes()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes (as stored in the faces table) to an RGB array."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def write_png(rgb: np.ndarray, path: str | Path) -> Path:
    """An RGB array as a PNG file, written atomically."""
    return atomic_write(path, lambda tmp: cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))


def upscale(image: np.ndarray, size: int) -> np.ndarray:
    """A square image resized to `size` px (bicubic), as faces are shown."""
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)


def tile(images: Sequence[np.ndarray], per_row: int) -> np.ndarray:
    """Equal-sized images in rows of `per_row`, the last row padded with black."""
    images = list(images)
    images += [np.zeros_like(images[0])] * (-len(images) % per_row)
    return np.vstack([np.hstack(images[i:i + per_row]) for i in range(0, len(images), per_row)])
