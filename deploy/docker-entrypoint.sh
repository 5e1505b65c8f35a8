#!/bin/sh
# Container entrypoint: `tinyvllm serve` with its flags taken from the environment.
#   TINYVLLM_MODEL   checkpoint directory or hub name (default gpt2)
#   TINYVLLM_HOST    address to listen on (default 0.0.0.0)
#   TINYVLLM_PORT    port (default 8000)
#   TINYVLLM_API_KEY bearer token for /v1 routes (read by `serve` itself)
#   TINYVLLM_ARGS    any further flags, e.g. "--block-size 16 --grace-period 30 --max-num-seqs 64"
# Arguments given to `docker run IMAGE ...` are appended last.
set -eu
# shellcheck disable=SC2086  # TINYVLLM_ARGS is split into flags on purpose.
exec node /app/bin/tinyvllm.js serve "${TINYVLLM_MODEL:-gpt2}" \
  --host "${TINYVLLM_HOST:-0.0.0.0}" --port "${TINYVLLM_PORT:-8000}" ${TINYVLLM_ARGS:-} "$@"
