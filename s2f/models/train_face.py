"""Train the face decoder: each kept frame's own descriptor -> its aligned crop; L1, a patch GAN and, where
`identity_weight` is above 0, an identity term through a stand-in for dlib's descriptor fitted alongside.

Validated on val speakers by reconstruction L1 and by how close dlib's descriptor of the decoded face is to the
descriptor that produced it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from s2f.config import FaceModelParams
from s2f.faces.align import Aligner
from s2f.images import decode_png, tile
from s2f.models.inference import decode, descriptors_of, to_float, to_uint8
from s2f.models.losses import adversarial
from s2f.models.networks import (DecoderConfig, FaceDecoder, IdentityNet, PatchDiscriminator, mixed_precision,
                                 pick_device)
from s2f.tables import read_dataset, stack_column

EpochLog = Callable[[int, dict[str, float]], None]


@dataclass
class FaceData:
    images: torch.Tensor  # (n, 3, size, size) uint8
    features: torch.Tensor  # (n, 128) L2-normalised descriptors
    speakers: list[str]


def load_face_data(faces: str, size: int) -> dict[str, FaceData]:
    """Aligned crops (resized to `size`) and their normalised descriptors, per split."""
    table = read_dataset(faces, columns=["clip_id", "speaker_id", "split", "time", "crop", "descriptor"])
    table = table.sort_values(["clip_id", "time"])
    out = {}
    for split, part in table.groupby("split"):
        imgs = np.stack([cv2.resize(decode_png(b), (size, size), interpolation=cv2.INTER_AREA) for b in part.crop])
        feats = torch.from_numpy(stack_column(part.descriptor, (128,)).astype(np.float32))
        out[split] = FaceData(torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(), F.normalize(feats, dim=1),
                              part.speaker_id.tolist())
    return out


def identity_metrics(decoder: FaceDecoder, data: FaceData, aligner: Aligner) -> dict[str, float]:
    """How much of the identity survives decoding, on one split.

    descriptor_cos: cosine between the input descriptor and dlib's descriptor of the decoded face;
    descriptor_cos_other: the same against other speakers' inputs (the chance level);
    identity_top1: share of decoded faces whose descriptor is nearest to an input of the same speaker.
    """
    decoded = descriptors_of(to_uint8(decode(decoder, data.features)), aligner)
    inputs = data.features.numpy()
    sims = decoded @ inputs.T
    speakers = np.array(data.speakers)
    same = speakers[:, None] == speakers[None, :]
    return {"descriptor_cos": float(np.mean(np.diag(sims))),
            "descriptor_cos_other": float(sims[~same].mean()) if (~same).any() else float("nan"),
            "identity_top1": float(np.mean(same[np.arange(len(sims)), sims.argmax(1)]))}


def train_face_decoder(p: FaceModelParams, data: dict[str, FaceData],
                       on_epoch: EpochLog | None = None) -> tuple[FaceDecoder, dict[str, float]]:
    """Train on data['train'], validate on data['val']; returns the decoder (eval mode) and final metrics."""
    torch.manual_seed(p.seed)
    gen = torch.Generator().manual_seed(p.seed)
    device = pick_device()
    train, val = data["train"], data.get("val")
    fast = torch.channels_last  # ~1.3x faster convs on the CPU, the same arithmetic
    decoder = FaceDecoder(DecoderConfig(feature_dim=train.features.shape[1], size=p.size,
                                        channels=tuple(p.channels))).to(device, memory_format=fast)
    critic = PatchDiscriminator(tuple(p.critic_channels)).to(device, memory_format=fast) if p.gan_weight > 0 else None
    opt_g = torch.optim.Adam(decoder.parameters(), lr=p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(critic.parameters(), lr=p.lr, betas=(0.5, 0.999)) if critic else None
    # The identity term: a stand-in for dlib's descriptor, fitted on the real crops as the decoder trains, reads the
    # decoded face; 1 - its cosine to the input feature (both around the train faces' mean) is the decoder's loss.
    ident = IdentityNet().to(device, memory_format=fast) if p.identity_weight > 0 else None
    opt_i = torch.optim.Adam(ident.parameters(), lr=p.lr) if ident else None
    centre = train.features.mean(0).to(device)
    metrics: dict[str, float] = {}
    n = len(train.features)
    bf16 = mixed_precision(device, p.precision)  # reentrant: a null context, or autocast

    def judged(images: torch.Tensor, real: bool) -> torch.Tensor:
        """The critic's loss on `images` as real or fake: its pass under `bf16`, the loss in fp32."""
        with bf16:
            score = critic(images)
        return adversarial(score.float(), real)

    def misread(images: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """1 - the stand-in's mean cosine between its reading of `images` and their features' offsets."""
        with bf16:
            read = ident(images)
        return 1 - (read.float() * F.normalize(features - centre, dim=1)).sum(1).mean()

    for epoch in range(p.epochs):
        decoder.train()
        sums = {"train_l1": 0.0, "train_adv": 0.0, "critic": 0.0}
        sums.update({"train_id": 0.0, "stand_in": 0.0} if ident else {})
        for idx in torch.randperm(n, generator=gen).split(p.batch_size):
            real = to_float(train.images[idx])
            flip = torch.rand(len(idx), generator=gen) < 0.5  # a mirrored face keeps its identity
            real[flip] = real[flip].flip(-1)
            real = real.to(device, memory_format=fast)
            feats = train.features[idx].to(device)
            with bf16:  # the networks' passes; the losses in fp32
                fake = decoder(feats)
            if ident is not None:  # the stand-in learns dlib's reading of the real crops
                ident.train()
                opt_i.zero_grad()
                fit = misread(real, feats)
                fit.backward()
                opt_i.step()
                sums["stand_in"] += fit.item() * len(idx)
            if critic is not None:
                opt_d.zero_grad()
                d_loss = judged(real, True) + judged(fake.detach(), False)
                d_loss.backward()
                opt_d.step()
                sums["critic"] += d_loss.item() * len(idx)
            l1 = (fake.float() - real).abs().mean()
            adv = judged(fake, True) if critic is not None else torch.zeros(())
            loss = l1 + p.gan_weight * adv
            if ident is not None:
                ident.eval()  # its batch norms keep the real crops' statistics
                idl = misread(fake, feats)
                loss = loss + p.identity_weight * idl
                sums["train_id"] += idl.item() * len(idx)
            opt_g.zero_grad()
            loss.backward()
            opt_g.step()
            sums["train_l1"] += l1.item() * len(idx)
            sums["train_adv"] += adv.item() * len(idx)
        metrics = {k: v / n for k, v in sums.items()}
        if val is not None:
            metrics["val_l1"] = float((decode(decoder, val.features) - to_float(val.images)).abs().mean())
        if on_epoch:
            on_epoch(epoch, metrics)
    decoder = decoder.cpu().eval()
    if val is not None:
        aligner = Aligner(workers=len(os.sched_getaffinity(0)))
        metrics.update({f"val_{k}": v for k, v in identity_metrics(decoder, val, aligner).items()})
        aligner.close()
    return decoder, metrics


def comparison_grid(decoder: FaceDecoder, data: FaceData, count: int = 16) -> np.ndarray:
    """Pairs of (real crop, decoded crop) for up to `count` speakers, 4 pairs a row."""
    first = {}
    for i, spk in enumerate(data.speakers):
        first.setdefault(spk, i)
    idx = torch.tensor(sorted(first.values())[:count])
    real = data.images[idx].permute(0, 2, 3, 1).numpy()
    fake = to_uint8(decode(decoder, data.features[idx]))
    return tile([np.hstack([r, f]) for r, f in zip(real, fake, strict=True)], 4)
