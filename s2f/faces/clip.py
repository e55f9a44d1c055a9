"""One clip through the face path: sampled frames -> speaker face -> aligned crops -> descriptors.

Frames are streamed; only the `per_clip` most frontal candidates are held, so memory does not grow with clip
length. Descriptors (the slow part) are computed for the kept frames only.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ffmpeg
import numpy as np

from s2f.config import FacesParams
from s2f.faces.align import AlignedFace, Aligner
from s2f.faces.detect import Detection, FaceDetector, choose_face, merge
from s2f.images import png_bytes
from s2f.media import decode_frames, ffmpeg_message, scaled_size, segment_cut

# Clip reject reason when no frame survives, by the commonest frame drop reason.
CLIP_REASON = {"no face": "no face", "two faces": "several faces", "small face": "face too small"}
# A frame where no face scores faces.min_score is searched again for small faces (FaceDetector.detect_small, 10
# to 50 times the cost of a frame); after this many such searches in a row find nothing, the clip is taken to
# have no small face and is not searched again, so footage without faces costs little more than before.
SMALL_SEARCHES = 4


@dataclass
class ClipFaces:
    """What one clip yields: kept frame rows, its feature row, or a reject; and per-frame drop counts."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    feature: dict[str, Any] | None = None
    reject: dict[str, Any] | None = None
    drops: Counter = field(default_factory=Counter)
    decoded: int = 0
    seconds: Counter = field(default_factory=Counter)  # time spent in detect / align / measure / descriptor


def process_clip(clip: dict[str, Any], p: FacesParams, detector: FaceDetector, aligner: Aligner) -> ClipFaces:
    """Run the face path on one clip-table row."""
    out = ClipFaces()
    if not clip.get("width") or not clip.get("height"):
        out.reject = {"reason": "undecodable", "detail": "no frame size in the clip table"}
        return out
    width, height = scaled_size(int(clip["width"]), int(clip["height"]), p.max_side)
    scale = width / int(clip["width"])
    start, duration = segment_cut(clip)
    hint = clip.get("face_x"), clip.get("face_y")
    reference = np.array([hint[0] * width, hint[1] * height]) if None not in hint else None
    hinted = reference is not None
    kept: list[tuple[float, float, int, Detection, AlignedFace, np.ndarray]] = []  # min-heap on (frontality, score)
    small_misses = 0  # frames in a row where the small-face search found nothing
    try:
        for i, frame in enumerate(decode_frames(clip["path"], width, height, p.fps, start, duration)):
            out.decoded += 1
            tick = time.perf_counter()
            dets = detector.detect(frame)
            if small_misses < SMALL_SEARCHES and not any(d.score >= p.min_score for d in dets):
                small = detector.detect_small(frame, p.min_face_px)  # a face too small to use, or none?
                small_misses = 0 if small else small_misses + 1
                dets = merge(dets + small)
            out.seconds["detect"] += time.perf_counter() - tick
            face, reason = choose_face(dets, (width, height), reference, hinted, p.min_score, p.min_face_px,
                                       p.ambiguity)
            if face is None:
                out.drops[reason] += 1
                continue
            if not hinted:
                reference = face.center  # follow the speaker from frame to frame
            tick = time.perf_counter()
            aligned = aligner.align(frame, face, p.crop_size)
            out.seconds["align"] += time.perf_counter() - tick
            item = (aligned.frontality, face.score, -i, face, aligned, frame)
            (heapq.heappush if len(kept) < p.per_clip else heapq.heappushpop)(kept, item)
    except ffmpeg.Error as err:
        out.reject = {"reason": "undecodable", "detail": ffmpeg_message(err)}
        return out
    # The kept faces measured by the reference kernels (what the table stores: the same floats on any CPU); a face
    # they do not find again is dropped ("unconfirmed": none of the real or drawn faces tried so far).
    confirmed = []
    for front, _, neg_i, face, aligned, frame in sorted(kept, key=lambda k: -k[2]):
        tick = time.perf_counter()
        measured = detector.measure(frame, face)
        out.seconds["measure"] += time.perf_counter() - tick
        if measured is None:
            out.drops["unconfirmed"] += 1
        else:
            confirmed.append((front, neg_i, measured, aligned))
    if out.decoded == 0:
        out.reject = {"reason": "undecodable", "detail": "no video frames decoded"}
    elif len(confirmed) < p.min_frames:
        commonest = out.drops.most_common(1)[0][0] if out.drops else "no face"
        reason = CLIP_REASON.get(commonest, "too few good frames") if not kept else "too few good frames"
        out.reject = {"reason": reason, "detail": f"{len(confirmed)} good of {out.decoded} frames "
                                                  f"(need {p.min_frames}); dropped: {dict(out.drops)}"}
    if out.reject:
        return out

    offset = start or 0.0
    descriptors = []
    for front, neg_i, measured, aligned in confirmed:
        tick = time.perf_counter()
        descriptor = aligner.descriptor(aligned.chip)
        out.seconds["descriptor"] += time.perf_counter() - tick
        descriptors.append(descriptor)
        out.frames.append({
            "time": offset + (-neg_i) / p.fps, "box": np.array(measured.box, np.float32) / scale,
            "score": measured.score, "keypoints": measured.keypoints / scale, "landmarks": aligned.landmarks,
            "frontality": front, "crop": png_bytes(aligned.crop), "descriptor": descriptor,
        })
    out.feature = {"feature": unit_mean(descriptors), "n_frames": len(descriptors)}
    return out


def unit_mean(vectors: list[np.ndarray]) -> np.ndarray:
    """The mean of `vectors` scaled to length 1, float32, the same bits on every CPU: float64 element-wise sums
    and `math.fsum` (exactly rounded), where np.mean and np.linalg.norm sum in an order that SIMD and BLAS kernels,
    picked by the CPU, decide."""
    total = np.zeros(len(vectors[0]), np.float64)
    for v in vectors:
        total = total + v.astype(np.float64)
    mean = total / len(vectors)
    return (mean / math.sqrt(math.fsum(float(x) * float(x) for x in mean))).astype(np.float32)
