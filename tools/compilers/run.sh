#!/usr/bin/env bash
# The engine's tests and the inference sketch with the other avr-gcc versions a student may
# have (issue 19, part 3): Ubuntu 24.04's gcc-avr 7.3 (Binder's image; the Arduino IDE and
# arduino-cli install a build of 7.3 of their own, not measured) and Debian 13's gcc-avr 14.2,
# beside this machine's own avr-gcc.
#
#   sudo make compilers                          (runs: tools/compilers/run.sh --write)
#   sudo tools/compilers/run.sh [--suites "trixie noble"] [--prepare-only] [--write [FILE]] [--limit N]
#
# --prepare-only makes the chroots and stops (e.g. while a network is at hand); the other
# options go to measure.py.
#
# Each other compiler comes from a chroot made once with debootstrap (the only step that needs
# the network; 360 MB (noble) and 670 MB (trixie) on disk, cached in
# ~/.cache/tinylab/chroots/SUITE).
# Small wrapper scripts named like the tools (avr-gcc, avr-g++, avr-size, ...) run the chroot's
# tool in the current folder; put first on PATH, they stand in for this machine's toolchain, so
# TinyLab and the tests use them unchanged. The chroot sees this machine's /tmp, the repository
# and /usr/share/arduino (the Arduino AVR core) at the same paths, bind-mounted in a mount
# namespace of this run's own: the mounts vanish with it, however it ends (and a trap unmounts
# them too), and nothing outside this run ever sees them.
#
# Then tools/compilers/measure.py runs, for each compiler, the engine's tests that compile C
# for the AVR (tests/test_engine.py, tests/test_engine_cnn.py) and the 64-32-10 student's
# inference sketch on the virtual Uno; it prints JSON and, with --write, rewrites the
# compilers section of docs/benchmarks.md. Not part of `make test`: it needs root and, once,
# the network.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
CACHE=${TINYLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tinylab}
CHROOTS=${TINYLAB_CHROOTS:-$CACHE/chroots}
SUITES=${TINYLAB_COMPILER_SUITES:-"trixie noble"}
PREPARE_ONLY=0
PACKAGES="gcc-avr,avr-libc,binutils-avr"
DEBIAN_MIRROR=http://deb.debian.org/debian
UBUNTU_MIRROR=http://archive.ubuntu.com/ubuntu
# The Ubuntu archive's signing key (2018), as its keyring package ubuntu-keyring lists it: the
# keyring is fetched from the archive with the packages, so only this fingerprint is trusted.
UBUNTU_ARCHIVE_KEY=F6ECB3762474EDA9D21B7022871920D1991BC93C
UBUNTU_KEYRING_DEB=pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb
# Time limits, in seconds, with room to spare: on 2 cores of an AMD EPYC with a fast mirror,
# both chroots were made in 1.5 min, and a run took 2.5 min (the engine's tests 45 s per
# compiler, the student's nine firmwares on the virtual Uno the rest).
NETWORK_TIMEOUT=30
APT_TIMEOUT=600
DEBOOTSTRAP_TIMEOUT=1800
MEASURE_TIMEOUT=5400

say() { echo "make compilers: $*"; }
fail() { echo "make compilers: $*" >&2; exit 1; }

# suite -> "label|mirror|components|debootstrap script" (the script: Debian 12's debootstrap
# has none named noble; Ubuntu suites all use its gutsy script).
suite_info() {
  case "$1" in
    trixie) echo "Debian 13 (trixie)|${TINYLAB_DEBIAN_MIRROR:-$DEBIAN_MIRROR}|main|" ;;
    noble) echo "Ubuntu 24.04 (noble)|${TINYLAB_UBUNTU_MIRROR:-$UBUNTU_MIRROR}|main,universe|gutsy" ;;
    *) return 1 ;;
  esac
}

# ------------------------------------------------------------------ outside: check, make chroots

