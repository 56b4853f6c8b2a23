#!/usr/bin/env bash
# Train on a CUDA machine from a training pack (scripts/build_pack.py); the run lives in $RUN.
#   scripts/gpu_train.sh start PACK SECONDS [train options...]   start `python3 -m aecodec.training.loop` in the
#                                                                background (setsid), then watch it
#   scripts/gpu_train.sh watch SECONDS                           watch the running job, then snapshot into $OUT
# The job outlives one device call: each call watches for $WATCH seconds (default 480, so that a call with the
# wheel install and the snapshot fits 9 minutes), then copies the checkpoints in files of at most 16 MB and, once
# the run has ended, its exported weights and provenance into $OUT (scripts/snapshot.py). The schedule is sized to
# SECONDS from the measured speed (--auto-steps-seconds replaces --steps after 150 steps; a shorter --steps, as in
# the CPU dry run, ends first), with --time-limit SECONDS+30 as a safety net (an interrupted run continues with
# `scripts/gpu_train.sh start` and the same arguments: it resumes from $RUN/last.pt).
# Environment: RUN (default /root/aecodec-run), DEVICE (default cuda), SKIP_PIP (set: the wheels in .whl are
# installed already). tests/test_training_gpu_round.py dry-runs this round on the CPU.
set -uo pipefail
RUN=${RUN:-/root/aecodec-run}
mode=$1; shift
if [ "$mode" = start ]; then
  [ -n "${SKIP_PIP:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  pack=$1; seconds=$2; shift 2
  mkdir -p "$RUN"
  cp "$pack" "$RUN/pack.npz"
  PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 setsid nohup python3 -W ignore -m aecodec.training.loop \
    --data "$RUN/pack.npz" --out "$RUN" --device "${DEVICE:-cuda}" --auto-steps-seconds "$seconds" \
    --time-limit "$((seconds + 30))" "$@" > "$RUN/train.out" 2>&1 < /dev/null &
  echo $! > "$RUN/pid"
  watch_s=${WATCH:-480}
else
  watch_s=$1
fi
end=$((SECONDS + watch_s))
while [ $SECONDS -lt $end ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; do sleep 2; done
if command -v nvidia-smi > /dev/null; then nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv; fi
tr '\r' '\n' < "$RUN/train.out" | grep -v '^\s*$' | tail -n 15
PYTHONPATH=/tmp/site:$PWD python3 scripts/snapshot.py "$RUN" "$OUT" || exit 1
ls -la "$OUT"
