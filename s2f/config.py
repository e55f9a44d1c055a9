"""params.yaml schema: every stage reads its parameters through here, validated before any work starts.

A bad value stops the run with a message that names the key path and what is allowed, instead of failing
halfway through a long stage.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from s2f.catalog import relocate


class ParamsError(ValueError):
    """Raised for an unreadable or invalid params file; the message lists each bad key."""


class _Section(BaseModel):
    # A field's docstring is its description: docs/parameters.md is generated from them (`s2f params`).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True)


# A file or folder path: never empty (an empty `out` would write into the project root).
PathStr = Annotated[str, Field(min_length=1)]


class RunnerParams(_Section):
    """How Prefect runs a stage's parallel tasks: threads, local processes, or a Dask cluster."""

    kind: Literal["threads", "processes", "dask"] = "processes"
    """Prefect task runner: `processes`, `threads` or `dask` (prefect-dask's DaskTaskRunner)."""
    workers: int = Field(2, ge=1, le=512)
    """Parallel tasks in a stage (`dask` without an address: LocalCluster workers)."""
    address: str | None = None
    """`dask` only: the scheduler of an existing cluster, e.g. `tcp://scheduler:8786`."""

    @model_validator(mode="after")
    def _address_needs_dask(self) -> RunnerParams:
        if self.address is not None and self.kind != "dask":
            raise ValueError(f"address is only used with kind: dask (kind is {self.kind!r})")
        return self


class SynthParams(_Section):
    """The synthetic talking-face corpus (the embedded default dataset)."""

    speakers: int = Field(1500, ge=2, le=1_000_000)
    """Synthetic speakers (with the default split, 750 test speakers: enough for a paired 95% interval of about
    +-2.5 points on an R@1 difference; docs/evaluation.md)."""
    clips_per_speaker: int = Field(1, ge=1, le=1000)
    """Clips per speaker (more speakers teach the voice-face mapping more than more clips of the same ones)."""
    seconds: float = Field(6.0, ge=1.0, le=60.0)
    """Clip length (s)."""
    fps: int = Field(25, ge=5, le=60)
    """Frame rate of the rendered clips."""
    size: int = Field(256, ge=64, le=1024)
    """Frame side in px (even)."""
    seed: int = Field(0, ge=0)
    """Same seed, same corpus (identical bytes)."""

    @field_validator("size")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be even (H.264 4:2:0 needs even sides)")
        return v


class SplitParams(_Section):
    """Speaker-disjoint split ratios."""

    train: float = Field(0.4, ge=0.0, le=1.0)
    """Share of speakers in the train split."""
    val: float = Field(0.1, ge=0.0, le=1.0)
    """Share of speakers in the val split (defaults are chosen on it)."""
    test: float = Field(0.5, ge=0.0, le=1.0)
    """Share of speakers in the test split (the default gives 750 test speakers: R@1 differences between methods
    need that many to be told apart; docs/evaluation.md)."""

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitParams:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must sum to 1 (got {total:g})")
        return self


class IngestParams(_Section):
    """Which videos become the clip table, and how they are split."""

    source: Literal["synth", "folder", "voxceleb2", "avspeech"] = "synth"
    """`synth`, `folder`, `voxceleb2` or `avspeech`."""
    min_seconds: float = Field(1.5, ge=0.0)
    """Shorter clips (or segments) are rejects."""
    shard_size: int = Field(64, ge=1)
    """Clips probed per Prefect task."""
    seed: int = Field(0, ge=0)
    """Split seed."""
    split: SplitParams = SplitParams()


