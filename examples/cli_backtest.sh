#!/usr/bin/env bash
# Backtest from the command line: `ssmcast backtest` with a training budget, to files.
#
# What it shows:
#   * `ssmcast backtest` on a CSV file: an s5 model, day-ahead forecasts of Beijing
#     temperature from every midnight of the second half of 2014, with quantiles, scored
#     by lead time against persistence and climatology;
#   * `--max-epochs`, the training budget, from SSMCAST_EXAMPLE_EPOCHS, and
#     `--ensemble-size`, the networks averaged (4 by default; 1 in fast mode);
#   * the outputs: OUT/backtest/forecasts.csv, metrics.csv and backtest.png, the summary
#     table on standard output, and the exit code (0 success, 1 a data error, 2 a usage
#     error), here used to stop a job whose model no longer beats persistence.
#
# Run:
#   bash examples/cli_backtest.sh --out results/cli
#
# Environment:
#   SSMCAST_EXAMPLE_EPOCHS  training epochs (default 20; early stopping may stop sooner)
#   SSMCAST_EXAMPLE_FAST=1  one month of data, a 6-hour horizon, one network (for the tests)
set -euo pipefail

OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (expected --out DIR)" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$(mktemp -d -t ssmcast-cli-XXXXXX)}"
EPOCHS="${SSMCAST_EXAMPLE_EPOCHS:-20}"
mkdir -p "$OUT"

# The data: a CSV file with a time column, as a pipeline would receive it. Here it is cut
# from the shipped Beijing dataset; `--dataset beijing` would read that directly.
if [[ "${SSMCAST_EXAMPLE_FAST:-}" == "1" ]]; then
  SPAN=("2014-11-01" "2014-11-30"); HORIZON=6; START="2014-11-24"; MEMBERS=1
else
  SPAN=("2013-01-01" "2014-12-31"); HORIZON=24; START="2014-07-01"; MEMBERS=4
fi
python - "$OUT/beijing.csv" "${SPAN[@]}" <<'EOF'
import sys
from ssmcast import datasets
path, first, last = sys.argv[1:]
datasets.load("beijing").loc[first:last, ["TEMP", "DEWP", "PRES"]].to_csv(path)
EOF

# The backtest. Quantiles and the baselines to compare with are options too:
# --quantiles 0.1,0.5,0.9 (the default), --compare naive,climatology (the default).
ssmcast backtest "$OUT/beijing.csv" \
  --target TEMP --model s5 --horizon "$HORIZON" --start "$START" --stride 24 \
  --max-epochs "$EPOCHS" --ensemble-size "$MEMBERS" --seed 0 --out "$OUT/backtest" --quiet

ls "$OUT/backtest"

# Gate on the result, as a CI job would: the overall MAE skill against persistence.
python - "$OUT/backtest/metrics.csv" <<'EOF'
import sys
import pandas as pd
metrics = pd.read_csv(sys.argv[1])
overall = metrics[(metrics["model"] == "s5") & (metrics["lead"] == "all")]
skill = float(overall["skill_MAE_vs_naive"].iloc[0])
print(f"MAE skill of s5 against persistence: {skill:.3f}")
if skill <= 0:
    print("warning: the model does not beat persistence (more epochs? more data?)")
EOF
