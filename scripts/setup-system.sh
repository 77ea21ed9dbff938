#!/usr/bin/env bash
# System packages the tests need, and code-server (a real VS Code) for the end-to-end tests.
# As root it installs them (apt-get; code-server into .cache/ inside the clone, nothing cached
# elsewhere); otherwise it says exactly what to install and the end-to-end tests are skipped.
# python3-torch is the Python probe runtime's torch (1.13 on Debian 12) for the system Python;
# python3-numpy writes the data-file tests' .npy/.npz files; procps (ps) and iproute2 (ss) are
# used by the remote engines' tests and the test-daemon scripts.
# openssh-server and rsync: the ssh engine's tests run against a real sshd on 127.0.0.1 (scripts/test-sshd.sh);
# slurmctld, slurmd, slurm-client and munge: the slurm engine's, against a single-node Slurm (scripts/test-slurm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
NEEDED=(chromium ripgrep python3-torch python3-numpy procps iproute2 tar openssh-server openssh-client rsync slurmctld slurmd slurm-client munge)
missing=()
for p in "${NEEDED[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing system packages: ${missing[*]}" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages for the end-to-end and probe tests: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}   (or run this script as root)" >&2
  fi
fi
CODE_SERVER_PREFIX=.cache/code-server-4.100.3
if [[ ! -f $CODE_SERVER_PREFIX/.installed ]]; then
  if [[ $(id -u) == 0 ]]; then
    echo "Installing code-server 4.100.3 into $CODE_SERVER_PREFIX (once)…" >&2
    bash scripts/install-code-server.sh "$PWD/$CODE_SERVER_PREFIX" >&2
  else
    echo "code-server is not installed: the end-to-end tests will be skipped. Run 'sudo bash scripts/setup-system.sh' to install it." >&2
  fi
fi
