"""Face detection (mediapipe Tasks FaceDetector, BlazeFace short range) and the choice of the speaker's face.

BlazeFace short range sees a 128 x 128 picture of the frame, letterboxed: in a 16:9 frame a face loses 44% of its
pixels before the detector looks, and a face below about an eighth of the picture's side is not found at all. So
a wide frame is also searched in squares of its short side, and `detect_small` searches small overlapping tiles,
for the frames where nothing was found, to tell a face too small to use from no face.

The search runs on XNNPACK, whose kernels are picked by the CPU at run time: the floats it gives differ in their
last bits between CPUs (AVX against AVX2, say). The search only decides (which face, which frame) and gives a box
in whole pixels; what the faces table stores of the detector (score, box, keypoints) comes from `measure`, the same
model run once more on each kept face by TFLite's reference kernels, plain C++ loops that no CPU feature selects,
so it is the same floats on every x86-64 CPU (`tests/test_faces.py` runs the stage under an emulated older CPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mediapipe as mp
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
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
        model = model or require_model()
        options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                             min_detection_confidence=DETECTOR_FLOOR)
        self._detector = vision.FaceDetector.create_from_options(options)
        self._reference = Interpreter(model_path=str(model), num_threads=1,
                                      experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        self._reference.allocate_tensors()
        self._reference_input = self._reference.get_input_details()[0]["index"]
        self._reference_outputs = {d["name"]: d["index"] for d in self._reference.get_output_details()}

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

    def measure(self, frame: np.ndarray, face: Detection) -> Detection | None:
        """`face` (a detection of the search) measured again by the reference kernels, on a square of the frame
        about twice the face's size: its box, score and keypoints in frame pixels, the same floats on any CPU; or
        None where that finds no face overlapping it. About 35 ms a face here (the search's XNNPACK: about 1.5)."""
        h, w = frame.shape[:2]
        x, y, bw, bh = (int(round(v)) for v in face.box)  # the search's box is in whole pixels
        side = min(max(2 * max(bw, bh), REFERENCE_MIN_SIDE), h, w)
        x0 = min(max(x + bw // 2 - side // 2, 0), w - side)
        y0 = min(max(y + bh // 2 - side // 2, 0), h - side)
        picture = resize_bilinear(frame[y0:y0 + side, x0:x0 + side], MODEL_SIDE)
        self._reference.set_tensor(self._reference_input, (picture / 127.5 - 1.0).astype(np.float32)[None])
        self._reference.invoke()
        raw = {name: self._reference.get_tensor(index)[0] for name, index in self._reference_outputs.items()}
        target = ((x - x0) / side, (y - y0) / side, (x + bw - x0) / side, (y + bh - y0) / side)
        found = decode_near(raw["regressors"], raw["classificators"][:, 0], target)
        if found is None:
            return None
        (x1, y1, x2, y2), score, kp = found
        keypoints = np.array([[x0 + kx * side, y0 + ky * side] for kx, ky in kp], np.float32)
        box = tuple(float(np.float32(v)) for v in (x0 + x1 * side, y0 + y1 * side, (x2 - x1) * side,
                                                   (y2 - y1) * side))
        return Detection(box, float(np.float32(score)), keypoints)


# The reference measurement's square: twice the face's side, at least this (a face fills about half of it, as in
# the pictures BlazeFace short range was trained on), and no more than the frame's short side.
REFERENCE_MIN_SIDE = 32
MODEL_SIDE = 128  # BlazeFace short range's input
# mediapipe's face_detection_short_range graph: scores are clipped logits; detections overlapping by more than
# this IoU are one face, averaged by score (its "weighted" non-maximum suppression).
SCORE_CLIP = 100.0
SAME_FACE_IOU = 0.3


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """BlazeFace short range's 896 anchor centres (x, y) in the picture's 0-1 units: 2 per cell of the 16 x 16 grid
    (stride 8), then 6 per cell of the 8 x 8 grid (stride 16); every anchor is 1 x 1 (fixed_anchor_size)."""
    out = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for cy in range(grid):
            for cx in range(grid):
                out += [((cx + 0.5) / grid, (cy + 0.5) / grid)] * per_cell
    return np.array(out)


def resize_bilinear(image: np.ndarray, side: int) -> np.ndarray:
    """A square uint8 image resized to `side` x `side` (float64, 0-255), bilinear on pixel centres. Only
    element-wise float64 arithmetic, which rounds the same on every CPU (no sums whose order SIMD could change)."""
    n = image.shape[0]
    src = np.clip((np.arange(side) + 0.5) * (n / side) - 0.5, 0, n - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    f = src - i0
    img = image.astype(np.float64)
    rows = img[i0] * (1 - f)[:, None, None] + img[i1] * f[:, None, None]
    return rows[:, i0] * (1 - f)[None, :, None] + rows[:, i1] * f[None, :, None]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def decode_near(regressors: np.ndarray, logits: np.ndarray, target: tuple[float, float, float, float]
                ) -> tuple[tuple[float, float, float, float], float, list[tuple[float, float]]] | None:
    """The face BlazeFace's raw outputs (896 x 16 regressors, 896 logits) give at `target` (x1, y1, x2, y2 in the
    picture's 0-1 units): the best-scoring anchor above DETECTOR_FLOOR whose box overlaps the target by at least
    SAME_FACE_IOU, averaged by score with the anchors that overlap it as much (mediapipe's decoding and weighted
    suppression). Returns (box, score, 6 keypoints) in 0-1 units, or None. Plain Python floats in a fixed order."""
    floor = math.log(DETECTOR_FLOOR / (1 - DETECTOR_FLOOR))
    cand = []
    for i in np.flatnonzero(logits >= floor):
        r, (ax, ay) = [float(v) / MODEL_SIDE for v in regressors[i]], anchors()[i]
        cx, cy, bw, bh = r[0] + ax, r[1] + ay, r[2], r[3]
        box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        score = 1.0 / (1.0 + math.exp(-min(max(float(logits[i]), -SCORE_CLIP), SCORE_CLIP)))
        cand.append((score, box, [(r[4 + 2 * k] + ax, r[5 + 2 * k] + ay) for k in range(6)]))
    near = [c for c in cand if _iou(c[1], target) >= SAME_FACE_IOU]
    if not near:
        return None
    top = max(near, key=lambda c: c[0])
    group = [c for c in cand if _iou(c[1], top[1]) > SAME_FACE_IOU]
    total = sum(c[0] for c in group)
    box = tuple(sum(c[0] * c[1][j] for c in group) / total for j in range(4))
    kps = [tuple(sum(c[0] * c[2][k][j] for c in group) / total for j in range(2)) for k in range(6)]
    return box, top[0], kps


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
