#!/bin/sh
# Runs as the first process of fresh mount, network and PID namespaces (see isolation.py):
#   sandbox.sh WORKDIR HIDDEN_PATH... -- COMMAND...
# Every mount becomes read-only; WORKDIR and /dev/shm become private, empty and writable;
# each HIDDEN_PATH is covered by an empty read-only directory; COMMAND runs without any
# capability, so it can neither undo this nor raise its privileges again.
set -eu
workdir="$1"
shift
for mount_point in $(awk '{ print $2 }' /proc/self/mounts | sort -u); do
    case "$mount_point" in
        /proc | /proc/* | /dev | /dev/pts | /dev/mqueue) ;;
        *) mount -o remount,bind,ro "$mount_point" 2>/dev/null || true ;;
    esac
done
if touch "$workdir/.sandbox-write-test" 2>/dev/null; then
    echo "sandbox: could not make the file system read-only" >&2
    exit 97
fi
mount -t tmpfs -o size=512m,mode=700 tmpfs "$workdir"
mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    if [ -d "$1" ]; then
        mount -t tmpfs -o ro,size=4k,mode=555 tmpfs "$1"
    elif [ -e "$1" ]; then
        mount --bind /dev/null "$1"
    fi
    shift
done
shift
cd "$workdir"
export TMPDIR="$workdir"
exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs "$@"
