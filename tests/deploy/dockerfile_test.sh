#!/usr/bin/env bash
# deploy/Dockerfile cannot be built here (no container engine), so this test
# checks what a build would run:
#  1. the build stage's RUN lines are exactly the project's own commands:
#     scripts/setup.sh (which ./scripts/test.sh runs first), the Bazel build
#     of //agent:tallyd //client:tallyctl (this test's own inputs), and
#     deploy/collect-runtime.sh;
#  2. the runtime stage is FROM scratch plus what collect-runtime.sh staged;
#  3. collect-runtime.sh, run with the Dockerfile's own arguments on the
#     binaries Bazel just built, stages both binaries and exactly the shared
#     libraries ldd lists for them, and the staged binaries run with only
#     those (the staged loader, no ld.so.cache, no host library paths; as
#     root also chrooted into the staged tree).
set -euo pipefail
runfiles=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-tally}
dockerfile=$runfiles/deploy/Dockerfile
# The source tree, for scripts/test.sh (not a Bazel input of this package).
workspace=$(cd "$(dirname "$(readlink -f "$dockerfile")")/.." && pwd)
tmp=$(mktemp -d /tmp/tally-image-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Instructions as "STAGE<TAB>INSTRUCTION<TAB>ARGUMENTS", continuation lines
# joined, comments and blank lines dropped.
sed -e 's/\r$//' "$dockerfile" | awk '
  /^[[:space:]]*#/ && !cont { next }
  /^[[:space:]]*$/ && !cont { next }
  {
    line = cont ? line " " $0 : $0
    if (line ~ /\\$/) { sub(/\\$/, "", line); cont = 1; next }
    cont = 0
    gsub(/[[:space:]]+/, " ", line); sub(/^ /, "", line); sub(/ $/, "", line)
    split(line, w, " ")
    op = toupper(w[1]); args = substr(line, length(w[1]) + 2)
    if (op == "FROM") stage++
    printf "%d\t%s\t%s\n", stage, op, args
  }' >"$tmp/instructions"

stage_of() { awk -F'\t' -v s="$1" '$1 == s' "$tmp/instructions"; }
[[ $(awk -F'\t' '$2 == "FROM"' "$tmp/instructions" | wc -l) == 2 ]] ||
  fail "expected two stages (build, runtime): $(cat "$tmp/instructions")"

# 1. The build stage.
[[ $(stage_of 1 | head -1 | cut -f3) == "debian:bookworm AS build" ]] ||
  fail "the build stage must be FROM debian:bookworm AS build"
expected_runs=(
  "./scripts/setup.sh"
  "bazel build //agent:tallyd //client:tallyctl"
  "./deploy/collect-runtime.sh /runtime bazel-bin/agent/tallyd bazel-bin/client/tallyctl"
)
mapfile -t runs < <(stage_of 1 | awk -F'\t' '$2 == "RUN" { print $3 }')
if [[ "${runs[*]}" != "${expected_runs[*]}" ]]; then
  fail "build stage RUN lines are not the project's scripts:
$(printf '  %s\n' "${runs[@]}")
expected:
$(printf '  %s\n' "${expected_runs[@]}")"
fi
other=$(stage_of 1 | awk -F'\t' '$2 != "FROM" && $2 != "RUN" && $2 != "WORKDIR" && $2 != "COPY"')
[[ -z $other ]] || fail "unexpected build stage instructions: $other"
grep -qx 'COPY . .' <(stage_of 1 | awk -F'\t' '$2 == "COPY" { print "COPY " $3 }') ||
  fail "the build stage must COPY the whole source tree"
grep -q '^\./scripts/setup\.sh$' "$workspace/scripts/test.sh" ||
  fail "scripts/test.sh no longer runs ./scripts/setup.sh, which the image build relies on"
echo "ok: build stage runs ${#runs[@]} project commands"

# 2. The runtime stage: nothing but the staged tree.
[[ $(stage_of 2 | head -1 | cut -f3) == scratch ]] || fail "the runtime stage must be FROM scratch"
[[ -z $(stage_of 2 | awk -F'\t' '$2 == "RUN"') ]] || fail "the runtime stage has no shell: no RUN"
[[ $(stage_of 2 | awk -F'\t' '$2 == "COPY" { print $3 }') == "--from=build /runtime/ /" ]] ||
  fail "the runtime stage must copy exactly /runtime/ from the build stage"
grep -qF 'ENTRYPOINT ["/usr/local/bin/tallyd"]' <(stage_of 2 | awk -F'\t' '{ print $2 " " $3 }') ||
  fail 'the runtime stage must have ENTRYPOINT ["/usr/local/bin/tallyd"]'
echo "ok: runtime stage is scratch + the staged tree"

# 3. The collect-runtime.sh line, as the Dockerfile runs it, in a tree laid
# out like the build stage's /src.
mkdir -p "$tmp/src/deploy" "$tmp/src/bazel-bin/agent" "$tmp/src/bazel-bin/client"
cp "$runfiles/deploy/collect-runtime.sh" "$tmp/src/deploy/"
ln -s "$(readlink -f "$runfiles/agent/tallyd")" "$tmp/src/bazel-bin/agent/tallyd"
ln -s "$(readlink -f "$runfiles/client/tallyctl")" "$tmp/src/bazel-bin/client/tallyctl"
staging=$tmp/runtime
collect=${expected_runs[2]//\/runtime/$staging}
(cd "$tmp/src" && eval "$collect") || fail "$collect failed"

for bin in tallyd tallyctl; do
  [[ -x $staging/usr/local/bin/$bin ]] || fail "$bin was not staged"
done
# Every library ldd lists is staged at the same path...
for bin in "$tmp/src/bazel-bin/agent/tallyd" "$tmp/src/bazel-bin/client/tallyctl"; do
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u >"$tmp/needed"
(($(wc -l <"$tmp/needed") > 5)) || fail "ldd listed almost nothing: $(cat "$tmp/needed")"
while read -r lib; do
  [[ -f $staging$lib ]] || fail "$lib (from ldd) is missing from the image"
done <"$tmp/needed"
# ...and nothing else is.
(cd "$staging" && find . -type f -o -type l | sed 's|^\.||' | sort) >"$tmp/staged"
extra=$(grep -vxF -f "$tmp/needed" "$tmp/staged" |
        grep -vxE '/usr/local/bin/(tallyd|tallyctl)|/etc/nsswitch\.conf' || true)
[[ -z $extra ]] || fail "the image holds files nothing needs: $extra"
echo "ok: $(wc -l <"$tmp/needed") libraries staged, exactly those ldd lists"

# The staged binaries run on the staged libraries alone (each --help prints
# a line only the real program prints, not a loader error naming it).
declare -A marker=([tallyd]="Serves tally.v1.Agent" [tallyctl]="usage: tallyctl")
loader=$(grep -m1 '/ld-linux' "$tmp/needed") || fail "no dynamic loader in ldd output"
libpath=$(grep -v '/ld-linux' "$tmp/needed" | xargs -n1 dirname | sort -u | sed "s|^|$staging|" | paste -sd:)
for bin in tallyd tallyctl; do
  out=$(env -i "$staging$loader" --inhibit-cache --library-path "$libpath" \
        "$staging/usr/local/bin/$bin" --help 2>&1) || true
  grep -qF "${marker[$bin]}" <<<"$out" || fail "staged $bin --help did not run: $out"
done
if [[ $(id -u) -eq 0 ]]; then
  for bin in tallyd tallyctl; do
    listing=$(chroot "$staging" "$loader" --list "/usr/local/bin/$bin" 2>&1) ||
      fail "chroot $bin: $listing"
    ! grep -q 'not found' <<<"$listing" || fail "chrooted $bin misses libraries: $listing"
    out=$(chroot "$staging" "/usr/local/bin/$bin" --help 2>&1) || true
    grep -qF "${marker[$bin]}" <<<"$out" || fail "chrooted $bin --help did not run: $out"
  done
  echo "ok: both binaries run chrooted into the staged tree"
else
  echo "ok: both binaries run on the staged libraries (chroot check needs root)"
fi