class FacesParams(_Section):
    """Face detection, speaker-face choice, alignment, descriptors."""

    fps: float = Field(2.0, gt=0.0, le=30.0)
    """Frames decoded per second of video."""
    max_side: int = Field(360, ge=64, le=4096)
    """Decoded frames are scaled so their short side is at most this (px)."""
    min_score: float = Field(0.6, ge=0.0, le=1.0)
    """A frame whose BlazeFace score is lower is dropped (`low score`)."""
    min_face_px: int = Field(40, ge=8)
    """A frame whose face box side (decoded px) is smaller is dropped (`small face`)."""
    ambiguity: float = Field(0.5, gt=0.0, le=1.0)
    """Without a face-centre hint, a second face at least this fraction of the chosen face's area drops the frame."""
    per_clip: int = Field(4, ge=1, le=100)
    """Most frontal frames kept per clip."""
    min_frames: int = Field(2, ge=1, le=100)
    """Clips with fewer good frames are rejects."""
    crop_size: int = Field(128, ge=32, le=512)
    """Aligned crop side (px)."""
    shard_size: int = Field(16, ge=1)
    """Clips per Prefect task and per part file."""

    @model_validator(mode="after")
    def _frames(self) -> FacesParams:
        if self.min_frames > self.per_clip:
            raise ValueError(f"min_frames ({self.min_frames}) cannot exceed per_clip ({self.per_clip})")
        return self


class AudioParams(_Section):
    """The paper's audio front end and the clips' speech segments."""

    seconds: float = Field(6.0, ge=0.5, le=60.0)
    """Segment length (598 STFT frames at 6 s); shorter speech is tiled to it."""
    segments_per_clip: int = Field(1, ge=1, le=100)
    """Non-overlapping segments taken from longer clips; a clip is read only to `seconds x segments_per_clip + 60 s`, so
    an hour-long file costs what a minute does."""
    normalize: bool = False
    """Scale each segment to -20 dBFS RMS."""
    silence_db: float = Field(-40.0, ge=-100.0, le=-1.0)
    """Leading and trailing audio this far below the clip's peak is trimmed."""
    min_seconds: float = Field(1.0, ge=0.1)
    """Clips with less speech than this after trimming are rejects."""
    shard_size: int = Field(8, ge=1)
    """Clips per Prefect task; a shard's spectrograms are held until its part is written."""


class FaceModelParams(_Section):
    """The face decoder (feature -> canonical face) and its GAN."""

    size: int = Field(128, ge=16, le=512)
    """Decoder output side (px), at most `faces.crop_size`."""
    channels: list[int] = Field([128, 64, 32, 16, 8], min_length=1, max_length=7)
    """One x2 upsampling block per entry, from a (size / 2^len) square map."""
    epochs: int = Field(12, ge=1)
    """Decoder training epochs (chosen on val; docs/benchmarks.md)."""
    batch_size: int = Field(32, ge=1)
    """Decoder training batch size."""
    lr: float = Field(6e-4, gt=0.0)
    """Adam learning rate (beta1 0.5)."""
    gan_weight: float = Field(0.005, ge=0.0)
    """Patch-discriminator loss weight; 0 turns the GAN off."""
    critic_channels: list[int] = Field([16, 32, 64], min_length=1, max_length=5)
    """The patch discriminator's channels: one stride-2 4x4 convolution each (its cost grows with the image's area)."""
    identity_weight: float = Field(0.1, ge=0.0)
    """Weight of the identity term: 1 - cosine between a stand-in descriptor network's reading of the decoded face
    and the input feature (both around the train mean); the stand-in is fitted on the real train crops alongside."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Training steps in bf16 autocast (`bf16`), in fp32, or `auto`: bf16 on a GPU that has it, fp32 on the CPU."""
    seed: int = Field(0, ge=0)
    """Training seed."""

    @model_validator(mode="after")
    def _size(self) -> FaceModelParams:
        start = self.size / 2 ** len(self.channels)
        if start < 1 or not start.is_integer():
            raise ValueError(f"size {self.size} must be a whole multiple of 2^len(channels) = "
                             f"{2 ** len(self.channels)} (each channel entry doubles the map)")
        return self


