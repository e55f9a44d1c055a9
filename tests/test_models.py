"""Networks, losses, training steps, checkpoint resume and safe saving."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from s2f import metrics as m
from s2f.audio.spectrogram import spectrogram
from s2f.config import VOICE_PRESETS, FaceModelParams, VoiceLossParams, VoiceModelParams
from s2f.errors import InputError
from s2f.models import data as model_data
from s2f.models import train_voice
from s2f.models.data import SpectrogramStream, SplitRecords, load_features, load_voice_data
from s2f.models.losses import (
    VoiceTargets,
    adversarial,
    distillation,
    fc_l1,
    feature_l2,
    info_nce,
    standardized_l2,
    voice_loss,
)
from s2f.models.networks import (
    DecoderConfig,
    EncoderConfig,
    FaceDecoder,
    IdentityNet,
    PatchDiscriminator,
    VoiceEncoder,
    bf16_on,
    forward_gflops,
    log_power,
)
from s2f.models.store import ModelCard, load_checkpoint, save_model
from s2f.models.train_face import load_face_data, train_face_decoder
from s2f.models.train_voice import train_voice_encoder
from s2f.models.zoo import load_decoder, load_encoder


def _encoder(preset: str = "cpu", **kw) -> VoiceEncoder:
    return VoiceEncoder(EncoderConfig(**{**VOICE_PRESETS[preset], **kw}))


@pytest.mark.parametrize("preset", sorted(VOICE_PRESETS))
def test_voice_encoder_shapes_at_both_presets(preset: str):
    frames = VOICE_PRESETS[preset]["frames"]
    with torch.device("meta"):  # shapes only: the paper preset is ~200 GFLOP a clip
        model = _encoder(preset)
        x = torch.empty(3, 2, frames, 257)
        pooled = model.trunk(x)
        out = model(x)
    assert out.shape == (3, 128)
    if preset == "paper":
        assert frames == 598  # the paper's 6 s input, 2 x 598 x 257
        assert model.trunk.convs(x).shape == (3, 512, 9, 64)  # time 598 -> 37 by 4 max-pools -> 9; freq 257 -> 64
        assert model.head[0].out_features == 4096
    else:
        assert frames == 298 and pooled.shape == (3, 2 * 128)  # 3 s crops; mean and std of 128 channels


def test_cpu_preset_is_cheap_and_paper_preset_costs_about_100_gmac():
    cpu = _encoder("cpu")
    assert cpu(torch.randn(2, 2, 298, 257)).shape == (2, 128)
    assert cpu(torch.randn(2, 2, 598, 257)).shape == (2, 128)  # it pools over time: any length runs
    assert forward_gflops(cpu, torch.randn(1, 2, 298, 257)) < 0.5
    with torch.device("meta"):
        paper = _encoder("paper")
        gflops = forward_gflops(paper, torch.empty(1, 2, 598, 257))
    assert 150 < gflops < 250  # multiply-adds count 2: ~100 GMAC, as the paper's network


def test_log_power_undoes_the_audio_stages_compression():
    """The cpu preset's input: each bin's power re^2 + im^2 of the STFT the audio stage compressed."""
    samples = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    compressed = torch.from_numpy(spectrogram(samples))[None]
    x = torch.from_numpy(samples.astype(np.float64)).unfold(0, 400, 160) * torch.hann_window(400, dtype=torch.float64)
    power = torch.fft.rfft(x, n=512).abs().pow(2)  # (frames, 257)
    assert torch.allclose(log_power(compressed)[0], torch.log(power + 1e-5).T.float(), atol=1e-4)


@pytest.mark.parametrize("preset", sorted(VOICE_PRESETS))
def test_voice_encoder_hidden_units_cannot_all_go_silent(preset: str):
    """Batch norm before the FC ReLU re-centres each unit over the batch: even with biases that would silence
    every unit of a plain ReLU layer, about half the clips still activate each unit."""
    torch.manual_seed(0)
    model = _encoder(preset, frames=100, width=0.0625).train()
    with torch.no_grad():
        model.head[0].bias.fill_(-100.0)
        hidden = model.head[:3](model.trunk(torch.randn(8, 2, 100, 257)))
    active = (hidden > 0).float().mean(0)
    assert active.min() > 0 and 0.3 < active.mean() < 0.7


def test_voice_encoder_predicts_in_units_of_the_target_spread():
    torch.manual_seed(0)
    model = _encoder(frames=100).eval()
    mean, spread = torch.linspace(-0.1, 0.1, 128), torch.full((128,), 0.02)
    model.start_at(mean, spread)
    spec = torch.randn(4, 2, 100, 257)
    z = (model(spec) - mean) / spread
    assert 0 < z.abs().mean() < 1  # starts near the mean, within the spread
    model.out_scale.mul_(2)
    assert torch.allclose((model(spec) - mean) / spread, 2 * z, atol=1e-4)


def test_the_drawn_feature_is_widened_around_the_train_mean_and_the_ranked_one_is_not():
    torch.manual_seed(0)
    model = _encoder(frames=100).eval()
    mean = torch.linspace(-0.1, 0.1, 128)
    model.start_at(mean, torch.full((128,), 0.02))
    spec = torch.randn(4, 2, 100, 257)
    plain = model(spec)
    model.spread.fill_(3.0)
    assert torch.equal(model(spec), plain)  # retrieval ranks the prediction itself
    assert torch.allclose(model.for_decoder(plain) - mean, 3 * (plain - mean), atol=1e-6)


def test_in_memory_records_give_the_same_batches_as_streaming(tiny_processed: Path):
    ids, _, _ = load_features(tiny_processed / "face_features", "train")
    records = SplitRecords.load(tiny_processed / "spectrograms", "train", set(ids), 2 ** 30)
    assert records is not None and SplitRecords.load(tiny_processed / "spectrograms", "train", set(ids), 1) is None
    rows = {clip: i for i, clip in enumerate(ids)}
    streams = [SpectrogramStream(tiny_processed / "spectrograms", rows, "train", 50, True, seed=3,
                                 buffer=2, records=r) for r in (None, records)]
    for s in streams:
        s.set_epoch(2)
    streamed, held = (list(s) for s in streams)
    assert len(streamed) == len(ids) == len(held) and sorted(row for _, row in held) == list(range(len(ids)))
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(streamed, held, strict=True))


def test_decoder_and_discriminator_shapes():
    decoder = FaceDecoder(DecoderConfig(size=64))
    faces = decoder(torch.randn(5, 128))
    assert faces.shape == (5, 3, 64, 64) and faces.min() >= 0 and faces.max() <= 1
    assert PatchDiscriminator()(faces).shape == (5, 1, 8, 8)
    big = FaceDecoder(DecoderConfig(size=128, channels=(64, 32, 16, 8, 8)))
    assert big(torch.randn(1, 128)).shape == (1, 3, 128, 128)
    assert PatchDiscriminator((16, 32, 64))(big(torch.randn(2, 128))).shape == (2, 1, 16, 16)
    stand_in = IdentityNet().eval()
    read = stand_in(big(torch.randn(3, 128)))  # read at its own 64 px, whatever the face's size
    assert read.shape == (3, 128) and torch.allclose(read.norm(dim=1), torch.ones(3))
    with pytest.raises(ValueError, match="not 2\\^4 x an integer"):
        FaceDecoder(DecoderConfig(size=72))


def _identity_linear(n: int = 2) -> nn.Linear:
    """A linear layer that passes its input through unchanged."""
    layer = nn.Linear(n, n)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(n))
        layer.bias.zero_()
    return layer


def test_loss_terms_on_hand_made_inputs():
    fc = _identity_linear()
    true, pred = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert fc_l1(fc, true, pred).item() == pytest.approx((1 + 2) / 2)
    assert feature_l2(true, pred).item() == pytest.approx(2.0)  # unit vectors at right angles
    assert feature_l2(true, 3 * true).item() == pytest.approx(0.0)  # scale does not matter
    assert standardized_l2(true, pred, torch.tensor([1.0, 2.0])).item() == pytest.approx((1 + 1) / 2)
    clf = _identity_linear()
    # A uniform student costs ln 2 whatever the teacher; a student equal to the teacher costs its entropy.
    assert distillation(clf, torch.tensor([[2.0, 0.0]]), torch.zeros(1, 2), 2.0).item() == pytest.approx(math.log(2))
    p = torch.softmax(torch.tensor([4.0, 0.0]) / 2, 0)
    entropy = -(p * p.log()).sum().item()
    same = torch.tensor([[4.0, 0.0]])
    assert distillation(clf, same, same, 2.0).item() == pytest.approx(entropy)
    # InfoNCE: the prediction's cosines to the candidate faces over T, cross-entropy with its own face; its length
    # does not matter. At right angles to both faces it is ln 2; along its own face, ln(1 + e^(-1/T)).
    faces = torch.eye(3)[:2]
    assert info_nce(torch.tensor([[0.0, 0.0, 3.0]]), torch.tensor([0]), faces, 0.5).item() == pytest.approx(
        math.log(2))
    assert info_nce(torch.tensor([[5.0, 0.0, 0.0]]), torch.tensor([0]), faces, 0.5).item() == pytest.approx(
        math.log(1 + math.exp(-2)))
    faces = torch.eye(2)
    targets = VoiceTargets(faces, torch.ones(2), fc, clf)
    w = VoiceLossParams(contrastive=0.5, standardized_l2=0.1, fc_l1=1.0, feature_l2=0.025, distill=200.0)
    terms = voice_loss(pred, true, torch.tensor([0]), targets, w)
    weighted = (0.5 * terms["contrastive"] + 0.1 * terms["standardized_l2"] + terms["fc_l1"]
                + 0.025 * terms["feature_l2"] + 200 * terms["distill"])
    assert terms["loss"].item() == pytest.approx(weighted.item())
    only = voice_loss(pred, true, torch.tensor([0]), VoiceTargets(faces, torch.ones(2)), VoiceLossParams())
    assert set(only) == {"contrastive", "standardized_l2", "loss"}  # the default: no decoder, no teacher needed
    assert adversarial(torch.zeros(2, 1, 4, 4), real=True).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize("preset", sorted(VOICE_PRESETS))
def test_three_training_steps_lower_the_loss_on_a_tiny_batch(preset: str):
    torch.manual_seed(0)
    model = _encoder(preset, frames=100, width=0.0625)
    spec, true = torch.randn(4, 2, 100, 257), nn.functional.normalize(torch.eye(4, 128) + 0.1, dim=1)
    targets = VoiceTargets(true, torch.full((128,), 0.1), nn.Linear(128, 64))
    weights = VoiceLossParams(fc_l1=1.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        loss = voice_loss(model(spec), true, torch.arange(4), targets, weights)["loss"]
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[2] < losses[0]

    decoder = FaceDecoder(DecoderConfig(size=32, channels=(32, 16, 8)))
    target, true = torch.rand(4, 3, 32, 32), nn.functional.normalize(torch.randn(4, 128), dim=1)
    opt = torch.optim.Adam(decoder.parameters(), lr=1e-3)
    l1 = []
    for _ in range(3):
        loss = (decoder(true) - target).abs().mean()
        l1.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert l1[2] < l1[0]


def test_safetensors_round_trip(tmp_path: Path):
    decoder = FaceDecoder(DecoderConfig()).eval()
    encoder = _encoder(frames=100)
    encoder.start_at(torch.full((128,), 0.3), torch.full((128,), 0.02))  # buffers must travel with the weights
    encoder.spread.fill_(2.5)
    encoder.eval()
    def card(model: str, arch: dict, **kw) -> ModelCard:
        return ModelCard(model=model, arch=arch, params={}, params_hash="h", data_version="v", metrics={"note": 1.5},
                         **kw)

    save_model(decoder, card("face_decoder", decoder.cfg.to_json()), tmp_path / "dec")
    save_model(encoder, card("voice_encoder", encoder.cfg.to_json(), trained_on="synth"), tmp_path / "enc")
    assert (tmp_path / "dec" / "model.safetensors").read_bytes()[8:9] == b"{"  # a JSON header, not a pickle
    feature, spec = torch.randn(2, 128), torch.randn(2, 2, 100, 257)
    loaded_dec, dec_card = load_decoder(tmp_path / "dec")
    loaded_enc, enc_card = load_encoder(tmp_path / "enc")
    assert dec_card.metrics == {"note": 1.5} and dec_card.preset is None and enc_card.trained_on == "synth"
    assert "preset" not in json.loads((tmp_path / "dec" / "config.json").read_text())  # no nulls for absent keys
    assert ModelCard.from_json((tmp_path / "enc" / "config.json").read_text()) == enc_card
    assert torch.equal(loaded_dec(feature), decoder(feature))
    assert torch.equal(loaded_enc(spec), encoder(spec)) and loaded_enc.spread.item() == 2.5
    with pytest.raises(InputError, match="no trained face decoder at .* run `make run` first"):
        load_decoder(tmp_path / "nothing")
    old = {"width": 0.0625, "frames": 100, "freq": 257, "feature_dim": 128, "dropout": 0.0}  # before architectures
    save_model(encoder, card("voice_encoder", old), tmp_path / "old")
    with pytest.raises(InputError, match="saved by an older s2f.*remake it with `dvc repro train_voice`"):
        load_encoder(tmp_path / "old")


def _voice_params(**kw) -> VoiceModelParams:
    return VoiceModelParams(frames=100, batch_size=4, **kw)


def _train(tiny_processed: Path, p: VoiceModelParams, checkpoints: Path, on_epoch=None):
    """train_voice_encoder on the tiny corpus, as the flow calls it."""
    data = load_voice_data(tiny_processed / "face_features", tiny_processed / "spectrograms", p.memory_gb)
    return train_voice_encoder(p, FaceDecoder(DecoderConfig()).fc, data, "v1", checkpoints, on_epoch)


class Killed(Exception):
    pass


class DieAfterFirstEpoch:
    """An epoch callback that records the epochs it sees and kills training after epoch 0."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, epoch: int, _: dict) -> None:
        self.seen.append(epoch)
        if epoch == 0:
            raise Killed


