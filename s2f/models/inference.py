"""The trained face decoder at inference: features -> faces (tensors and uint8 RGB), and dlib's descriptor of a
decoded face. Training, evaluation and `s2f predict` all draw and read faces through these."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from s2f.faces.align import DESCRIPTOR_CHIP, Aligner
from s2f.models.networks import FaceDecoder


def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(n, 3, s, s) floats in [0, 1] -> (n, s, s, 3) uint8 RGB."""
    return (images.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def decode(decoder: FaceDecoder, features: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Decoded faces on the CPU, whatever device the decoder is on."""
    decoder.eval()
    device = next(decoder.parameters()).device
    return torch.cat([decoder(features[i:i + batch].to(device)).cpu() for i in range(0, len(features), batch)])


def descriptors_of(images: np.ndarray, aligner: Aligner) -> np.ndarray:
    """dlib descriptors of decoded faces (they are aligned crops already: resized to dlib's chip size)."""
    chips = [cv2.resize(im, (DESCRIPTOR_CHIP, DESCRIPTOR_CHIP), interpolation=cv2.INTER_CUBIC) for im in images]
    out = aligner.descriptors(chips)
    return out / np.linalg.norm(out, axis=1, keepdims=True)