class VoiceLossParams(_Section):
    """The voice encoder's loss: a weighted sum, each weight 0 or more (a zero weight skips its term); at least one
    weight must be above 0. Speech2Face's own loss is `contrastive: 0, standardized_l2: 0, fc_l1: 1, feature_l2:
    0.025, distill: 200` (docs/evaluation.md, "What each loss term contributes")."""

    contrastive: float = Field(1.0, ge=0.0)
    """Weight of InfoNCE against the train faces: the prediction's cosine to every train speaker's face over
    `temperature`, cross-entropy with its own (the objective aligned with retrieval)."""
    temperature: float = Field(0.01, gt=0.0, le=10.0)
    """InfoNCE temperature (face features of different people have cosines of about 0.8-0.95)."""
    standardized_l2: float = Field(0.1, ge=0.0)
    """Weight of the squared error in units of each dimension's spread over train faces."""
    fc_l1: float = Field(0.0, ge=0.0)
    """Weight of the L1 loss on the decoder's first layer output (the paper's: 1)."""
    feature_l2: float = Field(0.0, ge=0.0)
    """Weight of the L2 loss on the normalised face feature (the paper's: 0.025)."""
    distill: float = Field(0.0, ge=0.0)
    """Weight of the distillation from a face classifier of train speakers (the paper's: 200)."""
    distill_temperature: float = Field(2.0, gt=0.0)
    """Distillation temperature (the paper's: 2)."""

    @model_validator(mode="after")
    def _some_weight(self) -> VoiceLossParams:
        if not any((self.contrastive, self.standardized_l2, self.fc_l1, self.feature_l2, self.distill)):
            raise ValueError("every loss weight is 0: give at least one term a weight above 0")
        return self


# Voice encoder presets: the EncoderConfig fields each one sets (s2f/models/networks.py).
VOICE_PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {"arch": "conv1d", "frames": 298, "channels": 128, "layers": 4, "kernel": 3, "hidden": 256},
    "paper": {"arch": "paper", "frames": 598, "width": 1.0},
}


class AugmentParams(_Section):
    """Acoustic variety in voice training (s2f/models/augment.py): per training example, the probability of each
    effect, drawn anew every epoch from the training seed; all 0 trains on the clean spectrograms. The defaults were
    chosen on the real dev clips (docs/evaluation.md, "Real voices: what each choice did")."""

    reverb: float = Field(0.5, ge=0.0, le=1.0)
    """A room's diffuse reverberation (RT60 0.2-1.0 s, direct-to-reverberant ratio 0-15 dB)."""
    eq: float = Field(0.5, ge=0.0, le=1.0)
    """A microphone's colouring: a smooth random gain curve over frequency (a tilt and ripples of a few dB)."""
    noise: float = Field(0.5, ge=0.0, le=1.0)
    """Stationary background noise, white to brown, at 0-30 dB SNR."""
    band: float = Field(0.3, ge=0.0, le=1.0)
    """Band-limiting: 8 kHz telephone speech (300-3400 Hz) or a 4-7 kHz low-pass."""
    codec: float = Field(0.3, ge=0.0, le=1.0)
    """A lossy codec at a low bitrate: quiet bins dropped, the rest quantised, a 4-7 kHz band."""
    level_db: float = Field(10.0, ge=0.0, le=60.0)
    """The recording's gain, drawn uniformly within +-this many dB."""