def test_killed_voice_training_resumes_from_its_checkpoint(tiny_processed: Path, tmp_path: Path):
    p = _voice_params(epochs=3, dropout=0.3)
    torch.manual_seed(0)  # the decoder's first layer _train makes
    straight, metrics = _train(tiny_processed, p, tmp_path / "straight")
    assert metrics["epochs_run"] == 3

    die_after_first = DieAfterFirstEpoch()
    torch.manual_seed(0)
    with pytest.raises(Killed):
        _train(tiny_processed, p, tmp_path / "killed", die_after_first)
    saved = load_checkpoint(next((tmp_path / "killed").glob("*.pt")))
    assert saved["epoch"] == 0
    torch.manual_seed(0)
    resumed, metrics2 = _train(tiny_processed, p, tmp_path / "killed", die_after_first)
    assert die_after_first.seen == [0, 1, 2]  # the rerun started at epoch 1
    spec = torch.randn(2, 2, 100, 257)
    assert torch.allclose(straight(spec), resumed(spec)) and metrics2 == metrics


def test_trained_encoder_draws_as_spread_as_train_faces_and_reports_val_retrieval(tiny_processed: Path,
                                                                                  tmp_path: Path):
    encoder, metrics = _train(tiny_processed, _voice_params(epochs=2), tmp_path / "ck")
    assert encoder.spread.item() == pytest.approx(metrics["spread"]) and metrics["spread"] != 1.0
    _, _, train_feats = load_features(tiny_processed / "face_features", "train")
    val_ids, val_speakers, val_feats = load_features(tiny_processed / "face_features", "val")
    stream = SpectrogramStream(tiny_processed / "spectrograms", {c: i for i, c in enumerate(val_ids)}, "val", None,
                               train=False)  # whole clips
    with torch.no_grad():
        pred = torch.cat([encoder(spec[None]) for spec, _ in stream])
        drawn = encoder.for_decoder(pred).numpy()
    mean = train_feats.mean(0)
    assert np.linalg.norm(drawn - mean, axis=1).mean() == pytest.approx(
        np.linalg.norm(train_feats - mean, axis=1).mean(), rel=1e-3)
    # val retrieval of the kept encoder, at its 100-frame crop (1 s) and the whole 2 s clip, as the evaluation
    # scores test: here every val speaker's face is in the pool
    faces, names = m.speaker_faces(val_feats, val_speakers)  # each speaker's face, as training ranks them
    hits = m.query_hits(m.normalize(pred.numpy()), val_speakers, faces, names, 100, "cosine", 20, 0, (1, 10))
    assert metrics["val_R@1_2s"] == pytest.approx(100 * hits[:, 0].mean())
    assert metrics["val_R@10_2s"] == 100.0  # fewer than 10 val speakers
    assert {"val_R@1_1s", "val_R@10_1s", "val_contrastive", "val_standardized_l2"} <= set(metrics)
    assert len(set(val_speakers)) == 1 and "val_1:2_2s" not in metrics  # no impostor: no 1:2 score, not a NaN
    # val_loss is the shipped encoder's, after recentring; best_val_loss the kept epoch's, before it
    assert metrics["best_epoch"] in (1, 2) and metrics["val_loss"] == pytest.approx(metrics["best_val_loss"], rel=0.05)
    # recentred: its predictions over the whole train clips average to the train-mean face
    train_ids, _, _ = load_features(tiny_processed / "face_features", "train")
    train_stream = SpectrogramStream(tiny_processed / "spectrograms", {c: i for i, c in enumerate(train_ids)}, "train",
                                     None, train=False)
    with torch.no_grad():
        train_pred = torch.cat([encoder(spec[None]) for spec, _ in train_stream]).numpy()
    offset = np.linalg.norm(train_pred.mean(0) - mean)
    assert offset < 1e-2 * np.linalg.norm(train_pred - mean, axis=1).mean()  # float32 arithmetic


