#!/bin/bash
# loss ablation on val through the product's train_voice (s2f run), 3 seeds each
cd "$(dirname "$0")/../../.." && source .venv/bin/activate
export PREFECT_SERVER_ANALYTICS_ENABLED=false DVC_NO_ANALYTICS=1
declare -A CFG
CFG[default]=""
CFG[contrastive_only]="--set voice_model.loss.standardized_l2=0"
CFG[std_l2_only]="--set voice_model.loss.contrastive=0"
CFG[paper]="--set voice_model.loss.contrastive=0 --set voice_model.loss.standardized_l2=0 --set voice_model.loss.fc_l1=1 --set voice_model.loss.feature_l2=0.025 --set voice_model.loss.distill=200"
for name in "$@"; do
  for seed in 0 1 2; do
    out=${OUT:-/tmp/ablation}/$name/seed$seed
    grep -q epochs_run $out/reports/metrics.json 2>/dev/null && continue; rm -rf $out
    mkdir -p $out
    start=$(date +%s)
    s2f run train_voice --set voice_model.seed=$seed ${CFG[$name]} --set paths.voice_encoder=$out/model \
      --set paths.train_voice_reports=$out/reports --set paths.checkpoints=$out/ck > $out/log 2>&1
    echo "$name $seed rc=$? $(( $(date +%s) - start ))s" >> ${OUT:-/tmp/ablation}/ablation.log
  done
done
