#!/usr/bin/env bash
# Installs what scripts/calibrate needs: yosys (Debian's package) for
# synth_primitives.py. Not needed by the tests.
set -euo pipefail
if command -v yosys > /dev/null; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && apt-get install -y -qq yosys
else
  sudo apt-get update -qq && sudo apt-get install -y -qq yosys
fi
