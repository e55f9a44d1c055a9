"""Contact sheets: aligned crops tiled into one PNG, so a person can look at what the faces stage kept."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from s2f.images import decode_png, tile


def contact_sheet(faces: pd.DataFrame, per_row: int = 8, label: bool = True) -> np.ndarray:
    """One tile per kept frame, rows ordered by clip; each tile labelled with speaker and frontality."""
    rows = faces.sort_values(["speaker_id", "clip_id", "time"])
    tiles = []
    for r in rows.itertuples():
        crop = decode_png(r.crop).copy()
        if label:
            cv2.putText(crop, f"{r.speaker_id[:10]} {r.frontality:.2f}", (2, crop.shape[0] - 4),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 0), 1, cv2.LINE_AA)
        tiles.append(crop)
    if not tiles:
        raise ValueError("no face crops to show")
    return tile(tiles, per_row)
