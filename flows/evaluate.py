"""Stage `evaluate`: score the voice encoder and the baselines on the test split; write metrics, plots, report."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.common import with_runner
from s2f.config import Params
from s2f.evaluate.attributes import save_classifiers
from s2f.evaluate.report import write_outputs
from s2f.evaluate.stage import evaluate, load_inputs
from s2f.tables import dataset_version


@flow(name="evaluate", validate_parameters=False)
def evaluate_flow(params: Params) -> list[Path]:
    log = get_run_logger()
    p, paths = params.evaluate, params.paths
    inputs = load_inputs(paths, p)
    result = evaluate(inputs, p, params.audio, params.faces.crop_size, log.info)
    save_classifiers(result.classifiers, paths.classifiers)
    encoder, decoder = inputs.encoder_card, inputs.decoder_card
    context = {"encoder": f"{encoder.preset} preset, width {encoder.arch['width']:g}, "
                          f"best val loss {encoder.metrics['best_val_loss']:.2f}",
               "decoder": f"{decoder.arch['size']} px",
               "data": f"features {dataset_version(paths.face_features)}, "
                       f"spectrograms {dataset_version(paths.spectrograms)}"}
    written = write_outputs(result.results, result.curves, result.confusions, result.grid, context, paths.reports,
                            result.per_query)
    longest, chance = f"{max(p.seconds):g}s", result.results.chance_recall
    for method, r in result.results.lengths[longest].items():
        log.info("%s @ %s: R@1 %.3f R@10 %.3f (chance %.3f / %.3f), agreement %s", method, longest,
                 r.retrieval["cosine"]["R@1"], r.retrieval["cosine"]["R@10"], chance["R@1"], chance["R@10"],
                 {k: round(v, 3) for k, v in r.agreement.items()})
    log.info("wrote %s", ", ".join(map(str, written)))
    return written


def run(params: Params) -> list[Path]:
    return with_runner(evaluate_flow, params)(params)