def test_the_distillation_teacher_is_fitted_only_when_its_term_counts(tiny_processed: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    fitted = []
    real = train_voice.fit_identity_classifier
    monkeypatch.setattr(train_voice, "fit_identity_classifier", lambda *a, **kw: fitted.append(1) or real(*a, **kw))
    _train(tiny_processed, _voice_params(epochs=1), tmp_path / "a")
    assert fitted == []
    paper = VoiceLossParams(contrastive=0, standardized_l2=0, fc_l1=1, feature_l2=0.025, distill=200)
    _, metrics = _train(tiny_processed, _voice_params(epochs=1, identity_steps=20, loss=paper), tmp_path / "b")
    assert fitted == [1] and {"val_fc_l1", "val_feature_l2", "val_distill"} <= set(metrics)
    assert "val_contrastive" not in metrics


def test_the_cosine_schedule_anneals_the_learning_rate_to_zero_over_the_epochs(tiny_processed: Path, tmp_path: Path):
    lrs: list[float] = []
    p = _voice_params(epochs=4, lr_schedule="cosine", lr=1e-3)
    _train(tiny_processed, p, tmp_path / "ck", lambda epoch, m: lrs.append(m["lr"]))
    assert lrs == pytest.approx([1e-3 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (1, 2, 3, 4)], abs=1e-12)
    exponential: list[float] = []
    _train(tiny_processed, _voice_params(epochs=2, lr=1e-3, lr_schedule="exponential", lr_decay=0.5), tmp_path / "ck2",
           lambda epoch, m: exponential.append(m["lr"]))
    assert exponential == pytest.approx([5e-4, 2.5e-4])


def test_a_checkpoint_from_other_model_code_is_not_resumed(tiny_processed: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    p = _voice_params(epochs=2)
    die_after_first = DieAfterFirstEpoch()
    monkeypatch.setattr(train_voice, "code_version", lambda: "old code")
    torch.manual_seed(0)  # the same decoder both times: only the code differs
    with pytest.raises(Killed):
        _train(tiny_processed, p, tmp_path / "ck", die_after_first)
    monkeypatch.setattr(train_voice, "code_version", lambda: "new code")
    torch.manual_seed(0)
    with pytest.raises(Killed):
        _train(tiny_processed, p, tmp_path / "ck", die_after_first)
    assert die_after_first.seen == [0, 0]  # started over instead of resuming the old code's checkpoint
    assert len(list((tmp_path / "ck").glob("*.pt"))) == 2


def test_a_checkpoint_trained_through_another_decoder_is_not_resumed(tiny_processed: Path, tmp_path: Path):
    """A retrained face decoder (same params and data for the voice encoder) starts the encoder over; the same
    decoder again resumes it."""
    p = _voice_params(epochs=3)
    die_after_first = DieAfterFirstEpoch()
    torch.manual_seed(0)
    with pytest.raises(Killed):
        _train(tiny_processed, p, tmp_path / "ck", die_after_first)
    torch.manual_seed(1)  # another decoder's first layer
    with pytest.raises(Killed):
        _train(tiny_processed, p, tmp_path / "ck", die_after_first)
    assert die_after_first.seen == [0, 0] and len(list((tmp_path / "ck").glob("*.pt"))) == 2
    torch.manual_seed(0)  # the first decoder again: its checkpoint is resumed at epoch 1
    _train(tiny_processed, p, tmp_path / "ck", die_after_first)
    assert die_after_first.seen == [0, 0, 1, 2]


def test_one_train_clip_is_a_clear_error_not_a_silent_untrained_model(tiny_processed: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    real = model_data.load_features

    def one_train_clip(path, split=None):
        ids, speakers, feats = real(path, split)
        return (ids[:1], speakers[:1], feats[:1]) if split == "train" else (ids, speakers, feats)

    monkeypatch.setattr(model_data, "load_features", one_train_clip)
    with pytest.raises(InputError, match=r"face_features: need face features for at least 2 train clips and 1 val "
                                         r"clip \(found 1 and"):
        _train(tiny_processed, _voice_params(epochs=1), tmp_path / "ck")


def test_face_decoder_trains_on_the_tiny_corpus(tiny_processed: Path):
    p = FaceModelParams(epochs=2, batch_size=8)
    data = load_face_data(tiny_processed / "faces", p.size)
    assert data["train"].images.shape[1:] == (3, p.size, p.size) and data["train"].images.dtype == torch.uint8
    logged: list[dict] = []
    decoder, metrics = train_face_decoder(p, data, lambda e, m: logged.append(m))
    assert len(logged) == 2 and logged[1]["train_l1"] < logged[0]["train_l1"]
    assert {"val_l1", "val_descriptor_cos", "val_identity_top1"} <= set(metrics)
    assert -1 <= metrics["val_descriptor_cos"] <= 1 and np.isfinite(metrics["val_l1"])


def test_the_identity_term_fits_its_stand_in_and_steers_the_decoder(tiny_processed: Path):
    data = load_face_data(tiny_processed / "faces", 64)
    logged: list[dict] = []
    p = FaceModelParams(epochs=3, batch_size=8, size=64, channels=[64, 32, 16, 8], identity_weight=0.3,
                        critic_channels=[16, 32])
    train_face_decoder(p, data, lambda e, m: logged.append(m))
    # the stand-in learns to read the real crops' descriptors (1 - cosine falls from about 1, chance), and the
    # decoded faces are read as their own inputs more closely as the decoder trains
    assert logged[-1]["stand_in"] < logged[0]["stand_in"] and logged[-1]["train_id"] < logged[0]["train_id"]
    assert all(0 <= m["train_id"] <= 2 for m in logged)
    _, plain = train_face_decoder(FaceModelParams(epochs=1, batch_size=8, size=64, channels=[64, 32, 16, 8],
                                                  identity_weight=0), data)
    assert "train_id" not in plain and "stand_in" not in plain  # weight 0: no stand-in is fitted


def test_train_clips_without_spectrograms_stop_training_with_one_line(tiny_processed: Path, tmp_path: Path):
    """Face features for the train clips but no spectrogram of any of them: no batch can be formed, and training
    says so (this path once raised an AttributeError instead)."""
    import shutil

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.copytree(tiny_processed / "face_features", tmp_path / "face_features")
    shutil.copytree(tiny_processed / "spectrograms", tmp_path / "spectrograms")
    for part in (tmp_path / "spectrograms").glob("*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.filter(pc.not_equal(table["split"], "train")), part)
    with pytest.raises(InputError, match="fewer than 2 train clips with both a spectrogram and a face feature"):
        _train(tmp_path, _voice_params(epochs=1), tmp_path / "ck")


def test_bf16_trains_both_models_and_auto_on_the_cpu_is_fp32(tiny_processed: Path, tmp_path: Path):
    """`precision: bf16` runs the training steps under bf16 autocast (on the CPU here; a GPU's `auto`): both models
    train, their weights stay fp32, and they differ from fp32 training; `auto` on the CPU is fp32, bit for bit."""
    assert bf16_on(torch.device("cpu"), "bf16") and not bf16_on(torch.device("cpu"), "auto")
    spec = torch.randn(2, 2, 100, 257)
    voice = {}
    for precision in ("fp32", "auto", "bf16"):
        torch.manual_seed(0)
        encoder, metrics = _train(tiny_processed, _voice_params(epochs=2, precision=precision),
                                  tmp_path / precision)
        assert all(t.dtype == torch.float32 for t in encoder.state_dict().values() if t.is_floating_point())
        assert np.isfinite(metrics["val_loss"])
        voice[precision] = encoder(spec)
    assert torch.equal(voice["auto"], voice["fp32"]) and not torch.equal(voice["bf16"], voice["fp32"])
    face_params = FaceModelParams()
    train = {"train": load_face_data(tiny_processed / "faces", face_params.size)["train"]}  # no val: no dlib scoring
    face = {}
    for precision in ("fp32", "auto", "bf16"):
        logged: list[dict] = []
        decoder, _ = train_face_decoder(face_params.model_copy(update={"epochs": 2, "batch_size": 8,
                                                                       "precision": precision}), train,
                                        lambda e, m, seen=logged: seen.append(m))
        assert logged[1]["train_l1"] < logged[0]["train_l1"] and decoder.fc.weight.dtype == torch.float32
        face[precision] = decoder(train["train"].features[:2])
    assert torch.equal(face["auto"], face["fp32"]) and not torch.equal(face["bf16"], face["fp32"])
