#!/usr/bin/env bash
# The out-of-tree template plugin builds against the installed SDK alone and passes `rnnhost validate`.
set -euo pipefail
meson=$1 build_root=$2 src_root=$3 prefix=$4 libdir=$5
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

"$meson" install -C "$build_root" --destdir "$root" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL: meson install into a temporary root"; exit 1; }
for f in "$root$prefix/bin/rnnhost" "$root$libdir/pkgconfig/rnnhost-sdk.pc" \
         "$root$prefix/include/rnnhost/rnnhost.h" "$root$libdir/rnnhost/plugins/gru.so"; do
  [ -e "$f" ] || { echo "FAIL: not installed: ${f#"$root"}"; exit 1; }
done

# Only the installed tree: the SDK's .pc from the temporary root (sysroot-prefixed), the system's .pc
# files for what it requires, the installed rnnhost on PATH.
export PKG_CONFIG_LIBDIR="$root$libdir/pkgconfig:$(pkg-config --variable pc_path pkg-config)"
export PKG_CONFIG_SYSROOT_DIR=$root
unset PKG_CONFIG_PATH
export PATH="$root$prefix/bin:$PATH"
export LD_LIBRARY_PATH="$root$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset CFLAGS LDFLAGS

# A plugin author copies the template somewhere of their own.
cp -r "$src_root/sdk/examples/lstm" "$tmp/lstm"
rm -rf "$tmp/lstm/build"
cd "$tmp/lstm"
"$meson" setup build >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; echo "FAIL: template setup"; exit 1; }
grep -q 'Run-time dependency rnnhost-sdk found: YES' "$tmp/setup.log" ||
  { cat "$tmp/setup.log"; echo "FAIL: rnnhost-sdk not found through pkg-config"; exit 1; }
grep -q 'Program rnnhost found: YES' "$tmp/setup.log" ||
  { cat "$tmp/setup.log"; echo "FAIL: the installed rnnhost is not on PATH"; exit 1; }
"$meson" compile -C build >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; echo "FAIL: template build"; exit 1; }
[ -f build/lstm.so ] || { echo "FAIL: build/lstm.so not built"; exit 1; }

# Its own meson test runs the conformance suite; show the validator's report either way.
if ! "$meson" test -C build >"$tmp/test.log" 2>&1; then
  cat "$tmp/test.log" build/meson-logs/testlog.txt 2>/dev/null | tail -n 80
  echo "FAIL: rnnhost validate failed on the template plugin"
  exit 1
fi
grep -E '^(PASS|FAIL) ' build/meson-logs/testlog.txt || true
grep -q '^PASS gradients' build/meson-logs/testlog.txt ||
  { echo "FAIL: the validator's report has no passing gradients check"; exit 1; }
echo "template plugin: built against the installed SDK and validated"
