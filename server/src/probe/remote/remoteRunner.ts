/**
 * The shell script a remote probe runs on the far side (copied beside the harness as run.sh).
 * Its values come in as positional parameters, never spliced into its text:
 *
 *   sh run.sh DIR CWD PYTHON GPUS NPROC -- SCRIPT ARGS...
 *
 * (NPROC > 1: the harness's launcher runs NPROC ranks with torchrun's environment.)
 *
 * It starts the harness in a process group of its own (setsid, else job control);
 * a watcher reads the script's stdin, which is the ssh channel: when that ends (the
 * user cancelled and the client closed it, or the connection dropped) the harness's whole group
 * gets SIGTERM (which the harness turns into a `cancelled` error and a `done` event) and SIGKILL
 * three seconds later. Nothing the probe started outlives the connection.
 */
export const REMOTE_RUNNER = `#!/bin/sh
# RegScope remote probe runner. Usage: sh run.sh DIR CWD PYTHON GPUS NPROC -- SCRIPT ARGS...
set -u
dir=$1 cwd=$2 py=$3 gpus=$4 nproc=$5
shift 5
if [ "$nproc" -gt 1 ] 2>/dev/null; then module="regscope_probe.launch --nproc $nproc"; else module=regscope_probe; fi
[ "\${1-}" = "--" ] && shift
PYTHONPATH="$dir/harness\${PYTHONPATH:+:$PYTHONPATH}"
PYTHONUNBUFFERED=1
PYTHONIOENCODING=utf-8
export PYTHONPATH PYTHONUNBUFFERED PYTHONIOENCODING
if [ -n "$gpus" ]; then CUDA_VISIBLE_DEVICES=$gpus; export CUDA_VISIBLE_DEVICES; fi
cd "$cwd" || { echo "regscope: cannot enter $cwd on the remote host" >&2; exit 96; }
# The ssh channel, kept on fd 3: a background job's stdin is /dev/null unless redirected.
exec 3<&0
if command -v setsid >/dev/null 2>&1; then
  setsid "$py" -u -m $module --plan "$dir/plan.json" -- "$@" </dev/null 3<&- &
else
  set -m
  "$py" -u -m $module --plan "$dir/plan.json" -- "$@" </dev/null 3<&- &
fi
pid=$!
# (dash's kill takes no "--": "-PID" right after the signal is the group.)
(
  cat <&3 >/dev/null
  if [ ! -e "$dir/harness.ended" ]; then
    kill -TERM "-$pid" 2>/dev/null
    sleep 3
    kill -KILL "-$pid" 2>/dev/null
  fi
) >/dev/null 2>&1 &
watcher=$!
wait "$pid"
code=$?
: > "$dir/harness.ended"
kill "$watcher" 2>/dev/null
# Whatever the script left running in its group goes with it.
kill -KILL "-$pid" 2>/dev/null
exit $code
`;
