#!/usr/bin/env bash
# Renew the README's pictures with the real app (release build) under Xvfb:
# every analysis' Result view at 1600x1000, and lecture mode at 1280x720 (a projector)
# for the Result, Timing and History tabs; Python beside Rust in Timing and Flame graph. Needs xvfb-run (Debian: xvfb, xauth); the
# pictures are then reduced to 256 colours when pngquant is installed.
# Usage: docs/screenshots/make.sh [path/to/astroperf]
set -euo pipefail
cd "$(dirname "$0")"
bin=${1:-../../target/release/astroperf}
shot() { # size out args...
  local size=$1 out=$2; shift 2
  # A session that takes a screenshot ignores the pointer: no hover label in the picture.
  xvfb-run -a -s "-screen 0 ${size}x24" "$bin" gui "$@" --size "$size" \
    --screenshot "$out" --exit --force
}
for id in $("$bin" list --json | python3 -c "import json,sys; print(*(a['id'] for a in json.load(sys.stdin)))"); do
  shot 1600x1000 "result_${id}_1600.png" --analysis "$id" --run vectorized --tab result
done
shot 1280x720 lecture_result_720.png --analysis spectrum-pipeline --run all --tab result --lecture
shot 1280x720 lecture_timing_720.png --analysis spectrum-pipeline --run all --tab timing --lecture --hide-panel
shot 1280x720 lecture_history_720.png --analysis spectrum-pipeline --run all --tab history --lecture
shot 1280x720 lecture_ccd_720.png ../../assets/samples/eso_ntt_emmi_R.fits --analysis ccd-pipeline --run vectorized --tab result --lecture --hide-panel
shot 1280x720 lecture_sunspots_720.png ../../assets/samples/sunspots_yearly.csv --analysis period-search --run vectorized --tab result --lecture --hide-panel
shot 1600x1000 timing_1600.png --analysis spectrum-pipeline --run all --tab timing
# The Roofline tab with the ceilings' status line (and its warning, when they are in doubt)
shot 1600x1000 roofline_1600.png --analysis spectrum-pipeline --run all --tab roofline
shot 1280x720 roofline_720.png --analysis spectrum-pipeline --run all --tab roofline --lecture --hide-panel
# Python beside Rust (needs python3 with numpy and scipy, or ASTROPERF_PYTHON)
shot 1600x1000 python_timing_1600.png --analysis spectrum-pipeline --run all --python --tab timing
shot 1600x1000 python_flame_1600.png --analysis spectrum-pipeline --run all --python --tab flame-graph
shot 1280x720 lecture_python_flame_720.png --analysis spectrum-pipeline --run all --python --tab flame-graph --lecture
if command -v pngquant >/dev/null; then
  pngquant --force --ext .png --quality 70-95 -- *.png || true
fi