class VoiceModelParams(_Section):
    """The voice encoder (spectrogram -> face feature) and its training."""

    preset: Literal["cpu", "paper"] = "cpu"
    """`cpu`: 1-D convolutions over the log power of 3 s (298-frame) crops, 128 channels, trains in minutes here;
    `paper`: Speech2Face's network (2-D convolutions over the complex spectrogram, 6 s, 146 M parameters), for a
    GPU."""
    width: float | None = Field(None, gt=0.0, le=4.0)
    """Multiplies the preset's channels and hidden units."""
    frames: int | None = Field(None, ge=40, le=6000)
    """Overrides the preset's training crop, in STFT frames (100 a second)."""
    epochs: int = Field(30, ge=1)
    """Most training epochs (early stopping may end sooner)."""
    batch_size: int = Field(32, ge=2)
    """Batch size, at least 2 (the encoder batch-normalises over the batch)."""
    lr: float = Field(3e-3, gt=0.0)
    """Adam learning rate."""
    lr_schedule: Literal["exponential", "cosine"] = "cosine"
    """`cosine`: the learning rate is annealed from `lr` to 0 over `epochs` (half a cosine, a step each epoch);
    `exponential`: it is multiplied by `lr_decay` each epoch."""
    lr_decay: float = Field(0.95, gt=0.0, le=1.0)
    """The learning rate is multiplied by this each epoch (`lr_schedule: exponential`)."""
    weight_decay: float = Field(1e-4, ge=0.0)
    """Adam's L2 penalty (regularisation for small training sets)."""
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    """Dropout before the last layer (regularisation for small training sets)."""
    patience: int = Field(50, ge=1)
    """Early stopping: epochs without a better val loss (the best epoch is kept either way)."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Training steps in bf16 autocast (`bf16`), in fp32, or `auto`: bf16 on a GPU that has it, fp32 on the CPU."""
    workers: int = Field(0, ge=0, le=64)
    """DataLoader workers."""
    shuffle_buffer: int = Field(64, ge=1)
    """Spectrograms held for shuffling when a split is streamed (memory stays bounded)."""
    input_norm: Literal["none", "level", "utterance"] = "level"
    """`cpu` preset: how each clip's log power is normalised before the network: not at all (a fixed floor of
    1e-5 on every bin's power), by its level (power over the clip's mean, floored 40 dB below it: the recording's gain
    and a quiet noise floor change nothing), or by each frequency's mean over the clip (cepstral mean
    normalisation: removes a fixed channel such as a microphone's colouring, and the voice's average spectrum)."""
    speaker: Literal["none", "concat", "only"] = "only"
    """A frozen speaker embedding trained on real speech (resemblyzer's GE2E, s2f/models/speaker.py) fed to the
    encoder's head: instead of the preset's convolutions (`only`: the head learns from it alone), beside them
    (`concat`), or not at all (`none`: the preset's network alone)."""
    speaker_views: int = Field(8, ge=0, le=64)
    """`speaker`: augmented copies of each train clip (besides the clean one) whose speaker embeddings are computed
    once before training; each training crop takes one of them at random."""
    speaker_nuisance: int = Field(8, ge=0, le=128)
    """`speaker`: directions projected out of the embedding: those along which the augmented copies' embeddings move
    most from the clean ones' (the recording channel's, measured on train clips before training)."""
    speaker_keep: int = Field(0, ge=0, le=256)
    """`speaker`: of the rest, the directions along which the train clips' embeddings vary most that are kept (0:
    all): a direction no train clip moves along reaches no weight of the head."""
    speaker_tempo: int = Field(0, ge=0, le=16)
    """`speaker`: directions projected out of the embedding beside the channel's: those along which train clips'
    embeddings move most when the clip is spoken 10% slower or faster (measured before training), so the head
    cannot read the speaking rate (real speakers set it by the occasion more than by age; 0: off)."""
    memory_gb: float = Field(2.0, ge=0.0)
    """A split whose spectrograms (float16) fit in this many GB is read into memory once; a larger one is streamed from
    Parquet every epoch (same batches either way)."""
    loss: VoiceLossParams = VoiceLossParams()
    augment: AugmentParams = AugmentParams()
    identity_steps: int = Field(300, ge=1)
    """`loss.distill` only: steps fitting the frozen face classifier of train speakers (the distillation teacher)."""
    identity_weight_decay: float = Field(1e-2, ge=0.0)
    """`loss.distill` only: weight decay of that classifier."""
    seed: int = Field(0, ge=0)
    """Training seed (weights, order and crops of the clips)."""

    def architecture(self) -> dict[str, Any]:
        """The encoder's config fields: the preset's, with `width` and `frames` where set."""
        arch = dict(VOICE_PRESETS[self.preset])
        if self.frames:
            arch["frames"] = self.frames
        if arch["arch"] == "conv1d":
            arch["input_norm"] = self.input_norm
        if self.speaker != "none":
            arch["speaker"] = self.speaker
            arch["speaker_nuisance"] = self.speaker_nuisance
            arch["speaker_keep"] = self.speaker_keep
            arch["speaker_tempo"] = self.speaker_tempo
        if self.width and arch["arch"] == "paper":
            arch["width"] = self.width
        elif self.width:
            arch["channels"] = max(4, round(arch["channels"] * self.width))
            arch["hidden"] = max(4, round(arch["hidden"] * self.width))
        return arch


