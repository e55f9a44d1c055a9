"""The `evaluate` stage: `load_inputs` reads every dataset and model it needs (the only disk reads, bar the
resemblyzer baseline's audio), and `evaluate` turns those tables and models into scores and pictures."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import numpy as np
import pandas as pd

from s2f import metrics as m
from s2f.audio.spectrogram import SAMPLE_RATE
from s2f.audio.speech import segments
from s2f.audio.stage import clip_audio
from s2f.config import AudioParams, EvaluateParams, PathsParams
from s2f.evaluate import baselines as base
from s2f.evaluate.attributes import fit_classifiers, speaker_labels
from s2f.evaluate.evaluation import FaceReader, Reconstructions, Scorer, TestClips, predict_voice
from s2f.evaluate.results import EvaluationResults
from s2f.evaluate.seeds import F2F_LENGTH, per_query_table
from s2f.evaluate.sharpness import sharpness
from s2f.faces.align import Aligner
from s2f.images import decode_png, tile, upscale
from s2f.models.data import load_features, read_spectrograms, spectrogram_ids
from s2f.models.networks import FaceDecoder, VoiceEncoder
from s2f.models.store import ModelCard
from s2f.models.zoo import load_decoder, load_encoder
from s2f.tables import read_dataset

Log = Callable[[str], None]


class TrainFaces(NamedTuple):
    """Train clips' ids, speakers and normalised face features (classifiers and baselines are fitted on them)."""

    clip_ids: list[str]
    speakers: list[str]
    features: np.ndarray


@dataclass
class Evaluation:
    results: EvaluationResults  # what reports/metrics.json holds
    curves: dict[str, np.ndarray]  # "method @ Ns" -> cosine R@K for K = 1..pool
    confusions: dict[str, dict[str, Any]]  # attribute -> classes and counts (voice encoder, longest audio)
    grid: np.ndarray  # real frame | F2F | S2F for up to grid_speakers test speakers
    classifiers: dict
    per_query: pd.DataFrame  # each test clip's headline scores per length and method (s2f.evaluate.seeds)


@dataclass
class EvaluationInputs:
    """Everything `evaluate` reads, loaded."""

    clips: pd.DataFrame  # the clip table (the resemblyzer baseline reads each clip's audio from its path)
    labels: pd.DataFrame  # one row per speaker, one column per attribute (speaker_labels)
    test: TestClips  # test clips with a face feature and a spectrogram
    train: TrainFaces
    train_with_speech: set[str]  # train clips the audio stage accepted (resemblyzer embeds only those)
    encoder: VoiceEncoder
    decoder: FaceDecoder
    faces: pd.DataFrame  # test clips' kept frames: clip_id, frontality, crop (the faces grid)
    encoder_card: ModelCard | None = None  # the models' cards, when read from disk
    decoder_card: ModelCard | None = None


def load_inputs(paths: PathsParams, p: EvaluateParams) -> EvaluationInputs:
    """Read from the catalog everything `evaluate` needs (`p.labels`: which attributes)."""
    clips = read_dataset(paths.clips)
    test = load_test(paths.face_features, paths.spectrograms)
    train_ids, train_speakers, train_feats = load_features(paths.face_features, "train")
    faces = read_dataset(paths.faces, columns=["clip_id", "frontality", "crop"])
    encoder, encoder_card = load_encoder(paths.voice_encoder)
    decoder, decoder_card = load_decoder(paths.face_decoder)
    return EvaluationInputs(clips=clips, labels=speaker_labels(clips, paths.attributes, p.labels), test=test,
                            train=TrainFaces(train_ids, train_speakers, m.normalize(train_feats)),
                            train_with_speech=spectrogram_ids(paths.spectrograms, "train"),
                            encoder=encoder, decoder=decoder, faces=faces[faces.clip_id.isin(test.clip_ids)],
                            encoder_card=encoder_card, decoder_card=decoder_card)


