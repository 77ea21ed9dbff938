#!/usr/bin/env bash
# A throwaway single-node Slurm (munged + slurmctld + slurmd) on 127.0.0.1 for the Slurm probe
# tests (see docs/design/test-clusters.md).
#
#   scripts/test-slurm.sh start DIR   -> prints "SLURM_CONF=DIR/slurm.conf" on stdout
#   scripts/test-slurm.sh stop DIR    -> cancels all jobs, stops the daemons (safe to call twice)
#
# Then: export SLURM_CONF=DIR/slurm.conf (or `source DIR/env.sh`) and use sbatch, squeue,
# scontrol, scancel, sinfo. sacct does NOT work (no slurmdbd); finished jobs stay visible in
# `scontrol show job` / `squeue -t all` for MinJobAge (1 h here) and in DIR/jobcomp.log.
#
# Everything (config, keys, state, logs, pid files, sockets) lives in DIR; nothing in /etc is
# read or changed, and no systemd or cgroups are needed. Run as root (CI), the daemons run as
# root; run as another user, they run as that user and only run that user's jobs.
set -euo pipefail

NAME=test-slurm
WHERE="slurm.conf"
# shellcheck source=lib/test-daemon.sh
source "$(dirname "$0")/lib/test-daemon.sh"

[[ $# -eq 2 ]] || usage
cmd=$1
DIR=${2%/}
check_dir "$DIR"

CONF="$DIR/slurm.conf"

# Prints the pid in pid file $1 if that process is alive and its command line mentions DIR
# (guards against recycled pids and other clusters).
live_pid() {
  local pid
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/" || return 1
  echo "$pid"
}

# Sends TERM to the daemons in the given pid files at once (each takes 1-2 s to exit), waits
# up to 10 s for all of them, then KILLs the rest.
kill_pidfiles() {
  local f pid pids=() i running
  for f in "$@"; do
    if pid=$(live_pid "$f"); then pids+=("$pid"); kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for ((i = 0; i < 100; i++)); do
    running=
    for pid in "${pids[@]}"; do alive "$pid" && running=1; done
    [[ -z $running ]] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      echo "test-slurm: pid $pid ignored SIGTERM for 10 s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$@"
}

# slurmstepd processes (one per running job step) of this cluster: they keep DIR/slurmd.log
# open. (Their environment is no use as a marker: setproctitle overwrites it.)
stray_stepds() {
  local p fd
  for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) == slurmstepd ]] || continue
    for fd in "$p"/fd/*; do
      if [[ $(readlink "$fd" 2>/dev/null) == "$DIR/slurmd.log" ]]; then echo "${p#/proc/}"; break; fi
    done
  done
  return 0
}

# KILLs process $1 and all its descendants (a job's processes are children of its slurmstepd).
kill_tree() {
  local child
  kill -STOP "$1" 2>/dev/null || return 0   # no new children while we look
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
  kill -KILL "$1" 2>/dev/null || true
}

stop() {
  local ids i p
  if live_pid "$DIR/slurmctld.pid" >/dev/null && live_pid "$DIR/slurmd.pid" >/dev/null; then
    # Cancel every job so their processes end with them: slurmstepd outlives slurmd.
    ids=$(SLURM_CONF=$CONF squeue -h -t PENDING,RUNNING,SUSPENDED -o %A 2>/dev/null || true)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086 # job ids are numbers printed by squeue
      SLURM_CONF=$CONF scancel $ids 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        [[ -z $(SLURM_CONF=$CONF squeue -h -t RUNNING,COMPLETING -o %A 2>/dev/null || true) ]] && break
        sleep 0.1
      done
    fi
  fi
  kill_pidfiles "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munged.pid"
  # Anything left (jobs started while stopping, or a slurmd that had died): kill the steps.
  for p in $(stray_stepds); do kill_tree "$p"; done
}


# On failure: show the end of a log and stop whatever did start.
fail() {
  local log=$1
  shift
  echo "test-slurm: $*" >&2
  [[ -f $log ]] && { echo "--- last lines of $log:" >&2; tail -n 20 "$log" >&2; }
  stop
  exit 1
}

start() {
  local missing=() pkg bin pid ctld_port slurmd_port cpus mem i state t0 user
  t0=$SECONDS
  for pkg in munge:munged munge:munge munge:unmunge slurmctld:slurmctld slurmd:slurmd \
    slurm-client:sbatch slurm-client:squeue slurm-client:scontrol slurm-client:sinfo iproute2:ss procps:ps; do
    bin=${pkg#*:}
    command -v "$bin" >/dev/null 2>&1 || [[ -x /usr/sbin/$bin ]] || missing+=("${pkg%%:*}")
  done
  if ((${#missing[@]})); then
    die "missing packages; run: apt-get install -y --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u | paste -sd' ')"
  fi
  PATH=$PATH:/usr/sbin:/sbin
  # Unix socket paths are limited to 108 bytes, and munge.sock lives in DIR.
  ((${#DIR} <= 90)) || die "DIR is too long for the munge socket path (max 90 characters): $DIR"
  # As root the daemons run as root (jobs may run as any user); otherwise they run as the
  # current user, and only that user can submit jobs that run (slurmd cannot switch users).
  user=$(id -un 2>/dev/null) || die "uid $(id -u) has no passwd entry; Slurm needs a user name"
  for bin in munged slurmctld slurmd; do
    if pid=$(live_pid "$DIR/$bin.pid"); then
      die "$bin from $DIR is already running (pid $pid); run: $0 stop $DIR"
    fi
  done
  # A slurmstepd of a previous run (whose slurmd was killed) would report into the new cluster.
  for pid in $(stray_stepds); do kill_tree "$pid"; done

  mkdir -p "$DIR"
  # munged refuses a socket directory that not everybody can traverse ("execute permissions for
  # all required"); DIR holds no secrets except munge.key, which is 0600.
  chmod 755 "$DIR"
  # Wipe state from an earlier run in DIR so every start is a cold start (slurmctld -c as well).
  rm -rf "$DIR/state" "$DIR/spool"
  rm -f "$DIR"/munge.key "$DIR"/munge.sock "$DIR"/munge.sock.lock "$DIR"/munged.seed "$DIR"/munged.log \
    "$DIR"/munged.pid "$DIR"/slurmctld.pid "$DIR"/slurmd.pid "$DIR"/slurmctld.log "$DIR"/slurmd.log \
    "$DIR"/jobcomp.log "$CONF" "$DIR"/env.sh
  mkdir -p "$DIR/state" "$DIR/spool"
  chmod 700 "$DIR/state" "$DIR/spool"

  # munge: its own key, socket, pid, log and seed in DIR; the system munged (if any) is untouched.
  # --force: munged also wants every parent of the socket to be world-executable, which fails
  # under a 0700 `mktemp -d`; it then only logs a warning (only this user/root can connect).
  (umask 077 && dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 status=none)
  munged --force --socket="$DIR/munge.sock" --key-file="$DIR/munge.key" --pid-file="$DIR/munged.pid" \
    --log-file="$DIR/munged.log" --seed-file="$DIR/munged.seed" ||
    fail "$DIR/munged.log" "munged failed to start"
  for ((i = 0; i < 50; i++)); do [[ -S $DIR/munge.sock ]] && break; sleep 0.1; done
  munge -n -S "$DIR/munge.sock" | unmunge -S "$DIR/munge.sock" >/dev/null ||
    fail "$DIR/munged.log" "munged is running but a munge/unmunge round trip failed"

  ctld_port=$(free_port)
  slurmd_port=$(free_port "$ctld_port")
  cpus=$(nproc)
  # RealMemory must not exceed what slurmd detects, else the node is drained ("Low RealMemory").
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [[ $mem =~ ^[0-9]+$ && $mem -gt 0 ]] || mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))

  cat >"$CONF" <<EOF
# Generated by scripts/test-slurm.sh: a single-node test cluster on 127.0.0.1. Do not edit.
ClusterName=regscope-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
# Bind slurmctld to 127.0.0.1 only, not 0.0.0.0.
CommunicationParameters=NoCtldInAddrAny
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge.sock
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
# No cgroups (containers, no systemd): track job processes by parent pid, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
# One CPU per job by default, so several jobs / array tasks run at once.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Start jobs right after submit: the default batch_sched_delay=3 holds sbatch jobs up to 3 s.
SchedulerParameters=batch_sched_delay=0,bf_interval=1
# No slurmdbd: sacct cannot work. Completed jobs are kept in slurmctld for MinJobAge seconds
# (scontrol show job, squeue -t all) and appended to jobcomp.log.
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
MinJobAge=3600
# Tests want quick cancels: seconds between SIGTERM and SIGKILL on scancel / time limit.
KillWait=5
ReturnToService=2
# Trust the node line below even if it differs from the detected sockets/cores layout.
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  # Both daemons fork into the background; slurmctld -c: cold start, ignore any saved state.
  env SLURM_CONF="$CONF" slurmctld -c -f "$CONF" ||
    fail "$DIR/slurmctld.log" "slurmctld failed to start"
  # -N localhost: the node name is not the machine's hostname.
  env SLURM_CONF="$CONF" slurmd -N localhost -f "$CONF" ||
    fail "$DIR/slurmd.log" "slurmd failed to start"

  # Wait (60 s) until the node is idle, i.e. slurmd registered and jobs can start.
  for ((i = 0; i < 300; i++)); do
    state=$(SLURM_CONF=$CONF sinfo -h -n localhost -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    if ((i % 10 == 9)); then
      live_pid "$DIR/slurmctld.pid" >/dev/null || fail "$DIR/slurmctld.log" "slurmctld exited"
      live_pid "$DIR/slurmd.pid" >/dev/null || fail "$DIR/slurmd.log" "slurmd exited"
    fi
    sleep 0.2
  done
  [[ $state == idle ]] || fail "$DIR/slurmd.log" "node did not become idle within 60 s (state: ${state:-none})"

  printf 'export SLURM_CONF=%s\n' "$CONF" >"$DIR/env.sh"
  echo "test-slurm: cluster up in $((SECONDS - t0)) s (ctld port $ctld_port, slurmd port $slurmd_port, $cpus CPUs)" >&2
  echo "SLURM_CONF=$CONF"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
