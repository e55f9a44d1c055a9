"""Every dataset's columns, in one place: the Arrow schema each is written with and one line on what each column
holds. The stages write through these schemas; docs/outputs.md's column tables are generated from them
(`s2f columns --write docs/outputs.md`; a test fails if they drift). The meanings are not written into the
Parquet files: the schemas the stages write are the names and types alone, as they always were."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

_LIST_F32 = pa.list_(pa.float32())


@dataclass(frozen=True)
class Columns:
    """A dataset's columns: (name, Arrow type, meaning) each."""

    columns: tuple[tuple[str, pa.DataType, str], ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(name, kind) for name, kind, _ in self.columns])


_IDS = (("clip_id", pa.string(), "the clip's id (`clips`)"), ("speaker_id", pa.string(), "its speaker"),
        ("split", pa.string(), "`train`, `val` or `test`, by speaker"))

CLIPS = Columns((
    ("clip_id", pa.string(), "a stable hash of the source, the path and the segment (not of run order)"),
    ("speaker_id", pa.string(), "the speaker, from the source's layout or the speakers CSV"),
    ("split", pa.string(), "`train`, `val` or `test`: a seeded hash order of the speakers cut by `ingest.split`"),
    ("source", pa.string(), "`synth`, `voxceleb2`, `avspeech` or `folder`"),
    ("path", pa.string(), "the file, as the stages open it (below `paths.videos`)"),
    ("source_row", pa.string(), "where the source named it: the file below the corpus, or a CSV's file and line"),
    ("duration", pa.float64(), "seconds of the clip (of the segment, when the source cuts one)"),
    ("fps", pa.float64(), "video frames per second"),
    ("width", pa.int32(), "displayed width: a phone's portrait video, stored landscape with a display rotation, "
                          "is recorded (and decoded) upright"),
    ("height", pa.int32(), "displayed height"),
    ("video_codec", pa.string(), "as ffprobe names it"),
    ("audio_sample_rate", pa.int32(), "Hz"),
    ("audio_channels", pa.int32(), "of the audio stream"),
    ("audio_codec", pa.string(), "as ffprobe names it"),
    ("segment_start", pa.float64(), "seconds within the file where the clip starts, when a source cuts a "
                                    "segment from a longer video (AVSpeech); else empty"),
    ("segment_end", pa.float64(), "seconds within the file where it ends; else empty"),
    ("face_x", pa.float64(), "AVSpeech's face-centre hint (0-1 of the width); else empty"),
    ("face_y", pa.float64(), "AVSpeech's face-centre hint (0-1 of the height); else empty"),
    ("gender", pa.string(), "`f` or `m` from meta or the speakers CSV; else empty"),
    ("size_bytes", pa.int64(), "of the file"),
    ("sha256", pa.string(), "of the file's bytes (a later file with the same bytes is a `duplicate` reject)"),
))

CLIPS_REJECTS = Columns((
    ("path", pa.string(), "the file, as the source listed it"),
    ("source_row", pa.string(), "the row of the source's listing"),
    ("reason", pa.string(), "why it cannot be used (the list below the table)"),
    ("detail", pa.string(), "what ffprobe or the check said"),
))

FACES = Columns((*_IDS,
    ("time", pa.float64(), "the frame's time in the clip (s)"),
    ("box", _LIST_F32, "the face's box: x, y, w, h in the video's pixels (BlazeFace's reference kernels, on a "
                       "square about twice the face: the same floats on any CPU)"),
    ("score", pa.float32(), "BlazeFace's score there"),
    ("keypoints", _LIST_F32, "BlazeFace's 6 keypoints there, x/y pairs in the video's pixels"),
    ("landmarks", _LIST_F32, "dlib's 68 landmarks in the aligned crop, x/y pairs"),
    ("frontality", pa.float32(), "1 = frontal: the nose tip balanced between the jaw ends"),
    ("crop", pa.binary(), "the aligned crop, PNG bytes (`faces.crop_size` px)"),
    ("descriptor", _LIST_F32, "dlib's 128-D face descriptor of the crop"),
))

FACE_FEATURES = Columns((*_IDS,
    ("feature", _LIST_F32, "the L2-normalised mean descriptor of the clip's kept frames: the voice encoder's target"),
    ("n_frames", pa.int32(), "how many kept frames it is the mean of"),
))

SHARD_REJECTS = Columns((
    ("clip_id", pa.string(), "the clip's id (`clips`)"),
    ("speaker_id", pa.string(), "its speaker"),
    ("path", pa.string(), "its file"),
    ("reason", pa.string(), "why it has no output (the stage's list below the table)"),
    ("detail", pa.string(), "what went wrong: counts of dropped frames by reason, or the error"),
))

SPECTROGRAMS = Columns((*_IDS,
    ("segment", pa.int32(), "the segment's number within the clip"),
    ("segment_start", pa.float64(), "where it starts: seconds from the start of the clip's audio (of its "
                                    "segment, if cut from a longer file)"),
    ("shape", pa.list_(pa.int32()), "`[2, frames, 257]`: real/imaginary, time, frequency (`[2, 598, 257]` at 6 s)"),
    ("values", pa.list_(pa.float16()), "the compressed complex spectrogram, flattened; "
                                       "`s2f.audio.stage.spectrogram_array(row)` gives the array back"),
))

# dataset folder (its name under data/processed/) -> its columns, in pipeline order
DATASETS: dict[str, Columns] = {"clips": CLIPS, "clips_rejects": CLIPS_REJECTS, "faces": FACES,
                                "face_features": FACE_FEATURES, "faces_rejects": SHARD_REJECTS,
                                "spectrograms": SPECTROGRAMS, "audio_rejects": SHARD_REJECTS}
