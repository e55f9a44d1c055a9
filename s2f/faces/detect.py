"""Face detection (mediapipe Tasks FaceDetector, BlazeFace short range) and the choice of the speaker's face.

BlazeFace short range sees a 128 x 128 picture of the frame, letterboxed: in a 16:9 frame a face loses 44% of its
pixels before the detector looks, and a face below about an eighth of the picture's side is not found at all. So
a wide frame is also searched in squares of its short side, and `detect_small` searches small overlapping tiles,
for the frames where nothing was found, to tell a face too small to use from no face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from s2f.blazeface import require_model

# The detector reports faces down to this score; the stage drops frames below faces.min_score itself, so that
# low-score frames are counted rather than silently unseen.
DETECTOR_FLOOR = 0.3


@dataclass(frozen=True)
class Detection:
    """A face in frame pixels: box (x, y, w, h), score, and BlazeFace's 6 keypoints (eyes, nose, mouth, ears)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # (6, 2)

    @property
    def center(self) -> np.ndarray:
        x, y, w, h = self.box
        return np.array([x + w / 2, y + h / 2])

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


class FaceDetector:
    """BlazeFace on RGB frames. Not thread-safe: one per task. Use as a context manager."""

    def __init__(self, model: Path | None = None):
        options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(model or require_model())),
                                             min_detection_confidence=DETECTOR_FLOOR)
        self._detector = vision.FaceDetector.create_from_options(options)

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self._detector.close()

    def _detect(self, image: np.ndarray, x0: int = 0, y0: int = 0) -> list[Detection]:
        """Detections in `image`, a view of a frame at (x0, y0), in the frame's pixels."""
        h, w = image.shape[:2]
        result = self._detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
        out = []
        for d in result.detections:
            b = d.bounding_box
            kp = np.array([[x0 + k.x * w, y0 + k.y * h] for k in d.keypoints], np.float32).reshape(-1, 2)
            out.append(Detection((float(b.origin_x + x0), float(b.origin_y + y0), float(b.width), float(b.height)),
                                 float(d.categories[0].score), kp))
        return out

    def _tiled(self, frame: np.ndarray, side: int) -> list[Detection]:
        """Detections in square tiles of `side` overlapping by half, without the faces a tile's inner edge cuts."""
        h, w = frame.shape[:2]
        found = []
        for y0 in tile_starts(h, side):
            for x0 in tile_starts(w, side):
                tile = frame[y0:y0 + side, x0:x0 + side]
                inner = (x0 > 0, y0 > 0, x0 + tile.shape[1] < w, y0 + tile.shape[0] < h)  # left, top, right, bottom
                found += [d for d in self._detect(tile, x0, y0) if not _cut(d, x0, y0, tile.shape, inner)]
        return found

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in an RGB frame: the whole frame, and for a frame wider than TILE_ASPECT, squares of its short
        side too (duplicates merged)."""
        h, w = frame.shape[:2]
        found = self._detect(frame)
        if max(h, w) > TILE_ASPECT * min(h, w):
            found = merge(found + self._tiled(frame, min(h, w)))
        return found

    def detect_small(self, frame: np.ndarray, min_face_px: int) -> list[Detection]:
        """Faces down to about half of `min_face_px`: tiles small enough that such a face fills a fair part of
        what the detector sees. Costs about 10 to 50 detections per frame; meant for frames `detect` found empty."""
        side = max(SMALL_TILE_MIN, round(SMALL_TILE_FACES * min_face_px))
        if side >= min(frame.shape[:2]):
            return []  # no smaller tile than the frame's short side, which `detect` searched already
        return merge(self._tiled(frame, side))


# Frames wider than this (long side / short side) are also searched in squares of their short side: 4:3 is not,
# 16:9 is.
TILE_ASPECT = 1.4
# `detect_small` tiles are this many times faces.min_face_px (BlazeFace finds faces down to about an eighth of
# what it sees, so a 40 px minimum gives 140 px tiles that find faces from about 18 px), and at least this side.
SMALL_TILE_FACES = 3.5
SMALL_TILE_MIN = 96


def tile_starts(n: int, side: int) -> list[int]:
    """Start offsets of tiles of `side` along a length `n`: overlapping by at least half, the last flush."""
    if n <= side:
        return [0]
    count = math.ceil((n - side) / (side / 2)) + 1
    return [round(i * (n - side) / (count - 1)) for i in range(count)]


def _cut(d: Detection, x0: int, y0: int, shape: tuple[int, ...], inner: tuple[bool, bool, bool, bool]) -> bool:
    """Whether a detection reaches a tile edge that lies inside the frame (the face may be cut there; a tile
    overlapping this one holds it whole)."""
    x, y, w, h = d.box
    th, tw = shape[:2]
    margin = 2.0
    reach = (x <= x0 + margin, y <= y0 + margin, x + w >= x0 + tw - margin, y + h >= y0 + th - margin)
    return any(i and r for i, r in zip(inner, reach, strict=True))


def merge(dets: list[Detection], overlap: float = 0.5) -> list[Detection]:
    """One detection per face: the best-scoring of those whose boxes overlap by more than `overlap` of the
    smaller box (the same face seen from the whole frame and from tiles)."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(_overlap(d.box, k.box) <= overlap for k in kept):
            kept.append(d)
    return kept


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection area over the smaller box's area."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / smaller if smaller > 0 else 0.0


def choose_face(dets: list[Detection], frame_size: tuple[int, int], reference: np.ndarray | None, hinted: bool,
                min_score: float, min_face_px: int, ambiguity: float) -> tuple[Detection | None, str | None]:
    """Pick the speaker's face in one frame, or say why the frame is dropped.

    With a reference point (the source's face-centre hint, or where the speaker was in earlier frames) the face
    nearest to it wins; otherwise the largest, most central face. Without a hint, another face of comparable
    size (area >= `ambiguity` x the chosen one's) makes the frame ambiguous. Returns (face, None) or
    (None, reason) with reason in: no face, two faces, small face, low score.
    """
    if not dets:
        return None, "no face"
    w, h = frame_size
    if reference is not None:
        ranked = sorted(dets, key=lambda d: float(np.linalg.norm(d.center - reference)))
    else:
        centre, diag = np.array([w / 2, h / 2]), float(np.hypot(w, h))
        ranked = sorted(dets, key=lambda d: -d.area * (1 - float(np.linalg.norm(d.center - centre)) / diag))
    face = ranked[0]
    if not hinted and any(d.area >= ambiguity * face.area for d in ranked[1:]):
        return None, "two faces"
    if min(face.box[2], face.box[3]) < min_face_px:
        return None, "small face"
    if face.score < min_score:
        return None, "low score"
    return face, None