class EvaluateParams(_Section):
    """Evaluation on the test split, the baselines beside the model, and the report."""

    seconds: list[float] = Field([3.0, 6.0], min_length=1, max_length=4)
    """Audio lengths evaluated (the first N s of each test clip's speech; at most `audio.seconds`)."""
    pool: int = Field(100, ge=2)
    """Retrieval pool of test speakers' faces (all of them if fewer)."""
    rounds: int = Field(20, ge=1, le=1000)
    """Random pools per query when there are more test speakers than `pool`."""
    baselines: list[Literal["chance", "mean", "resemblyzer"]] = ["chance", "mean", "resemblyzer"]
    """`chance` (a random train face), `mean` (the train-mean face), `resemblyzer` (speaker embedding + ridge)."""
    ridge_alphas: list[float] = Field([0.1, 1.0, 10.0, 100.0, 1000.0], min_length=1)
    """Ridge penalties tried for resemblyzer + ridge (speaker-grouped 5-fold CV on train clips)."""
    labels: list[str] = Field(["gender", "age", "accent_group"], min_length=1)
    """Attributes classified (`age` is binned to decades)."""
    grid_speakers: int = Field(16, ge=1, le=256)
    """Test speakers shown in `reports/faces_grid.png`."""
    seed: int = Field(0, ge=0)
    """Seed of the retrieval pools and the bootstrap."""

    @field_validator("seconds")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(s <= 0 for s in v):
            raise ValueError("every audio length must be > 0 s")
        return sorted(set(v))


class ReproduceParams(_Section):
    """`make reproduce`: the training stages and evaluate again from other seeds, for intervals over seeds."""

    runs: int = Field(3, ge=2, le=100)
    """Trainings in all, `make run`'s own included: run k trains the decoder from `face_model.seed + k` and the
    encoder from `voice_model.seed + k`; evaluate's pools stay the same, so every run is scored on the same
    queries."""


class PredictParams(_Section):
    """`s2f predict`: how much speech it needs and uses (the models: `paths.*`, or `--models DIR`)."""

    seconds: float = Field(6.0, ge=0.5, le=60.0)
    """Window of speech used (the most speech-dense one)."""
    min_seconds: float = Field(1.5, ge=0.1)
    """Recordings with less speech than this are refused."""
    silence_db: float = Field(-40.0, ge=-100.0, le=-1.0)
    """Frames this far below the recording's peak are not speech."""
    tempo: float = Field(1.2, ge=0.5, le=2.0)
    """A model trained on the synthetic corpus reads a recording's speaker embedding as if spoken this many times as
    fast: real speech is slower than the corpus's, whose rate falls with age, so at 1 real voices get old faces
    (chosen on the dev clips: docs/evaluation.md). Models trained on real videos, or without a speaker embedding,
    read it as it is."""

    @model_validator(mode="after")
    def _enough(self) -> PredictParams:
        if self.min_seconds > self.seconds:
            raise ValueError(f"min_seconds ({self.min_seconds}) cannot exceed seconds ({self.seconds})")
        return self


class AppParams(_Section):
    """`s2f app`: what an upload may be (the report and scores it shows: `paths.reports`)."""

    max_upload_mb: float = Field(50.0, gt=0, le=4096)
    """A bigger upload is refused (413)."""
    max_seconds: float = Field(300.0, gt=0, le=3600)
    """A longer recording is refused (422); only `predict.seconds` of it is used."""


