"""Face detection (mediapipe Tasks FaceDetector, BlazeFace short range) and the choice of the speaker's face."""

from __future__ import annotations

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

    def detect(self, frame: np.ndarray) -> list[Detection]:
        h, w = frame.shape[:2]
        result = self._detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame)))
        out = []
        for d in result.detections:
            b = d.bounding_box
            kp = np.array([[k.x * w, k.y * h] for k in d.keypoints], np.float32).reshape(-1, 2)
            out.append(Detection((float(b.origin_x), float(b.origin_y), float(b.width), float(b.height)),
                                 float(d.categories[0].score), kp))
        return out


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
