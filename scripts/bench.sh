#!/usr/bin/env bash
# Benchmarks tfmono's history import against the usual recipe (git clone + git filter-repo
# --to-subdirectory-filter + fetch + merge --allow-unrelated-histories), on the same
# generated repos, in one run. A benchmark, not a test: it prints figures and the targets.
#
#   scripts/bench.sh [--quick]
#
# Corpus A: every generated repo but the big one (default 50 extra repos of 1,000 commits
# plus the demo org's 22 repos). Corpus B: the big repo alone (default 50,000 commits).
# --quick: 10 x 200 commits + 5,000. Environment: REPOS, COMMITS, BIG override the sizes;
# RUNS (default 3) how many times tfmono apply runs per corpus (the median counts);
# BENCH_DIR the work dir (default: a new mktemp -d; must be empty or absent); KEEP=1 keeps
# it; CARGO_TARGET_DIR is respected. Needs cargo, git, python3 (pip installs
# git-filter-repo into the work dir; no root needed).
set -euo pipefail
export LC_ALL=C

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'bench.sh: %s\n' "$*" >&2
  exit 2
}

# ---------------------------------------------------------------------------------------
# The recipe, as people run it, one repo after the other. Invoked as
#   bench.sh __recipe JOBS DEST
# under /usr/bin/time. JOBS: one line per import, tab-separated:
#   monorepo repo git_dir path tag_prefix default_branch refspecs(space-separated)
# DEST gets clones/<repo> and <monorepo>/ (non-bare, with a work tree).
recipe() {
  local jobs=$1 dest=$2
  local mono repo git_dir path prefix default refspecs clone
  mkdir -p "$dest/clones"
  while IFS=$'\t' read -r mono repo git_dir path prefix default refspecs; do
    if [[ ! -d "$dest/$mono/.git" ]]; then
      git init --quiet "$dest/$mono"
      git -C "$dest/$mono" commit --quiet --allow-empty -m "Initial commit"
    fi
    clone="$dest/clones/$repo"
    git clone --quiet --no-local "$git_dir" "$clone"
    (cd "$clone" && git filter-repo --quiet --force \
      --to-subdirectory-filter "$path" --tag-rename ":$prefix")
    local -a specs
    read -r -a specs <<<"$refspecs"
    git -C "$dest/$mono" fetch --quiet --no-auto-gc "$clone" "${specs[@]}" '+refs/tags/*:refs/tags/*'
    git -C "$dest/$mono" merge --quiet --allow-unrelated-histories --no-edit \
      -m "Import $repo into $path/" "refs/heads/import/$repo/$default"
  done <"$jobs"
}

if [[ "${1:-}" == "__recipe" ]]; then
  [[ $# -eq 3 ]] || die "usage: bench.sh __recipe JOBS DEST"
  recipe "$2" "$3"
  exit 0
fi

# ---------------------------------------------------------------------------------------
QUICK=
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h | --help)
      sed -n '2,14s/^# \{0,1\}//p' "$SCRIPT"
      exit 0
      ;;
    *) die "unknown argument '$arg' (usage: scripts/bench.sh [--quick]; sizes via REPOS, COMMITS, BIG)" ;;
  esac
done
if [[ -n "$QUICK" ]]; then
  REPOS=${REPOS:-10} COMMITS=${COMMITS:-200} BIG=${BIG:-5000}
else
  REPOS=${REPOS:-50} COMMITS=${COMMITS:-1000} BIG=${BIG:-50000}
fi
RUNS=${RUNS:-3}
for v in REPOS COMMITS BIG RUNS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((BIG > 0)) || die "BIG must be > 0: corpus B is the big repo"
((RUNS > 0)) || die "RUNS must be > 0"

for tool in cargo git python3 awk; do
  command -v "$tool" >/dev/null || die "'$tool' is not on PATH; install it first"
done

cd "$(dirname "$SCRIPT")/.."
ROOT=$PWD

