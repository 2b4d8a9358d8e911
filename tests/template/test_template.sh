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
         "$root$prefix/include/rnnhost/rnnhost.h" "$root$libdir/rnnhost/plugins/gru.so" \
         "$root$libdir/rnnhost/plugins/lstm.so" "$root$libdir/pkgconfig/rnnhost-kit.pc" \
         "$root$libdir/librnnhost-kit.a" "$root$prefix/include/rnnhost/kit/cell.h"; do
  [ -e "$f" ] || { echo "FAIL: not installed: ${f#"$root"}"; exit 1; }
done

# Only the installed tree, found as the README tells a plugin author: PKG_CONFIG_PATH names the SDK's
# pkgconfig folder (its .pc file is relocatable: no sysroot, wherever the tree lies), the installed
# rnnhost is on PATH.
for pc in rnnhost-sdk rnnhost-kit; do
  grep -q '^prefix=${pcfiledir}/' "$root$libdir/pkgconfig/$pc.pc" ||
    { cat "$root$libdir/pkgconfig/$pc.pc"; echo "FAIL: $pc.pc does not name its prefix relative to itself"; exit 1; }
done
export PKG_CONFIG_PATH="$root$libdir/pkgconfig"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
system_path=$PATH
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
grep -q 'Run-time dependency rnnhost-kit found: YES' "$tmp/setup.log" ||
  { cat "$tmp/setup.log"; echo "FAIL: rnnhost-kit (the cell kit) not found through pkg-config"; exit 1; }
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

# Without rnnhost on PATH the plugin's own `meson test` must fail and say why, not pass having run nothing.
if PATH=$system_path command -v rnnhost >/dev/null; then
  echo "note: an rnnhost is installed on the system PATH; the template's test without rnnhost is not run"
else
  PATH=$system_path "$meson" setup build-without >"$tmp/setup-without.log" 2>&1 ||
    { cat "$tmp/setup-without.log"; echo "FAIL: template setup without rnnhost on PATH"; exit 1; }
  grep -q 'rnnhost was not on PATH' "$tmp/setup-without.log" ||
    { cat "$tmp/setup-without.log"; echo "FAIL: setup without rnnhost does not warn"; exit 1; }
  if PATH=$system_path "$meson" test -C build-without >"$tmp/test-without.log" 2>&1; then
    cat "$tmp/test-without.log"
    echo "FAIL: the template's meson test passed without rnnhost to validate the plugin"
    exit 1
  fi
  grep -q 'FAIL: rnnhost was not on PATH' build-without/meson-logs/testlog.txt ||
    { cat "$tmp/test-without.log"; echo "FAIL: the failing test does not say that rnnhost is missing"; exit 1; }
  echo "template plugin without rnnhost on PATH: its meson test fails and says why"
fi
echo "template plugin: built against the installed SDK and validated"
