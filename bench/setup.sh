#!/usr/bin/env bash
# Installs what bench/run.sh races against: Debian's PyTorch (CPU, float64
# through OpenBLAS), seen only by /usr/bin/python3. Run as root once per
# machine; the Go side needs nothing beyond the module.
set -euo pipefail
apt-get update
apt-get install -y python3-torch python3-numpy
/usr/bin/python3 -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