# The work dir and its cleanup.
if [[ -n "${BENCH_DIR:-}" ]]; then
  if [[ -e "$BENCH_DIR" ]] && [[ -n "$(ls -A "$BENCH_DIR")" ]]; then
    die "BENCH_DIR=$BENCH_DIR is not empty; give an empty or new directory"
  fi
  mkdir -p "$BENCH_DIR"
  WORK=$(cd "$BENCH_DIR" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/tfmono-bench.XXXXXX")
fi
cleanup() {
  local status=$?
  if [[ "${KEEP:-}" == 1 ]]; then
    say "kept the work dir $WORK"
  else
    rm -rf "$WORK"
    if ((status != 0)); then
      say "failed (exit $status); rerun with KEEP=1 to inspect the work dir"
    fi
  fi
}
trap cleanup EXIT
mkdir -p "$WORK/logs"

# Hermetic git: no system config, our own global config.
export GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL="$WORK/gitconfig"
git config --file "$GIT_CONFIG_GLOBAL" user.name "tfmono bench"
git config --file "$GIT_CONFIG_GLOBAL" user.email "bench@example.com"
git config --file "$GIT_CONFIG_GLOBAL" init.defaultBranch main
git config --file "$GIT_CONFIG_GLOBAL" advice.detachedHead false
export GIT_AUTHOR_NAME="tfmono bench" GIT_AUTHOR_EMAIL="bench@example.com"
export GIT_COMMITTER_NAME="tfmono bench" GIT_COMMITTER_EMAIL="bench@example.com"
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"

# ---------------------------------------------------------------------------------------
say "building tfmono (cargo build --release)"
cargo build --release --quiet
TARGET=${CARGO_TARGET_DIR:-target}
[[ "$TARGET" == /* ]] || TARGET="$ROOT/$TARGET"
TFMONO="$TARGET/release/tfmono"
[[ -x "$TFMONO" ]] || die "no binary at $TFMONO after cargo build --release"

say "installing git-filter-repo into $WORK (pip)"
PIP_FLAGS=(--quiet --disable-pip-version-check)
FILTER_REPO_NOTE=
if python3 -m venv "$WORK/venv" >"$WORK/logs/venv.log" 2>&1 &&
  "$WORK/venv/bin/python" -m pip install "${PIP_FLAGS[@]}" git-filter-repo >"$WORK/logs/pip.log" 2>&1; then
  export PATH="$WORK/venv/bin:$PATH"
elif python3 -m pip install "${PIP_FLAGS[@]}" --target "$WORK/pylib" git-filter-repo >>"$WORK/logs/pip.log" 2>&1; then
  export PYTHONPATH="$WORK/pylib${PYTHONPATH:+:$PYTHONPATH}"
  export PATH="$WORK/pylib/bin:$PATH"
elif command -v git-filter-repo >/dev/null; then
  FILTER_REPO_NOTE="pip failed (see below); using the git-filter-repo already on PATH"
  say "$FILTER_REPO_NOTE"
  sed 's/^/    /' "$WORK/logs/pip.log" >&2
else
  say "pip could not install git-filter-repo and none is on PATH:"
  sed 's/^/    /' "$WORK/logs/pip.log" >&2
  say "the recipe will NOT be measured (tfmono figures only)"
  FILTER_REPO_NOTE="git-filter-repo unavailable: recipe not measured"
fi
FILTER_REPO_VERSION=
if [[ -z "$FILTER_REPO_NOTE" || "$FILTER_REPO_NOTE" == pip* ]]; then
  FILTER_REPO_VERSION=$(git filter-repo --version 2>/dev/null) ||
    die "git filter-repo is installed but does not run (git $(git --version)); see $WORK/logs/pip.log"
  pkg=$(python3 -c 'import importlib.metadata as m; print(m.version("git-filter-repo"))' 2>/dev/null) || pkg=
  FILTER_REPO_VERSION="${pkg:+$pkg }($FILTER_REPO_VERSION)"
fi

TIME_BIN=
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
  TIME_BIN=/usr/bin/time
else
  say "/usr/bin/time -v not available: wall times only, no peak memory"
fi

# timed NAME CMD...: runs CMD with output in logs/NAME.log; sets WALL (s) and RSS (MB, or
# n/a). Returns CMD's exit status.
WALL='' RSS=''
timed() {
  local name=$1 status=0 t0 t1
  shift
  t0=$EPOCHREALTIME
  if [[ -n "$TIME_BIN" ]]; then
    "$TIME_BIN" -v -o "$WORK/logs/$name.time" "$@" >"$WORK/logs/$name.log" 2>&1 || status=$?
  else
    "$@" >"$WORK/logs/$name.log" 2>&1 || status=$?
  fi
  t1=$EPOCHREALTIME
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  RSS=n/a
  if [[ -n "$TIME_BIN" ]]; then
    RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$WORK/logs/$name.time")
  fi
  return "$status"
}

# must NAME CMD...: timed, and stops the benchmark with the log when CMD fails.
must() {
  local name=$1
  if ! timed "$@"; then
    say "$name failed; its output:"
    tail -n 40 "$WORK/logs/$name.log" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------------------------------
ORG="$WORK/org"
say "generating the corpus: $REPOS repos x $COMMITS commits + one of $BIG (tfmono gen-org --bench)"
must gen-org "$TFMONO" gen-org "$ORG" --bench --repos "$REPOS" --commits "$COMMITS" --big "$BIG"
GEN_WALL=$WALL
BIG_REPO=terraform-aws-monolith
[[ -d "$ORG/legacy/$BIG_REPO.git" ]] || die "gen-org wrote no $BIG_REPO; does it still name the big repo so?"

# Corpus A: the generated mapping on an inventory without the big repo.
grep -v "/$BIG_REPO\(\.git\)\?\$" "$ORG/repos.txt" >"$ORG/repos-a.txt"
sed 's/^inventory *= *"repos.txt"/inventory = "repos-a.txt"/' "$ORG/mapping.hcl" >"$ORG/mapping-a.hcl"
grep -q '^inventory = "repos-a.txt"' "$ORG/mapping-a.hcl" ||
  die "could not point mapping-a.hcl at repos-a.txt (has gen-org's mapping format changed?)"
# Corpus B: the big repo alone, by an explicit repo block; the same monorepos.
grep "/$BIG_REPO\(\.git\)\?\$" "$ORG/repos.txt" >"$ORG/repos-b.txt"
{
  echo '# Corpus B of scripts/bench.sh: the big repo alone.'
  echo 'inventory = "repos-b.txt"'
  echo 'repos_dir = "legacy"'
  echo 'unmatched = "skip"'
  grep '^monorepo ' "$ORG/mapping.hcl"
  cat <<EOF
repo "$BIG_REPO" {
  url      = "$(cat "$ORG/repos-b.txt")"
  into     = "reference-modules"
  path     = "monolith"
  registry = ["terraform-aws-modules/monolith/aws"]
}
EOF
} >"$ORG/mapping-b.hcl"

# plan_check CORPUS: plans CORPUS's mapping, checks which repos it imports, writes the
# recipe's job list; prints "<repos> <commits>".
plan_check() {
  local c=$1
  "$TFMONO" plan "$ORG/mapping-$c.hcl" >"$WORK/logs/plan-$c.txt" 2>&1 ||
    { cat "$WORK/logs/plan-$c.txt" >&2; die "tfmono plan rejected mapping-$c.hcl"; }
  "$TFMONO" --quiet plan "$ORG/mapping-$c.hcl" --format json >"$WORK/plan-$c.json"
  python3 - "$WORK/plan-$c.json" "$c" "$BIG_REPO" "$ORG/legacy" "$WORK/jobs-$c.tsv" <<'EOF'
import json, os, sys
plan_file, corpus, big, legacy, jobs_file = sys.argv[1:]
plan = json.load(open(plan_file))
imports = [i for m in plan["monorepos"] for i in m["imports"]]
names = sorted(i["repo"] for i in imports)
on_disk = sorted(n[:-4] for n in os.listdir(legacy) if n.endswith(".git"))
want = [big] if corpus == "b" else [n for n in on_disk if n != big]
if names != want:
    sys.exit(f"mapping-{corpus}.hcl imports {names}, expected {want}")
with open(jobs_file, "w") as out:
    for m in plan["monorepos"]:
        for i in m["imports"]:
            specs = " ".join(f"+{b['from']}:{b['to']}" for b in i["branches"])
            fields = [m["name"], i["repo"], i["git_dir"], i["path"], i["tag_prefix"],
                      i["default_branch"], specs]
            if any("\t" in f or "\n" in f for f in fields):
                sys.exit(f"unexpected tab or newline in the plan of {i['repo']}")
            out.write("\t".join(fields) + "\n")
print(len(imports), sum(i["commits"] for i in imports))
EOF
}

say "checking the two mappings with tfmono plan"
A_PLAN=$(plan_check a)
B_PLAN=$(plan_check b)
read -r A_REPOS A_COMMITS <<<"$A_PLAN"
read -r B_REPOS B_COMMITS <<<"$B_PLAN"
say "corpus A: $A_REPOS repos, $A_COMMITS commits; corpus B: $B_REPOS repo, $B_COMMITS commits"

# ---------------------------------------------------------------------------------------
declare -A T_WALL T_RUNS T_RSS V_WALL R_WALL R_RSS R_KEPT R_SAME
for c in a b; do
  C=${c^^}
  # RUNS fresh applies (each into an empty dir); the median wall time and the highest peak
  # RSS count. The last run's output is verified and compared with the recipe's.
  walls=() rss_max=0
  for ((run = 1; run <= RUNS; run++)); do
    say "corpus $C: tfmono apply (run $run of $RUNS)"
    rm -rf "$WORK/tfmono-$c"
    must "apply-$c-$run" "$TFMONO" apply "$ORG/mapping-$c.hcl" --out "$WORK/tfmono-$c"
    walls+=("$WALL")
    [[ "$RSS" == n/a ]] && rss_max=n/a
    [[ "$rss_max" == n/a ]] || rss_max=$(awk -v a="$rss_max" -v b="$RSS" 'BEGIN { print (b > a ? b : a) }')
  done
  T_RUNS[$c]=$(printf '%s\n' "${walls[@]}" | sort -n | paste -sd/ -)
  T_WALL[$c]=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  T_RSS[$c]=$rss_max
  say "corpus $C: tfmono apply ${T_WALL[$c]}s (median of ${T_RUNS[$c]}), peak ${T_RSS[$c]} MB; tfmono verify"
  must "verify-$c" "$TFMONO" verify "$ORG/mapping-$c.hcl" --out "$WORK/tfmono-$c"
  V_WALL[$c]=$WALL
  say "corpus $C: $(tail -n 1 "$WORK/logs/verify-$c.log") (${WALL}s)"
done

refs_of() { git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/heads/import refs/tags | sort; }
RECIPE=1
[[ -n "$FILTER_REPO_VERSION" ]] || RECIPE=
if [[ -n "$RECIPE" ]]; then
  for c in a b; do
    C=${c^^}
    say "corpus $C: the recipe (clone, filter-repo, fetch, merge), one repo after the other"
    must "recipe-$c" "$SCRIPT" __recipe "$WORK/jobs-$c.tsv" "$WORK/recipe-$c"
    R_WALL[$c]=$WALL R_RSS[$c]=$RSS
    # How many commits the recipe kept (filter-repo prunes commits that become empty).
    kept=0
    while IFS=$'\t' read -r mono repo _ _ _ _ refspecs; do
      read -r -a specs <<<"$refspecs"
      refs=()
      for s in "${specs[@]}"; do refs+=("${s#*:}"); done
      n=$(git -C "$WORK/recipe-$c/$mono" rev-list --count "${refs[@]}")
      kept=$((kept + n))
    done <"$WORK/jobs-$c.tsv"
    R_KEPT[$c]=$kept
    # Cross-check: the recipe's import branches and tags against tfmono's, by object id.
    same=0 total=0
    for dir in "$WORK/recipe-$c"/*/.git; do
      mono=$(basename "$(dirname "$dir")")
      refs_of "$WORK/recipe-$c/$mono" >"$WORK/refs-recipe"
      refs_of "$WORK/tfmono-$c/$mono.git" >"$WORK/refs-tfmono"
      total=$((total + $(wc -l <"$WORK/refs-recipe")))
      same=$((same + $(comm -12 "$WORK/refs-recipe" "$WORK/refs-tfmono" | wc -l)))
    done
    R_SAME[$c]="$same of $total"
    say "corpus $C: recipe ${WALL}s, $kept commits imported; $same of $total import branches and tags have the same object id as tfmono's"
  done
fi

# ---------------------------------------------------------------------------------------
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (b > 0) printf f, a / b; else print "inf" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "tfmono $REV vs git filter-repo ${FILTER_REPO_VERSION:-n/a}, $(git --version), $(nproc) cores${CPU:+ ($CPU)}"
echo "corpus: gen-org --bench --repos $REPOS --commits $COMMITS --big $BIG (generated in ${GEN_WALL}s)"
echo "tfmono apply: median of $RUNS runs (A: ${T_RUNS[a]} s, B: ${T_RUNS[b]} s), peak RSS the highest; the recipe: one run"
[[ -z "$FILTER_REPO_NOTE" ]] || echo "note: $FILTER_REPO_NOTE"
echo
echo "| corpus | repos | commits | tfmono wall s | commits/s | peak RSS MB | verify s | recipe wall s | recipe peak RSS MB | recipe commits | ratio (recipe/tfmono) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in a b; do
  if [[ $c == a ]]; then label="A: many repos" repos=$A_REPOS commits=$A_COMMITS; else label="B: $BIG_REPO" repos=$B_REPOS commits=$B_COMMITS; fi
  rate=$(div "$commits" "${T_WALL[$c]}" "%.0f")
  if [[ -n "$RECIPE" ]]; then
    rw=${R_WALL[$c]} rr=${R_RSS[$c]} rk=${R_KEPT[$c]} ratio="$(div "${R_WALL[$c]}" "${T_WALL[$c]}" "%.1f")x"
  else
    rw=n/a rr=n/a rk=n/a ratio=n/a
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$repos" \
    "$commits" "${T_WALL[$c]}" "$rate" "${T_RSS[$c]}" "${V_WALL[$c]}" "$rw" "$rr" "$rk" "$ratio"
done
echo
if [[ -n "$RECIPE" ]]; then
  echo "Import branches and tags with the same object id in the recipe's monorepos as in tfmono's:"
  echo "A ${R_SAME[a]}, B ${R_SAME[b]}."
  echo
fi

# The targets of the issue.
mark() { if "$@"; then echo PASS; else echo MISS; fi; }
if [[ -n "$RECIPE" ]]; then
  ratio_a=$(div "${R_WALL[a]}" "${T_WALL[a]}" "%.1f")
  t1="$(mark ge "$ratio_a" 20) (${ratio_a}x)"
else
  t1="NOT MEASURED (no git-filter-repo)"
fi
rate_b=$(div "$B_COMMITS" "${T_WALL[b]}" "%.0f")
t2="$(mark ge "$rate_b" 150000) (${rate_b} commits/s)"
if [[ "${T_RSS[a]}" == n/a ]]; then
  t3="NOT MEASURED (no /usr/bin/time -v)"
else
  peak=$(awk -v a="${T_RSS[a]}" -v b="${T_RSS[b]}" 'BEGIN { print (a > b ? a : b) }')
  t3="$(mark lt "$peak" 300) (${peak} MB)"
fi
echo "targets:"
echo "- >= 20x faster than the recipe on the many-repo corpus: $t1"
echo "- >= 150,000 commits/s on the big repo: $t2"
echo "- peak memory of tfmono apply < 300 MB: $t3"