class PathsParams(_Section):
    """The data catalog: where every dataset, model and report lives, each named once. The flows read and write
    through it, `dvc.yaml` names its stages' inputs and outputs with `${paths.<key>}`, and no other section holds a
    path. Moving one (`--set paths.clips=/scratch/clips`) moves it for every stage that reads or writes it."""

    synth: PathStr = "data/raw/synth"
    """synth writes the synthetic corpus here (videos, meta.csv, attributes.parquet, transcripts.csv)."""
    videos: PathStr = "data/raw/synth"
    """ingest reads the videos below this folder (by default the synthetic corpus; a folder of videos, VoxCeleb2's
    `mp4` folder, the AVSpeech download)."""
    videos_csv: PathStr | None = None
    """The CSV naming the videos. folder: speakers CSV (file, speaker_id[, gender]); voxceleb2: `vox2_meta.csv`;
    avspeech: the header-less segment CSV (required); synth: null reads `<videos>/meta.csv`."""
    attributes: PathStr | None = "data/raw/synth/attributes.parquet"
    """Per-speaker label table evaluate scores (`speaker_id` + label columns, CSV or Parquet); null: the clip
    table's gender only."""
    clips: PathStr = "data/processed/clips"
    """The clip table (ingest)."""
    clips_rejects: PathStr = "data/processed/clips_rejects"
    """Videos ingest could not use, with a reason each."""
    faces: PathStr = "data/processed/faces"
    """Aligned face crops, landmarks and frontality (faces)."""
    face_features: PathStr = "data/processed/face_features"
    """One face feature per clip (faces): the voice encoder's targets."""
    faces_rejects: PathStr = "data/processed/faces_rejects"
    """Clips the faces stage could not use, with a reason each."""
    spectrograms: PathStr = "data/processed/spectrograms"
    """The paper's complex spectrograms (audio)."""
    audio_rejects: PathStr = "data/processed/audio_rejects"
    """Clips the audio stage could not use, with a reason each."""
    face_decoder: PathStr = "models/face_decoder"
    """The face decoder (train_face; safetensors + config.json); frozen afterwards."""
    voice_encoder: PathStr = "models/voice_encoder"
    """The voice encoder (train_voice; safetensors + config.json)."""
    classifiers: PathStr = "models/attributes.json"
    """The attribute classifiers evaluate fits and `s2f predict` and `s2f app` use."""
    train_face_reports: PathStr = "reports/train_face"
    """The decoder's training curves, metrics.json (dvclive) and val_grid.png."""
    train_voice_reports: PathStr = "reports/train_voice"
    """The encoder's training curves and metrics.json (dvclive)."""
    reports: PathStr = "reports"
    """evaluate's metrics.json, plots/, faces_grid.png, report_data.json; seeds.json and real_voices.json; and
    report.html rendered from them (shown by `s2f app`)."""
    checkpoints: PathStr = ".cache/checkpoints"
    """Per-epoch checkpoints of train_voice: a killed training resumes from the last one."""
    runs: PathStr = "runs"
    """`make reproduce`'s further trainings: run k's models, reports and checkpoints in `<runs>/run<k>/`."""


