/**
 * The two shell scripts of a Slurm probe. Values come in as positional parameters, never
 * spliced into their text.
 *
 * job.sh is the batch script: `sbatch [options] job.sh DIR CWD PYTHON NPROC -- SCRIPT ARGS...` runs the
 * harness on the compute node with its events in DIR/events.out and the script's output in
 * DIR/script.log, both on the shared file system. For a job array each task's folder is
 * DIR/task-$SLURM_ARRAY_TASK_ID (its own plan.json and arguments file, see the sweep).
 *
 * follow.sh runs where sbatch ran (this machine or the login node): `sh follow.sh JOB FILE`
 * copies FILE's new bytes to stdout as they are written, byte for byte, and writes one line
 * `regscope-slurm STATE REASON NODES EXITCODE` to stderr whenever the job's state changes, until
 * the job has ended (squeue while it is queued or running, then scontrol, then sacct).
 */
export const SLURM_JOB = `#!/bin/sh
# RegScope probe batch script. Usage: sbatch [options] job.sh DIR CWD PYTHON NPROC -- SCRIPT ARGS...
set -u
dir=$1 cwd=$2 py=$3 nproc=$4
harness="$dir/harness"
shift 4
# NPROC > 1: the harness's launcher starts the ranks on this node with torchrun's environment.
if [ "$nproc" -gt 1 ] 2>/dev/null; then module="regscope_probe.launch --nproc $nproc"; else module=regscope_probe; fi
[ "\${1-}" = "--" ] && shift
if [ -n "\${SLURM_ARRAY_TASK_ID-}" ] && [ -d "$dir/task-$SLURM_ARRAY_TASK_ID" ]; then
  dir="$dir/task-$SLURM_ARRAY_TASK_ID"
  # A sweep task's own arguments, one per line (NUL-free, newline-free words).
  set --
  while IFS= read -r word; do set -- "$@" "$word"; done < "$dir/args"
fi
PYTHONPATH="$harness\${PYTHONPATH:+:$PYTHONPATH}"
PYTHONUNBUFFERED=1
PYTHONIOENCODING=utf-8
export PYTHONPATH PYTHONUNBUFFERED PYTHONIOENCODING
cd "$cwd" || { echo "regscope: cannot enter $cwd on $(hostname)" >&2; exit 96; }
"$py" -u -m $module --plan "$dir/plan.json" -- "$@" >"$dir/events.out" 2>"$dir/script.log" </dev/null
`;

export const SLURM_FOLLOW = `#!/bin/sh
# RegScope: follow a Slurm job. Usage: sh follow.sh JOB FILE
set -u
job=$1 file=$2 offset=0 last=
drain() {
  [ -f "$file" ] || return 0
  size=$(wc -c < "$file")
  if [ "$size" -gt "$offset" ]; then
    tail -c +"$((offset + 1))" "$file" | head -c "$((size - offset))"
    offset=$size
  fi
}
state() {
  line=$(squeue -h -j "$job" -o '%T %r %N' 2>/dev/null | head -n 1)
  if [ -n "$line" ]; then
    # Word splitting drops the empty node list of a pending job; a reason keeps its first word.
    set -- $line
    line="$1 \${2:-None} \${3:--} -"
    return
  fi
  info=$(scontrol show job "$job" -o 2>/dev/null | head -n 1)
  st=$(printf '%s\\n' "$info" | sed -n 's/.*JobState=\\([A-Z_]*\\).*/\\1/p')
  ec=$(printf '%s\\n' "$info" | sed -n 's/.* ExitCode=\\([0-9:]*\\).*/\\1/p')
  nodes=$(printf '%s\\n' "$info" | sed -n 's/.* NodeList=\\([^ ]*\\).*/\\1/p')
  if [ -z "$st" ]; then
    acct=$(sacct -n -P -X -j "$job" -o State,ExitCode,NodeList 2>/dev/null | head -n 1)
    st=$(printf '%s' "$acct" | cut -d'|' -f1 | cut -d' ' -f1)
    ec=$(printf '%s' "$acct" | cut -d'|' -f2)
    nodes=$(printf '%s' "$acct" | cut -d'|' -f3)
  fi
  line="\${st:-UNKNOWN} None \${nodes:--} \${ec:--}"
}
while :; do
  state
  if [ "$line" != "$last" ]; then echo "regscope-slurm $line" >&2; last=$line; fi
  drain
  case "\${line%% *}" in
    PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESIZING|SIGNALING|STAGE_OUT) sleep 1 ;;
    *) drain; exit 0 ;;
  esac
done
`;

/** One state line of follow.sh. */
export interface SlurmState {
  readonly state: string;
  readonly reason: string;
  readonly nodes: string;
  /** `3:0` (exit code : signal) once the job has ended, else '-'. */
  readonly exitCode: string;
}

export function parseStateLine(line: string): SlurmState | undefined {
  const m = /^regscope-slurm (\S+) (\S+) (\S+) (\S+)$/.exec(line.trim());
  return m ? { state: m[1]!, reason: m[2]!, nodes: m[3]!, exitCode: m[4]! } : undefined;
}
