"""Contact sheets: aligned crops tiled into one PNG, so a person can look at what the faces stage kept."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from s2f.atomic import atomic_write


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes (as stored in the faces table) to an RGB array."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def contact_sheet(faces: pd.DataFrame, per_row: int = 8, label: bool = True) -> np.ndarray:
    """One tile per kept frame, rows ordered by clip; each tile labelled with speaker and frontality."""
    rows = faces.sort_values(["speaker_id", "clip_id", "time"])
    tiles = []
    for r in rows.itertuples():
        tile = decode_png(r.crop).copy()
        if label:
            cv2.putText(tile, f"{r.speaker_id[:10]} {r.frontality:.2f}", (2, tile.shape[0] - 4),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        raise ValueError("no face crops to show")
    side = tiles[0].shape[0]
    tiles += [np.zeros((side, side, 3), np.uint8)] * (-len(tiles) % per_row)
    return np.vstack([np.hstack(tiles[i:i + per_row]) for i in range(0, len(tiles), per_row)])


def write_png(rgb: np.ndarray, path: str | Path) -> Path:
    return atomic_write(path, lambda tmp: cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))