class Params(_Section):
    paths: PathsParams = PathsParams()
    runner: RunnerParams = RunnerParams()
    synth: SynthParams = SynthParams()
    ingest: IngestParams = IngestParams()
    faces: FacesParams = FacesParams()
    audio: AudioParams = AudioParams()
    face_model: FaceModelParams = FaceModelParams()
    voice_model: VoiceModelParams = VoiceModelParams()
    evaluate: EvaluateParams = EvaluateParams()
    reproduce: ReproduceParams = ReproduceParams()
    predict: PredictParams = PredictParams()
    app: AppParams = AppParams()

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.ingest.source == "avspeech" and not self.paths.videos_csv:
            raise ValueError("ingest.source 'avspeech' needs paths.videos_csv: the header-less AVSpeech CSV "
                             "(youtube_id,start,end,x,y)")
        if self.face_model.size > self.faces.crop_size:
            raise ValueError(f"face_model.size ({self.face_model.size}) cannot exceed faces.crop_size "
                             f"({self.faces.crop_size})")
        if max(self.evaluate.seconds) > self.audio.seconds:
            raise ValueError(f"evaluate.seconds ({max(self.evaluate.seconds):g}) cannot exceed audio.seconds "
                             f"({self.audio.seconds:g}): the spectrograms are that long")
        return self

    def section_hash(self, *names: str) -> str:
        """Short stable hash of some sections, recorded with outputs so a table says what made it."""
        blob = json.dumps({n: getattr(self, n).model_dump(mode="json") for n in names}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the parent of an unknown key, for the error message."""
    model: type[BaseModel] = Params
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return sorted(model.model_fields)


# Keys that held paths before the `paths:` catalog named every dataset once: section.key -> where it lives now.
MOVED_TO_PATHS = {
    "synth.out": "paths.synth",
    "ingest.root": "paths.videos", "ingest.csv": "paths.videos_csv",
    "ingest.out": "paths.clips and paths.clips_rejects",
    "faces.clips": "paths.clips", "faces.out": "paths.faces, paths.face_features and paths.faces_rejects",
    "audio.clips": "paths.clips", "audio.out": "paths.spectrograms and paths.audio_rejects",
    "face_model.faces": "paths.face_features", "face_model.out": "paths.face_decoder",
    "face_model.reports": "paths.train_face_reports",
    "voice_model.spectrograms": "paths.spectrograms", "voice_model.features": "paths.face_features",
    "voice_model.decoder": "paths.face_decoder", "voice_model.out": "paths.voice_encoder",
    "voice_model.reports": "paths.train_voice_reports", "voice_model.checkpoints": "paths.checkpoints",
    "evaluate.attributes": "paths.attributes", "evaluate.clips": "paths.clips", "evaluate.faces": "paths.faces",
    "evaluate.features": "paths.face_features", "evaluate.spectrograms": "paths.spectrograms",
    "evaluate.encoder": "paths.voice_encoder", "evaluate.decoder": "paths.face_decoder",
    "evaluate.classifiers": "paths.classifiers", "evaluate.out": "paths.reports",
    "predict.encoder": "paths.voice_encoder", "predict.decoder": "paths.face_decoder",
    "predict.classifiers": "paths.classifiers",
    "app.report": "paths.reports (report.html in it)", "app.metrics": "paths.reports (metrics.json in it)",
}


def _describe(err: ValidationError, origin: str) -> str:
    """One line per bad key (a single bad key: one line in all), naming the file, the key and what is allowed."""
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden" and key in MOVED_TO_PATHS:
            lines.append(f"{key}: moved to {MOVED_TO_PATHS[key]} (the paths: section names every dataset once)")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key; allowed here: {', '.join(_allowed_keys(loc))}")
        elif e["type"] == "string_too_short":
            lines.append(f"{key}: an empty path; give a file or folder path")
        elif e["type"] == "finite_number":
            lines.append(f"{key}: must be a finite number (got {e['input']!r})")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            # a check across sections names its keys itself; the input it got is the whole file
            lines.append(msg if not loc else f"{key}: {msg} (got {e['input']!r})")
    if len(lines) == 1:
        return f"{origin}: {lines[0]}"
    return "\n".join([f"{origin}: {len(lines)} invalid parameters (nothing was run):"] + [f"  - {x}" for x in lines])


def merge_params(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`base` with `over`'s keys written in, section by section and key by key (`s2f params --merge`)."""
    return {**base, **{k: merge_params(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                       for k, v in over.items()}}


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `key.path=value` overrides (values parsed as YAML) to a params dict, returning a new dict."""
    out = json.loads(json.dumps(raw))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParamsError(f"--set {item!r}: expected key.path=value, e.g. synth.speakers=10")
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ParamsError(f"--set {item!r}: {part} is a value, not a section")
            node = child
        node[leaf] = yaml.safe_load(value)
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice in one section", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def validate(raw: Any, origin: str = "params") -> Params:
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ParamsError(f"{origin}: expected a mapping of sections (runner:, synth:, ...), got {got}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_describe(err, origin)) from None


def read_params_file(path: str | Path) -> Any:
    """The params file as YAML data: UTF-8, valid YAML, no key twice; raises ParamsError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found" + (" (it is a folder)" if path.is_dir() else ""))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParamsError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8") \
            from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParamsError(f"{where}: not valid YAML: {problem}") from None


def load_params(path: str | Path = "params.yaml", overrides: list[str] | None = None) -> Params:
    """Read, override and validate a params file; raises ParamsError naming every bad key."""
    raw = read_params_file(path)
    if overrides and isinstance(raw, dict):
        raw = apply_overrides(raw, overrides)
    return validate(raw, origin=str(path))


def for_run(params: Params, k: int) -> Params:
    """The params of `make reproduce`'s run k: both models trained from the k-th seeds, and every trained model,
    training report, checkpoint and evaluation under `paths.runs/run<k>/`; the data, and everything else, as
    they are. Run 0 is `make run`'s own."""
    if k == 0:
        return params
    paths = relocate(params.paths, ("train_face", "train_voice", "evaluate"), Path(params.paths.runs) / f"run{k}")
    face = params.face_model.model_copy(update={"seed": params.face_model.seed + k})
    voice = params.voice_model.model_copy(update={"seed": params.voice_model.seed + k})
    return params.model_copy(update={"paths": paths, "face_model": face, "voice_model": voice})
