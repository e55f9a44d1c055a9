"""`s2f app`: one local page and a JSON API over the trained models (loaded once, when the app is made).

Routes: `/` the page, `POST /api/predict` a face from an uploaded recording (the JSON of `s2f predict --json`,
with the pictures as PNG data URIs and the waveform's envelope), `GET /api/health`, `GET /api/model` (what the
model was trained on and its test scores, read from its config and reports/metrics.json), `/report` the
evaluation report, `/docs` the OpenAPI page.

A user's mistake (no file, an empty file, not media, silence, too little speech, too big, too long) is a JSON
`{"error": ...}` with a 4xx status; nothing of a traceback reaches the client. Uploads are written to a
temporary folder that is removed when the answer is sent, also on error. Predictions run in a worker thread, so
the page and health checks are answered while one runs; several run at once (dlib's part one at a time).
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from s2f.catalog import METRICS_JSON, REPORT_HTML
from s2f.config import AppParams, PathsParams, PredictParams
from s2f.errors import InputError
from s2f.evaluate.results import EvaluationResults, RealVoices
from s2f.images import png_bytes
from s2f.predict import Prediction, Predictor, comparison, find_video, predict_file

log = logging.getLogger("s2f.app")
CHUNK = 1 << 20


class AppError(Exception):
    """A request the app refuses: its status and the one line the client reads."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ModelSummary:
    """What the page says about the loaded model, read from its config and the evaluation, never typed in."""

    trained_on: str
    scores: dict[str, Any] | None  # headline_scores, or None without a readable metrics.json
    scores_note: str  # why there are no scores, or where they come from
    real_voices: dict[str, Any] | None  # reports/real_voices.json's summary (scripts/real_voices.py), if it ran

    @classmethod
    def read(cls, trained_on: str, metrics: Path) -> ModelSummary:
        try:
            results, note = EvaluationResults.read(metrics), f"from {metrics}"
        except InputError as err:  # the app still serves predictions; the page says why there are no scores
            results, note = None, str(err)
        try:  # left out where it is damaged or was made with other models than the evaluation's
            found = RealVoices.read_beside(metrics, results)
        except InputError:
            found = None
        real = found.model_dump(include={"source", "clips", "agree", "agreement", "interval", "trained_on"}) \
            if found else None
        return cls(trained_on, headline_scores(results) if results else None, note, real)


def headline_scores(results: EvaluationResults) -> dict[str, Any]:
    """The voice encoder's test scores per audio length (reports/metrics.json), beside chance."""
    chance = results.chance_recall
    rows = [{"audio": length, "R@1": r.retrieval["cosine"]["R@1"], "R@10": r.retrieval["cosine"]["R@10"],
             "1:2": r.matching.get("1:2"), "gender": r.agreement.get("gender")}
            for length, by_method in results.lengths.items() if (r := by_method.get("voice")) is not None]
    return {"speakers": results.test.speakers, "pool": results.test.pool,
            "chance": {"R@1": chance["R@1"], "R@10": chance["R@10"], "1:2": 0.5}, "voice": rows}


def _data_uri(image: Any) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def _safe_name(name: str | None) -> str:
    """The upload's own name reduced to safe characters (it names the file in error messages)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "").name).lstrip(".-")[:100]
    return stem or "upload"


def answer(pred: Prediction) -> dict[str, Any]:
    """The API's JSON for one prediction: `s2f predict --json`'s, pictures as data URIs, plus the envelope."""
    result = pred.to_json(_data_uri(pred.face), None if pred.compare is None else _data_uri(pred.compare))
    result["envelope"] = [round(float(v), 4) for v in pred.envelope]
    return result


def create_app(predictor: Predictor, predict: PredictParams, params: AppParams,
               reports: str | Path | None = None) -> FastAPI:
    """The page and JSON API over `predictor`; the evaluation it shows is read from the `reports` folder
    (paths.reports, by default the catalog's: metrics.json beside the model, report.html at /report)."""
    reports = PathsParams().reports if reports is None else reports
    app = FastAPI(title="s2f", summary="Speech2Face on this machine: a face from a voice recording",
                  version="1", docs_url="/docs", redoc_url=None)
    report_html = Path(reports) / REPORT_HTML
    card = ModelSummary.read(predictor.trained_on, Path(reports) / METRICS_JSON)
    page = files("s2f.app").joinpath("page.html").read_text()
    limit = int(params.max_upload_mb * 1024 * 1024)

    @app.exception_handler(AppError)
    async def _refused(request: Request, err: AppError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in err.errors())
        return JSONResponse({"error": f"bad request ({where})"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception) -> JSONResponse:  # a bug of ours: logged here, one line there
        log.exception("s2f app: %s failed", request.url.path)
        return JSONResponse({"error": f"internal error ({type(err).__name__}); see the app's log"}, status_code=500)

    @app.middleware("http")
    async def _size_limit(request: Request, call_next: Any) -> Any:
        """A declared body over the limit is refused before it is read."""
        length = request.headers.get("content-length", "")
        if request.url.path == "/api/predict" and length.isdigit() and int(length) > limit + CHUNK:
            return JSONResponse({"error": _too_big(params)}, status_code=413)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "trained_on": predictor.trained_on}

    @app.get("/api/model")
    def model() -> dict[str, Any]:
        return {"trained_on": card.trained_on, "scores": card.scores, "scores_note": card.scores_note,
                "real_voices": card.real_voices, "report": "/report" if report_html.is_file() else None,
                "window_s": predict.seconds, "min_seconds": predict.min_seconds,
                "max_upload_mb": params.max_upload_mb, "max_seconds": params.max_seconds}

    @app.get("/report", include_in_schema=False)
    def report() -> FileResponse:
        if not report_html.is_file():
            raise AppError(404, f"no {report_html}: run `make run` (or `s2f report` after a `dvc pull`) to make it")
        return FileResponse(report_html, media_type="text/html")

    @app.post("/api/predict")
    async def predict_upload(
            file: Annotated[UploadFile | None, File(description="an audio or video recording")] = None,
    ) -> dict[str, Any]:
        """A face from a recording (any audio or video ffmpeg reads); with a face in a video, also the real
        aligned face | F2F | S2F row. Same JSON as `s2f predict --json`, with pictures as PNG data URIs."""
        if file is None:
            raise AppError(400, "no file: send the recording as the multipart field 'file'")
        folder = Path(tempfile.mkdtemp(prefix="s2f-app-"))
        try:
            path = folder / _safe_name(file.filename)
            size = 0
            with path.open("wb") as out:
                while chunk := await file.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise AppError(413, _too_big(params))
                    out.write(chunk)
            if size == 0:
                raise AppError(400, f"{path.name} is empty")
            return await run_in_threadpool(_predict, path, file.filename or path.name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _predict(path: Path, name: str) -> dict[str, Any]:
        with ThreadPoolExecutor(1) as probing:  # ffprobe's start-up overlaps the prediction
            video = probing.submit(find_video, path)
            try:
                pred = predict_file(predictor, path, predict, False, params.max_seconds, Path(name).name)
            except InputError as err:  # ffmpeg's messages name the file: the client knows it by its own name
                raise AppError(422, str(err).replace(f"{path.parent}/", "")) from None
            if (stream := video.result()) is not None:  # a video: real face | F2F | S2F, as `--compare` writes
                pred = replace(pred, compared=True, compare=comparison(predictor, path, pred.face, stream))
        return answer(pred)

    return app


def _too_big(params: AppParams) -> str:
    return f"the file is over app.max_upload_mb ({params.max_upload_mb:g} MB)"
