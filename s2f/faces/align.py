"""Alignment, landmarks and descriptors with dlib and the face-recognition-models files.

A face is aligned by dlib's 5-point landmarks to a canonical frontal crop; the 68 landmarks are found on that
crop (so they are in canonical coordinates, comparable between real and decoded faces); the 128-D descriptor
is dlib's ResNet on its own 150 px chip.
"""

from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import dlib
import numpy as np

from s2f.processes import exit_with_parent

if TYPE_CHECKING:  # a type only: dlib's worker processes need not import mediapipe
    from s2f.faces.detect import Detection

CHIP_PADDING = 0.25  # dlib's default: the face fills the middle 2/3 of a chip
DESCRIPTOR_CHIP = 150  # the size dlib's recognition network expects


@lru_cache(maxsize=1)
def _model_files() -> tuple[str, str, str]:
    with warnings.catch_warnings():  # the package imports pkg_resources, which warns on import
        warnings.simplefilter("ignore")
        import face_recognition_models as frm
    return (frm.pose_predictor_five_point_model_location(), frm.pose_predictor_model_location(),
            frm.face_recognition_model_location())


@dataclass
class AlignedFace:
    crop: np.ndarray  # (crop_size, crop_size, 3) uint8 RGB
    landmarks: np.ndarray  # (68, 2) in crop pixels
    frontality: float  # 1 = frontal, 0 = profile
    chip: np.ndarray  # (150, 150, 3): the descriptor network's input


def frontality(landmarks: np.ndarray) -> float:
    """Left-right balance of the nose tip between the jaw ends (68-point indices 0, 16 and 30)."""
    left = landmarks[30, 0] - landmarks[0, 0]
    right = landmarks[16, 0] - landmarks[30, 0]
    if left <= 0 or right <= 0:
        return 0.0
    return float(min(left, right) / max(left, right))


class Aligner:
    """dlib predictors and recognition network, loaded once per worker.

    `workers` > 1: `descriptors` of many chips run in that many processes (dlib holds the GIL, so threads would
    take turns); the pool starts on first use and stops with `close()` or at exit.
    """

    def __init__(self, workers: int = 1) -> None:
        five, sixty_eight, recognition = _model_files()
        self._five = dlib.shape_predictor(five)
        self._sixty_eight = dlib.shape_predictor(sixty_eight)
        self._recognition = dlib.face_recognition_model_v1(recognition)
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def descriptors(self, chips: list[np.ndarray]) -> np.ndarray:
        """(n, 128) descriptors of aligned 150 px chips; the same numbers as `descriptor` one by one."""
        if self.workers <= 1 or len(chips) < 8 * self.workers:
            return np.stack([self.descriptor(c) for c in chips]).reshape(len(chips), 128)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=exit_with_parent)
        size = -(-len(chips) // self.workers)
        return np.concatenate(list(self._pool.map(_descriptors, [chips[i:i + size]
                                                                 for i in range(0, len(chips), size)])))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def landmarks68(self, crop: np.ndarray) -> np.ndarray:
        """68 landmarks of an aligned crop (the face is its middle 2/3)."""
        s = crop.shape[0]
        m = s * CHIP_PADDING / (1 + 2 * CHIP_PADDING)
        shape = self._sixty_eight(crop, dlib.rectangle(int(m), int(m), int(s - m), int(s - m)))
        return np.array([[p.x, p.y] for p in shape.parts()], np.float32)

    def align(self, frame: np.ndarray, face: Detection, crop_size: int) -> AlignedFace:
        x, y, w, h = face.box
        rect = dlib.rectangle(int(x), int(y), int(x + w), int(y + h))
        shape = self._five(frame, rect)
        crop = dlib.get_face_chip(frame, shape, size=crop_size, padding=CHIP_PADDING)
        chip = dlib.get_face_chip(frame, shape, size=DESCRIPTOR_CHIP, padding=CHIP_PADDING)
        marks = self.landmarks68(crop)
        return AlignedFace(crop, marks, frontality(marks), chip)

    def descriptor(self, chip: np.ndarray) -> np.ndarray:
        """dlib's 128-D face descriptor of an aligned 150 px chip."""
        return np.asarray(self._recognition.compute_face_descriptor(chip), np.float32)


@lru_cache(maxsize=1)
def _worker_aligner() -> Aligner:
    return Aligner()


def _descriptors(chips: list[np.ndarray]) -> np.ndarray:
    """A pool worker's share of `Aligner.descriptors` (its own dlib models, loaded once per process)."""
    return _worker_aligner().descriptors(chips)
