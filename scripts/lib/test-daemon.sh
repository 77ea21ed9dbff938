# Shared by scripts/test-sshd.sh and scripts/test-slurm.sh (sourced, not run): argument checks
# and a zombie-aware liveness test. The caller sets NAME (for messages) and WHERE (what DIR is
# written into) before sourcing.

die() { echo "$NAME: $*" >&2; exit 1; }
usage() { echo "usage: $0 start|stop DIR   (DIR: absolute path)" >&2; exit 2; }

# DIR is written into configuration files that split on whitespace and treat % and " specially.
check_dir() {
  [[ $1 == /* ]] || die "DIR must be an absolute path, got: $1"
  [[ $1 =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "DIR may only contain letters, digits and ._/+- (it is written into $WHERE): $1"
}

# True while process $1 exists and is not a zombie. (In some containers pid 1 reaps orphans
# only every second or two, and kill -0 succeeds on a zombie.)
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# A random port in 20000-59999 that nothing listens on now and that is not in "$@". A daemon
# may still lose it to another process before it binds; the callers retry or fail clearly.
free_port() {
  local used p i
  used=$(ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    grep -qx "$p" <<<"$used" && continue
    [[ " $* " == *" $p "* ]] && continue
    echo "$p"
    return 0
  done
  die "could not find a free TCP port"
}