outside() {
  if [ "$(id -u)" != 0 ]; then
    say "needs root (debootstrap, chroot and bind mounts do). Run it as:"
    echo "  sudo make compilers"
    exit 1
  fi
  for tool in chroot unshare mount umount timeout wget gpg; do
    command -v "$tool" >/dev/null ||
      fail "$tool is missing (Debian's coreutils, util-linux, wget and gpg packages have them)"
  done
  [ -x "$PYTHON" ] || fail "no $PYTHON: run \`make setup\` first (\`make compilers\` does)"
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null ||
      fail "debootstrap is missing and this is no Debian/Ubuntu system; install debootstrap"
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive timeout --foreground "$APT_TIMEOUT" \
      apt-get install -y -qq debootstrap >/dev/null ||
      fail "could not install debootstrap (sudo apt-get install -y debootstrap; no network?)"
  fi
  local ready=() missing=() suite
  for suite in $SUITES; do
    suite_info "$suite" >/dev/null || fail "unknown suite $suite (known: trixie noble)"
    if reason=$(make_chroot "$suite"); then
      ready+=("$suite")
    else
      missing+=("$suite=$reason")
      echo "$reason" >&2
    fi
  done
  if [ "$PREPARE_ONLY" = 1 ]; then
    say "chroots ready: ${ready[*]:-none}"
    [ ${#missing[@]} = 0 ]
    return
  fi
  local arguments=("$@")
  for item in "${missing[@]}"; do arguments+=(--unavailable "$item"); done
  # The rest runs in a mount namespace of its own (private mounts: gone when it ends).
  exec unshare --mount --propagation private -- "$0" --inside "${ready[*]}" "${arguments[@]}"
}

# Prints a reason and fails when the chroot cannot be made; prints nothing when it is ready.
make_chroot() {
  local suite=$1 root="$CHROOTS/$1" label mirror components script info
  info=$(suite_info "$suite")
  IFS='|' read -r label mirror components script <<<"$info"
  if [ -f "$root/.tinylab-ready" ] && [ -x "$root/usr/bin/avr-gcc" ]; then
    return 0
  fi
  local partial="$root.partial"
  if grep -q " $partial/" /proc/mounts; then
    echo "$label: something is still mounted under $partial; unmount it first"; return 1
  fi
  if ! timeout "$NETWORK_TIMEOUT" wget -q -O /dev/null "$mirror/dists/$suite/Release"; then
    echo "$label: cannot reach $mirror (no network, or it needs a proxy: set http_proxy);" \
      "its chroot is made once from there, then cached in $root"
    return 1
  fi
  rm -rf --one-file-system "$partial"
  mkdir -p "$partial"
  local keyring=()
  if [ "$suite" = noble ]; then
    keyring=(--keyring="$partial.keyring.gpg")
    if ! ubuntu_keyring "$mirror" "$partial.keyring.gpg" >&2; then
      echo "$label: could not get the Ubuntu archive's signing key ($UBUNTU_ARCHIVE_KEY)" \
        "from $mirror"
      return 1
    fi
  fi
  say "making the $label chroot in $root (once; a few minutes)" >&2
  # In a mount namespace of its own: what debootstrap mounts (proc, sys) cannot outlive it.
  if ! timeout --foreground -k 30 "$DEBOOTSTRAP_TIMEOUT" unshare --mount --propagation private -- \
      debootstrap --variant=minbase --components="$components" --include="$PACKAGES" \
      "${keyring[@]}" "$suite" "$partial" "$mirror" \
      ${script:+/usr/share/debootstrap/scripts/$script} \
      >"$partial.log" 2>&1; then
    tail -n 5 "$partial.log" >&2
    echo "$label: debootstrap failed or took over $DEBOOTSTRAP_TIMEOUT s (log: $partial.log)"
    return 1
  fi
  if [ ! -x "$partial/usr/bin/avr-gcc" ]; then
    echo "$label: the chroot was made but has no avr-gcc (log: $partial.log)"; return 1
  fi
  chroot "$partial" dpkg-query -W gcc-avr avr-libc binutils-avr >"$partial/.tinylab-ready"
  rm -rf --one-file-system "$root"
  mv "$partial" "$root"
  rm -f "$partial.log" "$partial.keyring.gpg"
}

# The Ubuntu archive key alone, from the ubuntu-keyring package, checked by its fingerprint.
ubuntu_keyring() {
  local mirror=$1 out=$2 work
  work=$(mktemp -d)
  timeout "$NETWORK_TIMEOUT" wget -q -O "$work/keyring.deb" "$mirror/$UBUNTU_KEYRING_DEB" \
    && dpkg-deb -x "$work/keyring.deb" "$work/x" \
    && gpg --quiet --batch --no-default-keyring --keyring "$work/all.gpg" \
         --import "$work/x/usr/share/keyrings/ubuntu-archive-keyring.gpg" 2>/dev/null \
    && gpg --quiet --batch --no-default-keyring --keyring "$work/all.gpg" \
         --export "$UBUNTU_ARCHIVE_KEY" >"$out" \
    && [ "$(gpg --batch --show-keys --with-colons "$out" 2>/dev/null | grep -c "^fpr:::::::::$UBUNTU_ARCHIVE_KEY:")" = 1 ]
  local status=$?
  rm -rf "$work"
  return $status
}

# ------------------------------------------------------------------ inside: mounts, wrappers, run

inside() {
  local suites=$1; shift
  WORK=$(mktemp -d /tmp/tinylab-compilers.XXXXXX)
  MOUNTED=()
  CHILD=
  trap cleanup EXIT
  trap 'stop_child; exit 130' INT TERM HUP
  local measure=("$@") suite root
  for suite in $suites; do
    root="$CHROOTS/$suite"
    bind /tmp "$root" rw
    case "$REPO/" in /tmp/*) ;; *) bind "$REPO" "$root" ro ;; esac
    bind /usr/share/arduino "$root" ro
    wrappers "$root" "$WORK/bin-$suite"
    measure+=(--chroot "$suite=$root=$WORK/bin-$suite")
  done
  cd "$REPO"
  local status=0
  # In the background, waited for: a signal to this script then stops it (the trap) at once.
  TINYLAB_WORKSPACE=$WORK/workspace PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg \
    timeout -k 30 "$MEASURE_TIMEOUT" "$PYTHON" tools/compilers/measure.py --work "$WORK" \
    "${measure[@]}" &
  CHILD=$!
  wait "$CHILD" || status=$?
  CHILD=
  if [ "$status" = 124 ]; then
    echo "make compilers: the run took over $MEASURE_TIMEOUT s and was stopped" >&2
  fi
  return $status
}

bind() {  # bind SOURCE ROOT rw|ro: SOURCE at the same path inside ROOT
  local source=$1 target="$2$1"
  mkdir -p "$target"
  mount --bind "$source" "$target"
  MOUNTED+=("$target")
  if [ "$3" = ro ]; then
    mount -o remount,bind,ro "$target" || say "(could not make $target read-only; going on)"
  fi
}

stop_child() {  # timeout passes the TERM on to measure.py, which stops what it started
  if [ -n "${CHILD:-}" ]; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
}

cleanup() {
  local index
  for ((index = ${#MOUNTED[@]} - 1; index >= 0; index--)); do
    umount "${MOUNTED[index]}" 2>/dev/null || umount -l "${MOUNTED[index]}" 2>/dev/null || true
  done
  [ -n "${WORK:-}" ] && rm -rf --one-file-system "$WORK"
}

wrappers() {  # wrappers ROOT FOLDER: one script per avr-* tool of the chroot
  local root=$1 folder=$2 tool name chroot shared
  chroot=$(command -v chroot)
  shared="/tmp/*|$REPO/*|/usr/share/arduino/*"   # what inside() binds into the chroot
  mkdir -p "$folder"
  for tool in "$root"/usr/bin/avr-*; do
    name=$(basename "$tool")
    cat >"$folder/$name" <<EOF
#!/bin/sh
# $name of the chroot $root, run in the current folder (tools/compilers/run.sh wrote this).
here=\$(pwd -P)
case "\$here/" in
  $shared) ;;
  *) echo "$name (chroot $root): the folder \$here is not shared with the chroot;" \
       "work under /tmp or $REPO" >&2
     exit 2 ;;
esac
exec $chroot "$root" /usr/bin/env -C "\$here" -u LD_LIBRARY_PATH -u GCC_EXEC_PREFIX \\
  -u COMPILER_PATH -u LIBRARY_PATH -u CPATH -u C_INCLUDE_PATH -u CPLUS_INCLUDE_PATH \\
  PATH=/usr/bin:/bin /usr/bin/$name "\$@"
EOF
    chmod +x "$folder/$name"
  done
}

if [ "${1:-}" = --inside ]; then
  shift
  inside "$@"
else
  while [ $# -gt 0 ]; do
    case "$1" in
      --suites) SUITES=$2; shift 2 ;;
      --prepare-only) PREPARE_ONLY=1; shift ;;
      *) break ;;
    esac
  done
  outside "$@"
fi