def first_waves(clips: pd.DataFrame, ids: list[str], audio: AudioParams, workers: int = 1) -> list[np.ndarray]:
    """Each clip's first speech segment as samples: the audio its spectrogram was made from, decoded by `workers`
    ffmpeg processes at a time (in the order of `ids`).

    Only clips the audio stage accepted (they have a spectrogram) are asked for, so each has a segment.
    """
    rows = clips.set_index("clip_id").loc[ids].reset_index().to_dict("records")

    def first(row: dict[str, Any]) -> np.ndarray:
        pieces, problem = segments(clip_audio(row, audio), audio)
        if not pieces:
            raise ValueError(f"clip {row['clip_id']} has a spectrogram but no speech segment now: {problem}; "
                             "rerun the audio stage")
        return pieces[0].samples

    with ThreadPoolExecutor(max(1, workers)) as pool:  # ffmpeg runs outside the GIL
        return list(pool.map(first, rows))


def load_test(features: str, spectrograms: str) -> TestClips:
    ids, speakers, feats = load_features(features, "test")
    specs = read_spectrograms(spectrograms, "test")
    keep = [i for i, c in enumerate(ids) if c in specs]
    if len({speakers[i] for i in keep}) < 2:
        raise ValueError(f"{features}, {spectrograms}: need test clips of at least 2 speakers with both a face "
                         f"feature and a spectrogram (found {len(keep)} clips)")
    return TestClips([ids[i] for i in keep], [speakers[i] for i in keep], m.normalize(feats[keep]),
                     [specs[ids[i]] for i in keep])


Features = dict[str, dict[float, np.ndarray]]  # method -> audio length -> (clips, dim) features


def method_features(p: EvaluateParams, audio: AudioParams, inputs: EvaluationInputs,
                    log: Log) -> tuple[Features, Features]:
    """Predicted features per method and audio length: those retrieval ranks, and those the decoder draws (the
    voice encoder's widened by its spread; a baseline draws what it ranks)."""
    test, clips = inputs.test, inputs.clips
    train_ids, train_speakers, train_feats = inputs.train
    n = len(test.clip_ids)
    voice = {s: predict_voice(inputs.encoder, test.specs, s) for s in p.seconds}
    out: Features = {"voice": {s: ranked for s, (ranked, _) in voice.items()}}
    if "chance" in p.baselines:
        out["chance"] = {s: base.chance(train_feats, n, p.seed) for s in p.seconds}
    if "mean" in p.baselines:
        out["mean"] = {s: base.mean(train_feats, n) for s in p.seconds}
    if "resemblyzer" in p.baselines:
        usable = inputs.train_with_speech  # an audio reject has no speech to embed
        keep = [i for i, c in enumerate(train_ids) if c in usable]
        log(f"resemblyzer: embedding {len(keep)} train and {n} test clips")
        workers = len(os.sched_getaffinity(0))
        train_emb = base.speaker_embeddings(first_waves(clips, [train_ids[i] for i in keep], audio, workers))
        ridge = base.fit_ridge(train_emb, train_feats[keep], [train_speakers[i] for i in keep], p.ridge_alphas)
        log(f"resemblyzer: ridge alpha {ridge.ridge.alpha_:g}, predictions widened x{ridge.spread:.2f}")
        waves = first_waves(clips, test.clip_ids, audio, workers)
        out["resemblyzer"] = {
            s: ridge.predict(base.speaker_embeddings([w[:int(s * SAMPLE_RATE)] for w in waves]))
            for s in p.seconds}
    return out, {**out, "voice": {s: drawn for s, (_, drawn) in voice.items()}}


def frontal_crops(test: TestClips, faces: pd.DataFrame) -> pd.Series:
    """Each test clip's most frontal real crop (PNG bytes), by clip id."""
    faces = faces[faces.clip_id.isin(test.clip_ids)].sort_values("frontality", ascending=False)
    return faces.drop_duplicates("clip_id").set_index("clip_id").crop


