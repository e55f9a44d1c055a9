"""`s2f app`: the JSON API through FastAPI's TestClient and a real server, with models trained on the tiny corpus."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient

from flows.cli import main
from flows.server import free_port
from s2f.app.api import create_app
from s2f.config import AppParams, PredictParams
from s2f.images import decode_png
from s2f.predict import Predictor
from tests.conftest import PROJECT, espeak_wav

SPEECH = "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet woods."


@pytest.fixture(scope="module")
def predictor(tiny_models: Path) -> Predictor:
    return Predictor(tiny_models / "voice_encoder", tiny_models / "face_decoder", tiny_models / "attributes.json")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return espeak_wav(tmp_path_factory.mktemp("speech") / "fox.wav", SPEECH)


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder uploads go to, so a test can see that nothing is left there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _client(predictor: Predictor, reports: Path = PROJECT / "reports", **app: object) -> TestClient:
    return TestClient(create_app(predictor, PredictParams(), AppParams(**app), reports), raise_server_exceptions=False)


def _png(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return decode_png(base64.b64decode(uri.split(",", 1)[1]))


def _post(client: TestClient, path: Path, name: str | None = None) -> httpx.Response:
    with path.open("rb") as f:
        return client.post("/api/predict", files={"file": (name or path.name, f)})


def test_bad_uploads_get_a_json_error_and_the_right_status(predictor: Predictor, speech: Path, tmp_path: Path,
                                                          uploads: Path):
    client = _client(predictor, max_upload_mb=0.5, max_seconds=4.0)
    silence, tone, junk, empty = (tmp_path / n for n in ("silence.wav", "tone.wav", "junk.mp4", "empty.wav"))
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3",
                    str(silence)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=0.6",
                    "-af", "apad=pad_dur=2", str(tone)], check=True)
    junk.write_bytes(b"\x00not media at all" * 100)
    empty.write_bytes(b"")
    big = tmp_path / "big.wav"
    big.write_bytes(b"RIFF" + bytes(600 * 1024))
    cases = [
        (client.post("/api/predict"), 400, "no file"),
        (client.post("/api/predict", data={"something": "else"}), 400, "no file"),
        (_post(client, empty), 400, "empty.wav is empty"),
        (_post(client, junk), 422, "junk.mp4: cannot decode audio"),
        (_post(client, silence), 422, "no speech found"),
        (_post(client, tone), 422, "predict.min_seconds"),
        (_post(client, big), 413, "app.max_upload_mb"),
        (_post(client, speech), 422, "app.max_seconds"),  # espeak's fox is longer than 4 s
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error"} and words in body["error"], body
        assert "Traceback" not in body["error"] and str(uploads) not in body["error"]
    assert list(uploads.iterdir()) == []  # every upload's folder was removed, on error too


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(predictor: Predictor):
    client = _client(predictor, max_upload_mb=1)
    response = client.post("/api/predict", content=b"", headers={"content-length": str(50 * 1024 * 1024),
                                                                 "content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and "app.max_upload_mb" in response.json()["error"]


def test_a_good_clip_answers_what_s2f_predict_json_prints(predictor: Predictor, tiny_models: Path, speech: Path,
                                                           tiny_clips: list[Path], tmp_path: Path, uploads: Path,
                                                           capsys: pytest.CaptureFixture):
    client = _client(predictor)
    for clip, compare in ((speech, []), (tiny_clips[0], ["--compare"])):
        response = _post(client, clip)
        assert response.status_code == 200, response.text
        api = response.json()
        face = _png(api.pop("face"))
        assert face.shape == (256, 256, 3)
        envelope = api.pop("envelope")
        assert len(envelope) == 400 and max(envelope) > 0.05
        capsys.readouterr()
        out = tmp_path / f"{clip.stem}.png"
        assert main(["predict", str(clip), "-o", str(out), "--models", str(tiny_models), "--json", *compare]) == 0
        cli = json.loads(capsys.readouterr().out)
        assert np.array_equal(decode_png(out.read_bytes()), face)  # the same picture, byte for byte
        if compare:
            row = _png(api.pop("compare"))
            assert row.shape == (256, 3 * 256, 3)
            assert np.array_equal(decode_png(Path(cli.pop("compare")).read_bytes()), row)
        else:
            assert "compare" not in api
        assert cli.pop("face") == str(out) and api.pop("seconds") > 0 and cli.pop("seconds") > 0
        assert api.pop("input") == clip.name and cli.pop("input") == str(clip)
        assert api == cli
        assert api["trained_on"] == "synth" and set(api["attributes"]) == {"gender"}
    assert list(uploads.iterdir()) == []


def test_health_model_card_and_page(predictor: Predictor, tmp_path: Path):
    reports = tmp_path / "reports"  # the committed scores, no report.html
    reports.mkdir()
    for name in ("metrics.json", "real_voices.json"):
        shutil.copy(PROJECT / "reports" / name, reports / name)
    client = _client(predictor, reports)
    assert client.get("/api/health").json() == {"status": "ok", "trained_on": "synth"}
    model = client.get("/api/model").json()
    metrics = json.loads((PROJECT / "reports" / "metrics.json").read_text())
    assert model["trained_on"] == "synth" and model["scores"]["speakers"] == metrics["test"]["speakers"]
    assert [r["audio"] for r in model["scores"]["voice"]] == ["3s", "6s"]
    for row in model["scores"]["voice"]:
        voice = metrics[row["audio"]]["voice"]
        assert row["R@10"] == voice["retrieval"]["cosine"]["R@10"] and row["gender"] == voice["agreement"]["gender"]
    assert model["report"] is None and client.get("/report").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and 'id="record"' in page.text
    assert "http://" not in page.text.replace("http://127.0.0.1", "")  # nothing fetched from the network
    assert "/api/predict" in client.get("/openapi.json").json()["paths"]
    (reports / "report.html").write_text("<html>the report</html>")
    (reports / "metrics.json").write_text("{not json")
    client = _client(predictor, reports)
    model = client.get("/api/model").json()
    assert model["scores"] is None and "dvc repro evaluate" in model["scores_note"]
    assert model["report"] == "/report" and "the report" in client.get("/report").text


def test_eight_concurrent_requests_are_all_answered_correctly(predictor: Predictor, speech: Path, tmp_path: Path):
    """A real server: 8 uploads of two voices at once, each answered with its own voice's face; the health
    check is answered while they run."""
    other = espeak_wav(tmp_path / "other.wav", "Seven silver swans swam silently seaward on a cold grey morning.")
    app = create_app(predictor, PredictParams(), AppParams(), tmp_path / "no_reports")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.1)

        def post(path: Path) -> dict:
            with path.open("rb") as f:
                response = httpx.post(f"{url}/api/predict", files={"file": (path.name, f)}, timeout=120)
            assert response.status_code == 200, response.text
            result = response.json()
            result.pop("seconds")
            return result

        alone = {p.name: post(p) for p in (speech, other)}  # face, attributes, window and waveform of each
        assert alone[speech.name]["envelope"] != alone[other.name]["envelope"]
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(post, p) for p in [speech, other] * 4]
            tick = time.perf_counter()
            health = httpx.get(f"{url}/api/health", timeout=30)
            health_s = time.perf_counter() - tick
            results = [f.result() for f in futures]
        assert health.status_code == 200 and health_s < 2.0  # the event loop is not blocked by predictions
        assert [r["input"] for r in results] == [speech.name, other.name] * 4
        assert all(r == alone[r["input"]] for r in results)
    finally:
        server.should_exit = True
        thread.join(10)


def test_s2f_app_without_models_says_to_run_make_run(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main(["app", "--models", str(tmp_path / "nowhere"), "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no trained voice encoder" in err and "make run" in err


def test_s2f_app_refuses_a_taken_port_before_loading_models(tiny_models: Path, capsys: pytest.CaptureFixture):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tick = time.perf_counter()
        assert main(["app", "--models", str(tiny_models), "--port", str(port)]) == 1
        assert time.perf_counter() - tick < 1.0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "--port" in err


def test_the_app_command_serves_and_stops_on_ctrl_c(tiny_models: Path):
    """`s2f app` as a user runs it: it prints its address, answers, and Ctrl-C ends it at once with no traceback."""
    import signal

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "app", "--models", str(tiny_models),
                             "--port", str(port)], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        for _ in range(100):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()["status"] == "ok"
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert "Traceback" not in err
