#!/bin/sh
# Runs as the first process of fresh mount, network, IPC and PID namespaces (see confinement.py):
#   sandbox.sh WORKDIR UID READ_ONLY_PATH... -- [COMMAND...]
# Builds a new root on a tmpfs that holds only each READ_ONLY_PATH (bound read-only at its
# own path; a symbolic link is copied as a link), a minimal /dev, a fresh /proc, and WORKDIR,
# /tmp and /dev/shm as private, empty, writable tmpfs; moves into it with pivot_root and
# detaches the old root, so that nothing else of the machine can be reached; then runs
# COMMAND there, if any (which drops every capability, and becomes UID where one is given,
# not "-": the work folder belongs to it). Without a COMMAND it exits: the process that
# started it, the first of the namespaces, has moved into the new root with it and goes on
# there (pivot_root moves every process of the mount namespace that was at the old root).
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin  # mount and pivot_root live in sbin, which the caller's PATH may lack
workdir="$1"
uid="$2"
shift 2
root="$workdir"  # the new root is built on a tmpfs mounted over the work folder
mount -t tmpfs -o size=16m,mode=755 sandbox-root "$root"
# /tmp and /dev/shm first: what is bound below them (a package in /tmp) must stay visible.
mkdir -p "$root/tmp" "$root/dev/shm"
mount -t tmpfs -o size=64m,mode=1777 sandbox-tmp "$root/tmp"
mount -t tmpfs -o size=64m,mode=1777 sandbox-shm "$root/dev/shm"

bind_read_only() {
    if [ -d "$1" ]; then
        mkdir -p "$root$1"
    else
        mkdir -p "$root$(dirname "$1")"
        : > "$root$1"
    fi
    mount --bind "$1" "$root$1"
    # A mount's nosuid/nodev/noexec may be locked (user namespaces): keep them rather than fail.
    mount -o remount,bind,ro,nosuid,nodev "$root$1" 2>/dev/null \
        || mount -o remount,bind,ro,nosuid,nodev,noexec "$root$1"
}

while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    if [ -L "$1" ]; then
        mkdir -p "$root$(dirname "$1")"
        ln -s "$(readlink "$1")" "$root$1"
    elif [ -e "$1" ]; then
        bind_read_only "$1"
    fi
    shift
done
shift

mkdir -p "$root/proc" "$root/.old-root"
for device in null zero full random urandom; do
    : > "$root/dev/$device"
    mount --bind "/dev/$device" "$root/dev/$device"
done
ln -s /proc/self/fd "$root/dev/fd"
# An NVIDIA GPU, where there is one, so that --device cuda trains there: its device nodes,
# and /sys (read-only) for the driver's library to find it.
for device in /dev/nvidia*; do
    if [ -d "$device" ]; then
        mkdir -p "$root$device"
    elif [ -e "$device" ]; then
        : > "$root$device"
    else
        continue
    fi
    mount --bind "$device" "$root$device"
done
if [ -e /dev/nvidiactl ]; then
    bind_read_only /sys
fi
owner=""
if [ "$uid" != "-" ]; then
    owner=",uid=$uid,gid=$uid"
fi
mkdir -p "$root$workdir"
mount -t tmpfs -o "size=512m,mode=700$owner" sandbox-work "$root$workdir"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"

cd "$root"
pivot_root . .old-root
umount -l /.old-root
mount -o remount,ro,bind / 2>/dev/null || mount -o remount,ro /
cd "$workdir"
if touch /.sandbox-write-test 2>/dev/null || ! touch "$workdir/.sandbox-write-test" 2>/dev/null; then
    echo "sandbox: could not make the new root read-only with a writable work folder" >&2
    exit 97
fi
rm -f "$workdir/.sandbox-write-test"
exec "$@"
