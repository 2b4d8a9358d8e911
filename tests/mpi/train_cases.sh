#!/usr/bin/env bash
# rnnhost train on two ranks (mpirun --oversubscribe -np 2, loopback) against one process.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"

# mpi2 CMD...: CMD on two ranks; stdout, stderr and rc as run gives them.
mpi2() { run "$MPIRUN" --oversubscribe -np 2 "$@"; }

need_mpirun() {
    [ -n "$MPIRUN" ] || { fail "mpirun is not installed (.ci/install-deps installs openmpi-bin)"; finish_now; }
}

finish "$1"
