"""Runs the harness on N local ranks, as `torchrun --standalone --nproc_per_node N` would.

    python -m regscope_probe.launch --nproc N [harness arguments]

Each rank is `python -m regscope_probe [harness arguments]` with torchrun's environment (RANK,
LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so a script written for
torchrun (`init_process_group()` from the environment, DistributedSampler, DDP) runs unchanged.
Rank 0's stdout is ours (the event stream); every other rank's stdout joins stderr. When a rank
fails the others get SIGTERM, then SIGKILL; our exit code is the first failure's. A SIGTERM to
us goes to every rank.

Why not torch.distributed.run itself: Debian's torch 1.13 under Python 3.11 cannot parse its own
default `--redirects`/`--tee` (enum Flag iteration changed in 3.11), and the event stream needs
rank 0's stdout kept apart from the others'.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import List, Optional

GRACE_SECONDS = 5.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] != "--nproc" or not args[1].isdigit() or int(args[1]) < 1:
        print("usage: python -m regscope_probe.launch --nproc N [harness arguments]", file=sys.stderr)
        return 2
    n = int(args[1])
    rest = args[2:]
    base = dict(os.environ)
    base.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(n), LOCAL_WORLD_SIZE=str(n),
                GROUP_RANK="0", ROLE_RANK="0", ROLE_WORLD_SIZE=str(n), TORCHELASTIC_RUN_ID="regscope")
    procs: List[subprocess.Popen] = []
    for rank in range(n):
        env = dict(base, RANK=str(rank), LOCAL_RANK=str(rank), ROLE_RANK=str(rank))
        procs.append(subprocess.Popen([sys.executable, "-u", "-m", "regscope_probe", *rest], env=env,
                                      stdout=None if rank == 0 else sys.stderr.fileno()))

    def stop_all(sig: int) -> None:
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(sig)
                except OSError:
                    pass

    def on_term(_signum: int, _frame: object) -> None:
        stop_all(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    failed: Optional[int] = None
    stopped_at: Optional[float] = None
    while any(p.poll() is None for p in procs):
        for rank, p in enumerate(procs):
            code = p.poll()
            if code not in (None, 0) and failed is None:
                failed = code
                print(f"regscope: rank {rank} exited with code {code}; stopping the other ranks", file=sys.stderr, flush=True)
                stop_all(signal.SIGTERM)
                stopped_at = time.monotonic()
        if stopped_at is not None and time.monotonic() - stopped_at > GRACE_SECONDS:
            stop_all(signal.SIGKILL)
        time.sleep(0.05)
    if failed is None:
        # Every rank ended between two polls: name the failed ones now.
        for rank, p in enumerate(procs):
            if p.returncode != 0:
                print(f"regscope: rank {rank} exited with code {p.returncode}", file=sys.stderr, flush=True)
        failed = next((p.returncode for p in procs if p.returncode != 0), 0)
    return failed if failed >= 0 else 128 - failed


if __name__ == "__main__":
    sys.exit(main())
