"""`s2f predict` end to end with models trained on the tiny corpus: wav, mp4, too-short input, real clips."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import main
from s2f.images import decode_png
from s2f.media import probe
from tests.conftest import PROJECT, espeak_wav, outputs_under


def _predict(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(["predict", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_a_generated_wav_writes_a_face_and_attributes(tiny_models: Path, tmp_path: Path, capsys):
    wav = espeak_wav(tmp_path / "hello.wav", "The quick brown fox jumps over the lazy dog, twice over.")
    out = tmp_path / "face.png"
    code, stdout, err = _predict(capsys, str(wav), "-o", str(out), "--models", str(tiny_models), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    face = decode_png(out.read_bytes())
    assert face.shape == (256, 256, 3) and face.std() > 1.0  # a drawn face, not a blank image
    assert result["face"] == str(out) and result["tiled"] is True  # espeak's sentence is shorter than 6 s
    assert result["trained_on"] == "synth"  # read from the encoder's config: nobody mistakes it for real inference
    # result["seconds"] is reported, not bounded here: a timed assertion failed CI under load (5.6 s against 5);
    # predict's speed is bench/predict.py's to measure.
    assert 1.5 <= result["speech_s"] < 6.0 and result["seconds"] > 0
    assert set(result["attributes"]["gender"]) == {"f", "m"}
    assert sum(result["attributes"]["gender"].values()) == pytest.approx(1.0, abs=1e-3)


def test_predict_tempo_reads_the_speaker_embedding_as_if_faster(tiny_models: Path, tmp_path: Path, capsys):
    """predict.tempo: the speaker embedding reads the recording as if spoken that many times as fast (real speech is
    slower than the corpus's); 1 reads it as it is, and so does an encoder trained on real speech or one without a
    speaker embedding."""
    import torch

    from s2f.audio.spectrogram import spectrogram
    from s2f.models.networks import EncoderConfig, VoiceEncoder
    from s2f.models.speaker import mean_of
    from s2f.predict import Predictor, read_speech, speech_window

    wav = espeak_wav(tmp_path / "hello.wav", "The quick brown fox jumps over the lazy dog, twice over.")
    speech = speech_window(read_speech(wav), 6.0, 1.5, -40.0).samples
    predictor = Predictor(tiny_models / "voice_encoder", tiny_models / "face_decoder", tiny_models / "attributes.json")
    spec = torch.from_numpy(spectrogram(speech))[None]
    as_is, faster = predictor.prediction(speech), predictor.prediction(speech, 1.2)
    with torch.no_grad():
        torch.testing.assert_close(as_is, predictor.encoder(spec))
        stretched = mean_of(predictor.encoder.speaker.partials(spec, 1.2))
        torch.testing.assert_close(faster, predictor.encoder(spec, speaker=stretched))
        assert (stretched - predictor.encoder.speaker(spec)).norm() > 0.01  # a different embedding, not a no-op
    assert not torch.allclose(faster, as_is)
    # the JSON says which rate was used: params.yaml's predict.tempo, or --set's
    from s2f.config import load_params

    default = load_params(PROJECT / "params.yaml").predict.tempo
    assert default != 1.0
    for setting, tempo in (([], default), (["--set", "predict.tempo=1.0"], 1.0)):
        code, stdout, err = _predict(capsys, str(wav), "-o", str(tmp_path / "f.png"), "--models", str(tiny_models),
                                     "--json", *setting)
        assert code == 0, err
        assert json.loads(stdout)["tempo"] == tempo
    code, _, err = _predict(capsys, str(wav), "--models", str(tiny_models), "--set", "predict.tempo=0")
    assert code != 0 and "predict.tempo" in err and not (tmp_path / "hello.face.png").exists()
    predictor.trained_on = "voxceleb2"  # trained on real speech: the corpus's rate is nothing to calibrate to
    assert predictor.tempo(1.2) == 1.0
    torch.testing.assert_close(predictor.prediction(speech, 1.2), as_is)
    predictor.trained_on = "synth"
    predictor.encoder = VoiceEncoder(EncoderConfig(speaker="none")).eval()  # its own convolutions only
    assert predictor.tempo(1.2) == 1.0
    torch.testing.assert_close(predictor.prediction(speech, 1.2), predictor.prediction(speech))


def test_predict_an_mp4_with_a_face_compares_it(tiny_models: Path, tiny_clips: list[Path], tmp_path: Path, capsys):
    out = tmp_path / "clip.png"
    code, stdout, err = _predict(capsys, str(tiny_clips[0]), "-o", str(out), "--models", str(tiny_models),
                                 "--compare")
    assert code == 0, err
    assert "wrote" in stdout and out.is_file()
    assert stdout.startswith("note: this model was trained on the synthetic corpus")
    compare = decode_png(out.with_suffix(".compare.png").read_bytes())
    assert compare.shape == (256, 3 * 256, 3)  # real aligned face | F2F | S2F


def test_predict_refuses_too_little_speech_and_missing_models(tiny_models: Path, tmp_path: Path, capsys):
    short = espeak_wav(tmp_path / "hi.wav", "Hi.")
    code, _, err = _predict(capsys, str(short), "-o", str(tmp_path / "x.png"), "--models", str(tiny_models))
    assert code == 1 and "s of speech; predict.min_seconds is 1.5 s" in err
    assert not (tmp_path / "x.png").exists()
    code, _, err = _predict(capsys, str(short), "--models", str(tmp_path / "nowhere"))
    assert code == 1 and "no trained voice encoder" in err and "make run" in err
    code, _, err = _predict(capsys, str(tmp_path / "absent.wav"), "--models", str(tiny_models))
    assert code == 1 and "no such file" in err
    (tmp_path / "junk.mp3").write_bytes(b"not audio at all")
    code, _, err = _predict(capsys, str(tmp_path / "junk.mp3"), "--models", str(tiny_models))
    assert code == 1 and "cannot decode audio" in err


@pytest.mark.slow
def test_predict_every_real_clip_with_enough_audio(realdata: Path, tiny_models: Path, tmp_path: Path, capsys):
    """All real clips in one command (the models load once): a face for each clip with enough audio, a line
    naming each clip without, exit 1 when any failed."""
    manifest = pd.read_csv(realdata / "manifest.csv")
    clips = [realdata / f for f in manifest.file if float(probe(realdata / f)["format"]["duration"]) >= 1.5]
    assert len(clips) >= 30
    code, stdout, err = _predict(capsys, *map(str, clips), "-o", str(tmp_path / "faces"), "--models",
                                 str(tiny_models), "--json")
    assert code == 0, err
    results = json.loads(stdout)
    assert [r["input"] for r in results] == list(map(str, clips))
    for clip, result in zip(clips, results, strict=True):
        assert result["face"] == str(tmp_path / "faces" / f"{clip.stem}.face.png")
        assert decode_png(Path(result["face"]).read_bytes()).shape == (256, 256, 3)
    short = espeak_wav(tmp_path / "hi.wav", "Hi.")
    code, stdout, err = _predict(capsys, str(clips[0]), str(short), "-o", str(tmp_path / "two"), "--models",
                                 str(tiny_models))
    assert code == 1 and f"s2f predict: {short}: only" in err and stdout.count("wrote") == 1
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [f"{clips[0].stem}.face.png"]
    code, _, err = _predict(capsys, str(clips[0]), str(clips[0]), "--models", str(tiny_models))
    assert code == 1 and "two inputs are named" in err


def _damaged_models(tiny_models: Path, tmp_path: Path, damage: str) -> Path:
    import shutil

    models = tmp_path / damage
    shutil.copytree(tiny_models, models)
    encoder, decoder = models / "voice_encoder", models / "face_decoder"
    if damage == "config not JSON":
        (encoder / "config.json").write_text("{'arch': oops")
    elif damage == "truncated weights":
        data = (decoder / "model.safetensors").read_bytes()
        (decoder / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "garbage attributes":
        (models / "attributes.json").write_text('{"gender": {"mean": [0.0]}}')
    elif damage == "another model's weights":
        shutil.copy(decoder / "model.safetensors", encoder / "model.safetensors")
    elif damage == "a stale card":  # written before a key existed
        card = json.loads((encoder / "config.json").read_text())
        del card["params_hash"]
        (encoder / "config.json").write_text(json.dumps(card))
    elif damage == "a decoder as the encoder":
        shutil.rmtree(encoder)
        shutil.copytree(decoder, encoder)
    return models


@pytest.mark.parametrize(("damage", "message"), [
    ("config not JSON", "voice_encoder/config.json: not valid JSON"),
    ("truncated weights", "face_decoder/model.safetensors: damaged"),
    ("garbage attributes", "attributes.json: not attribute classifiers (KeyError"),
    ("another model's weights", "voice_encoder/model.safetensors: its tensors do not fit"),
    ("a decoder as the encoder", "voice_encoder/config.json: not a voice encoder (it describes 'face_decoder')"),
    ("a stale card", "voice_encoder/config.json: not a voice encoder's config (params_hash: field required"),
])
def test_a_damaged_model_folder_is_one_line_naming_the_file_and_the_fix(tiny_models: Path, tmp_path: Path, capsys,
                                                                         damage: str, message: str):
    wav = espeak_wav(tmp_path / "hello.wav", "The quick brown fox jumps over the lazy dog, twice over.")
    models = _damaged_models(tiny_models, tmp_path, damage)
    code, _, err = _predict(capsys, str(wav), "-o", str(tmp_path / "x.png"), "--models", str(models))
    stage = "evaluate" if "attributes" in damage else "train_face" if "truncated" in damage else "train_voice"
    assert code == 1 and err.count("\n") == 1 and message in err and f"`dvc repro {stage}`" in err, err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("damage", ["config not JSON", "truncated weights", "another model's weights",
                                    "a decoder as the encoder", "a stale card", "a weight cut short"])
def test_checking_a_model_folder_finds_what_loading_it_would(tiny_models: Path, tmp_path: Path, damage: str):
    """The stages check their model folders before Prefect starts from the card and the weights' header only;
    that check must refuse every folder that loading refuses, with the same line."""
    from s2f.errors import InputError
    from s2f.models.zoo import check_model, load_decoder, load_encoder

    models = _damaged_models(tiny_models, tmp_path, damage)
    if damage == "a weight cut short":  # one tensor's shape changed in the header, the file otherwise whole
        from safetensors.torch import load_file, save_file

        state = load_file(models / "voice_encoder" / "model.safetensors")
        name = next(k for k, v in state.items() if v.dim() > 0)
        state[name] = state[name][..., :-1].contiguous()
        save_file(state, models / "voice_encoder" / "model.safetensors")
    for kind, load in (("voice_encoder", load_encoder), ("face_decoder", load_decoder)):
        try:
            load(models / kind)
        except InputError as err:
            with pytest.raises(InputError) as checked:
                check_model(models / kind, kind)
            assert str(checked.value).split(" (")[0] == str(err).split(" (")[0]
        else:
            assert check_model(models / kind, kind) == load(models / kind)[1]


def test_a_stage_stops_on_a_damaged_model_before_prefect_starts(tiny_models: Path, tiny_processed: Path,
                                                                tmp_path: Path, capsys):
    models = _damaged_models(tiny_models, tmp_path, "truncated weights")
    sets = [f"paths.{k}={tiny_processed / k}" for k in ("spectrograms", "face_features")]
    sets += [f"paths.face_decoder={models / 'face_decoder'}"]
    code = main(["run", "train_voice", "--params", str(PROJECT / "params.yaml"),
                 *(arg for s in sets for arg in ("--set", s)), *outputs_under("train_voice", tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("s2f train_voice: ") and err.count("\n") == 1
    assert "face_decoder/model.safetensors: damaged" in err and not (tmp_path / "out").exists()


def test_real_voices_are_scored_against_the_annotated_gender(realdata: Path, tiny_models: Path, tmp_path: Path):
    from s2f.config import PredictParams
    from s2f.evaluate.results import RealVoices
    from s2f.predict import Predictor
    from s2f.readme import real_voices_markdown
    from s2f.real_voices import real_voice_gender, run_summary

    manifest = pd.read_csv(realdata / "manifest.csv").head(4)
    short = espeak_wav(tmp_path / "hi.wav", "Hi.")
    clips = [(realdata / f, g) for f, g in zip(manifest.file, manifest.gender, strict=True)] + [(short, "m")]
    predictor = Predictor(tiny_models / "voice_encoder", tiny_models / "face_decoder", tiny_models / "attributes.json")
    result = real_voice_gender(predictor, clips)
    assert result.tempo == PredictParams().tempo  # the rate s2f predict reads real speech at
    assert result.clips == 4 and [s["clip"] for s in result.skipped] == ["hi.wav"]
    assert result.agree == sum(r["gender"] == r["predicted"] for r in result.rows)
    assert 0 <= result.interval[0] <= result.agreement <= result.interval[1] <= 1
    assert -1 <= result.distinct <= 1
    assert sum(result.ages.values()) == (4 if "age" in predictor.classifiers else 0)  # the tiny models: gender only
    assert all(r["age"] in result.ages for r in result.rows if r["age"])
    summary = run_summary(result, "models")
    assert summary.women[1] + summary.men[1] == 4 and summary.women[0] + summary.men[0] == result.agree
    result.source = "test"
    text = real_voices_markdown(result)
    assert f"; {result.agree} of 4 in all" in text and "trained on the synthetic corpus" in text
    assert f"; speaker embeddings read at {result.tempo:g} times the clips' rate, predict.tempo)" in text
    women = [r for r in result.rows if r["gender"] == "f"]  # the first 4 clips: 2 men, 2 women
    assert f"{sum(r['predicted'] == 'f' for r in women)} of {len(women)} clips of women" in text
    # written beside an evaluation and read back through its schema, byte for byte
    from s2f.evaluate.results import EvaluationResults
    from tests.conftest import PROJECT

    evaluation = EvaluationResults.read(PROJECT / "reports/metrics.json")
    result.evaluation = evaluation.fingerprint()
    written = result.write(tmp_path / "real_voices.json")
    assert RealVoices.read_beside(tmp_path / "metrics.json", evaluation) == result
    assert written.read_text() == result.to_json()
