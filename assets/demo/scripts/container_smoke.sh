#!/bin/sh
# Smoke test run inside the built image: the app is in place and its imports resolve.
set -e
test -f /app/requirements.txt
python -c "import torch, torchvision, numpy"
echo "smoke: ok"
