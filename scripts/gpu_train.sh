#!/usr/bin/env bash
# Train the base model on a CUDA machine from a carried training pack, weights under $OUT.
#   scripts/gpu_train.sh start PACK SECONDS [train args...]   start training in the background (setsid), then watch
#   scripts/gpu_train.sh watch SECONDS                         watch the running job, then snapshot into $OUT
# The job outlives one device call (10 min cap); each call snapshots compact weights into $OUT.
set -uo pipefail
RUN=/root/aecodec-run
mode=$1; shift
if [ "$mode" = start ]; then
  [ -n "${SKIP_PIP:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  pack=$1; seconds=$2; shift 2
  mkdir -p $RUN
  cp "$pack" $RUN/pack.npz
  PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 setsid nohup python3 -W ignore -m aecodec.training.looping.loop \
    --data $RUN/pack.npz --out $RUN --device cuda --auto-steps-seconds "$seconds" --time-limit "$((seconds + 30))" \
    "$@" > $RUN/train.out 2>&1 < /dev/null &
  echo $! > $RUN/pid
  watch_s=${WATCH:-540}
else
  watch_s=$1
fi
end=$((SECONDS + watch_s))
while [ $SECONDS -lt $end ] && kill -0 "$(cat $RUN/pid)" 2>/dev/null; do sleep 10; done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
tr '\r' '\n' < $RUN/train.out | grep -v '^\s*$' | tail -n 15
PYTHONPATH=/tmp/site:$PWD python3 scripts/snapshot.py $RUN "$OUT"
ls -la "$OUT"