def faces_grid(p: EvaluateParams, test: TestClips, faces: pd.DataFrame, f2f: Reconstructions, s2f: Reconstructions,
               side: int = 128) -> np.ndarray:
    """For up to `grid_speakers` test speakers: the most frontal real crop, F2F and S2F of one clip."""
    best = frontal_crops(test, faces)
    first: dict[str, int] = {}
    for i, (clip, spk) in enumerate(zip(test.clip_ids, test.speakers, strict=True)):
        if clip in best.index:
            first.setdefault(spk, i)
    rows = []
    for i in sorted(first.values())[: p.grid_speakers]:
        triple = [decode_png(best[test.clip_ids[i]]), f2f.images[i], s2f.images[i]]
        tiles = [upscale(t, side) for t in triple]
        for t, text in zip(tiles, ("real", "F2F", "S2F"), strict=True):
            cv2.putText(t, text, (4, side - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(np.hstack(tiles + [np.zeros((side, 8, 3), np.uint8)]))
    return tile(rows, 4)


def fit_attribute_classifiers(train: TrainFaces, labels: pd.DataFrame, read: FaceReader) -> dict:
    """Classifiers fitted on train speakers' real face features and on the descriptors of their F2F faces.

    A classifier of real descriptors alone misreads decoded faces (they are smoother, and dlib's network sees
    them differently): on the default corpus it read gender off F2F faces at chance. Fitted on both, one
    classifier reads the true face and a reconstruction alike.
    """
    _, speakers, feats = train
    decoded = read(feats, landmarks=False).descriptors
    return fit_classifiers(np.concatenate([feats, decoded]), speakers + speakers, labels)


def evaluate(inputs: EvaluationInputs, p: EvaluateParams, audio: AudioParams, crop_size: int,
             log: Log = print) -> Evaluation:
    """Scores of the voice encoder and the baselines on the test clips, and the pictures, from loaded inputs."""
    test, labels, decoder = inputs.test, inputs.labels, inputs.decoder
    aligner = Aligner(workers=len(os.sched_getaffinity(0)))  # dlib's descriptors in processes
    read = FaceReader(decoder, aligner, crop_size)  # each distinct decoded face read once
    classifiers = fit_attribute_classifiers(inputs.train, labels, read)
    log(f"test: {len(test.clip_ids)} clips of {len(set(test.speakers))} speakers; attribute classifiers: "
        f"{', '.join(classifiers) or 'none (no label with 2 classes of 2 train speakers each)'}")
    predicted, drawn = method_features(p, audio, inputs, log)
    f2f = read(test.features)
    scorer = Scorer(test, f2f, classifiers, labels, p.pool, p.rounds, p.seed)
    results: dict[str, Any] = {"test": {"clips": len(test.clip_ids), "speakers": len(set(test.speakers)),
                                        "pool": scorer.pool_size}, **scorer.reference()}
    curves, confusions = {}, {}
    longest = max(p.seconds)
    s2f_voice = None
    done: dict[bytes, Reconstructions] = {}  # the chance and mean baselines predict the same at every length
    per_query: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for seconds in p.seconds:
        key = f"{seconds:g}s"
        results[key] = {}
        for method, by_length in predicted.items():
            log(f"scoring {method} at {key}")
            shown = drawn[method][seconds]
            if shown.tobytes() not in done:
                done[shown.tobytes()] = read(shown)
            recon = done[shown.tobytes()]
            results[key][method], conf = scorer.score(by_length[seconds], recon)
            per_query.setdefault(key, {})[method] = scorer.per_query(by_length[seconds], recon)
            curves[f"{method} @ {key}"] = scorer.recall_curve(by_length[seconds])
            if method == "voice" and seconds == longest:
                s2f_voice = recon
                confusions = {a: {"classes": classifiers[a].classes_.tolist(), "counts": c.tolist()}
                              for a, c in conf.items()}
    results["comparisons"] = {key: scorer.compare(by_method) for key, by_method in per_query.items()}
    # the decoder alone: F2F's scores per query, and how sharp its faces are beside the real crops
    sharp = sharpness(f2f.images, [decode_png(c) for c in frontal_crops(test, inputs.faces)], crop_size)
    results["f2f"]["sharpness"] = float(sharp.mean())
    per_query[F2F_LENGTH] = {"decoder": {**scorer.per_query(f2f.descriptors, f2f), "sharpness": sharp}}
    aligner.close()
    log(f"dlib read {read.faces_read} distinct decoded faces")
    grid = faces_grid(p, test, inputs.faces, f2f, s2f_voice)
    table = per_query_table(per_query, test.clip_ids, test.speakers)
    return Evaluation(EvaluationResults.from_dict(results), curves, confusions, grid, classifiers, table)
