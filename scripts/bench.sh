#!/usr/bin/env bash
# Benchmarks tfmono's history import against the usual recipe (git clone + git filter-repo
# --to-subdirectory-filter + fetch + merge --allow-unrelated-histories), on the same
# repos, in one run. A benchmark, not a test: it prints figures and the targets.
#
#   scripts/bench.sh [--quick]
#   scripts/bench.sh --real DIR        (or REAL_CORPUS=DIR scripts/bench.sh)
#   scripts/bench.sh --scale           (SCALE="100 400 1000" repos of COMMITS=1000 commits)
#
# Generated: corpus A is every generated repo but the big one (default 50 extra repos of
# 1,000 commits plus the demo org's 22 repos), corpus B the big repo alone (default 50,000
# commits). --quick: 10 x 200 commits + 5,000. REPOS, COMMITS, BIG override the sizes.
# Real (--real DIR): DIR holds bare <name>.git repos (scripts of /work/shared/make-real-
# corpus.sh make them); the script writes the mapping itself (terraform-aws-<x> and
# terraform-google-<x> into reference-modules at <x> with their registry address, *-live-*
# into live, others into service-modules, repos_dir = DIR). Corpus A is every <name>.git;
# corpus B a <name>-main.git (one big single-branch history, BIG=<name> of that script)
# alone, if there is one. Repos tfmono refuses (HEAD names a missing branch while other
# branches exist; no commit at all) are left out and named.
# Scale (--scale): for each size in SCALE (default "100 400 1000") an org of that many
# repos of COMMITS (default 1,000) commits; per size the full apply (time, commits/s, peak
# RSS), a no-op re-run, a re-run after one new legacy commit, and verify. tfmono only.
# Environment: RUNS (default 3) how many times tfmono apply runs per corpus (the median
# counts); BENCH_DIR the work dir (default: a new mktemp -d; must be empty or absent);
# KEEP=1 keeps it; CARGO_TARGET_DIR is respected. Needs cargo, git, python3 (pip installs
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
    # "-": a repo with tags but no branch; nothing to merge.
    [[ "$default" == - ]] && continue
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
SCALE_MODE=
REAL=${REAL_CORPUS:-}
USAGE="usage: scripts/bench.sh [--quick] | --real DIR; sizes via REPOS, COMMITS, BIG"
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --real)
      (($# > 1)) || die "--real needs a directory ($USAGE)"
      REAL=$2
      shift
      ;;
    --real=*) REAL=${1#--real=} ;;
    --scale) SCALE_MODE=1 ;;
    -h | --help)
      sed -n '2,25s/^# \{0,1\}//p' "$SCRIPT"
      exit 0
      ;;
    *) die "unknown argument '$1' ($USAGE)" ;;
  esac
  shift
done
if [[ -n "$REAL" ]]; then
  [[ -z "$QUICK" ]] || die "--quick sizes a generated corpus; it does not go with --real"
  [[ -d "$REAL" ]] || die "the real corpus $REAL is not a directory"
  REAL=$(cd "$REAL" && pwd)
fi
if [[ -n "$QUICK" ]]; then
  REPOS=${REPOS:-10} COMMITS=${COMMITS:-200} BIG=${BIG:-5000}
else
  REPOS=${REPOS:-50} COMMITS=${COMMITS:-1000} BIG=${BIG:-50000}
fi
RUNS=${RUNS:-3}
SIZES=(REPOS COMMITS BIG)
[[ -z "$REAL" ]] || SIZES=() # BIG=<name> may be left over from make-real-corpus.sh
for v in "${SIZES[@]}" RUNS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ -n "$REAL" ]] || ((BIG > 0)) || die "BIG must be > 0: corpus B is the big repo"
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
# --scale: how time and memory grow with the org (tfmono only; the recipe is linear).
# peak_rss_mb LOG: the peak RSS of a timed run.
if [[ -n "$SCALE_MODE" ]]; then
  SCALE=${SCALE:-100 400 1000}
  echo
  echo "Scale: gen-org --bench --repos N --commits $COMMITS --big $COMMITS (tfmono $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores)"
  echo
  echo "| repos | commits | full apply s | commits/s | peak RSS MB | no-op re-run s | re-run after 1 commit s | verify s | verify peak RSS MB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for n in $SCALE; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "SCALE sizes must be whole numbers, got '$n'"
    org="$WORK/scale-$n"
    say "scale $n: generating $n repos x $COMMITS commits"
    must "gen-$n" "$TFMONO" gen-org "$org" --bench --repos "$n" --commits "$COMMITS" --big "$COMMITS"
    commits=$("$TFMONO" plan "$org/mapping.hcl" --format json --quiet 2>/dev/null |
      python3 -c 'import json, sys; p = json.load(sys.stdin); print(sum(i["commits"] for m in p["monorepos"] for i in m["imports"]))')
    say "scale $n: full apply"
    must "apply-$n" "$TFMONO" apply "$org/mapping.hcl" --out "$org/out" --quiet
    full=$WALL full_rss=$RSS
    must "noop-$n" "$TFMONO" apply "$org/mapping.hcl" --out "$org/out"
    grep -q '^Up to date' "$WORK/logs/noop-$n.log" || die "scale $n: the no-op re-run did not find the output up to date"
    noop=$WALL
    # One new commit on the default branch of the first generated repo.
    repo="$org/legacy/terraform-aws-gen-0.git"
    if [[ ! -d "$repo" ]]; then
      # A glob, not `ls | head`: with hundreds of repos head closes the pipe early and
      # pipefail turns ls's SIGPIPE into a failure.
      legacy=("$org"/legacy/*.git)
      repo=${legacy[0]}
    fi
    tip=$(git -C "$repo" rev-parse HEAD)
    tree=$(git -C "$repo" rev-parse "HEAD^{tree}")
    new=$(git -C "$repo" commit-tree "$tree" -p "$tip" -m "One more commit")
    git -C "$repo" update-ref HEAD "$new" "$tip"
    must "resync-$n" "$TFMONO" apply "$org/mapping.hcl" --out "$org/out" --quiet
    resync=$WALL
    must "verify-$n" "$TFMONO" verify "$org/mapping.hcl" --out "$org/out" --quiet
    verify=$WALL verify_rss=$RSS
    rate=$(awk -v c="$commits" -v t="$full" 'BEGIN { if (t > 0 && c > 0) printf "%d", c / t; else print "n/a" }')
    echo "| $n | $commits | $full | $rate | $full_rss | $noop | $resync | $verify | $verify_rss |"
    rm -rf "$org"
  done
  exit 0
fi

# ---------------------------------------------------------------------------------------
# The corpora. Each mode writes $ORG/mapping-<c>.hcl and $ORG/expect-<c>.txt (the repos that
# mapping must import, one a line) for every corpus c in CORPORA, and sets CORPUS_NOTE and
# the labels of the table.
ORG="$WORK/org"
CORPORA=(a b)
CORPUS_NOTE=
declare -A LABEL

generated_corpus() {
  say "generating the corpus: $REPOS repos x $COMMITS commits + one of $BIG (tfmono gen-org --bench)"
  must gen-org "$TFMONO" gen-org "$ORG" --bench --repos "$REPOS" --commits "$COMMITS" --big "$BIG"
  CORPUS_NOTE="gen-org --bench --repos $REPOS --commits $COMMITS --big $BIG (generated in ${WALL}s)"
  local BIG_REPO=terraform-aws-monolith
  [[ -d "$ORG/legacy/$BIG_REPO.git" ]] || die "gen-org wrote no $BIG_REPO; does it still name the big repo so?"
  LABEL[a]="A: many repos" LABEL[b]="B: $BIG_REPO"
  (cd "$ORG/legacy" && ls -d -- *.git) | sed 's/\.git$//' | grep -vx "$BIG_REPO" >"$ORG/expect-a.txt"
  echo "$BIG_REPO" >"$ORG/expect-b.txt"

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
}

# real_corpus: the mappings of the real repos in $REAL (see the header).
real_corpus() {
  mkdir -p "$ORG"
  local repo name head kept=() big=() skipped=()
  shopt -s nullglob
  for repo in "$REAL"/*.git; do
    name=$(basename "$repo" .git)
    if [[ ! "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
      skipped+=("$name (not a plain name)")
    elif [[ -z "$(git -C "$repo" for-each-ref --count=1 refs/heads refs/tags)" ]]; then
      skipped+=("$name (no branch and no tag)")
    elif head=$(git -C "$repo" symbolic-ref -q HEAD) &&
      ! git -C "$repo" show-ref -q --verify "$head" &&
      [[ -n "$(git -C "$repo" for-each-ref --count=1 refs/heads)" ]]; then
      # tfmono refuses to guess which branch main gets (a repo with tags only is fine).
      skipped+=("$name (HEAD names $head, which does not exist, while other branches do)")
    elif [[ "$name" == *-main && -d "$REAL/${name%-main}.git" ]]; then
      big+=("$name")
    else
      kept+=("$name")
    fi
  done
  shopt -u nullglob
  ((${#kept[@]} > 0)) || die "no <name>.git repo tfmono can import in $REAL"
  CORPUS_NOTE="${#kept[@]} real repos in $REAL"
  if ((${#skipped[@]} > 0)); then
    local left
    left=$(printf '%s; ' "${skipped[@]}")
    CORPUS_NOTE+="; left out: ${left%; }"
    say "left out of the real corpus: ${left%; }"
  fi
  printf '%s\n' "${kept[@]}" >"$ORG/expect-a.txt"
  LABEL[a]="A: real repos"
  if ((${#big[@]} == 0)); then
    CORPORA=(a)
    say "no <name>-main.git in $REAL: no throughput run (corpus B)"
  else
    # The biggest history if there are several.
    local b best='' most=-1 n
    for b in "${big[@]}"; do
      n=$(git -C "$REAL/$b.git" rev-list --count HEAD)
      if ((n > most)); then best=$b most=$n; fi
    done
    ((${#big[@]} == 1)) || say "several <name>-main.git; corpus B is the biggest, $best"
    echo "$best" >"$ORG/expect-b.txt"
    LABEL[b]="B: $best"
  fi
  python3 - "$REAL" "$ORG" "${CORPORA[@]}" <<'EOF'
import sys
real, org, *corpora = sys.argv[1:]

def block(name, used):
    """The repo block of `name` (its monorepo, path, registry address, URL) and its path."""
    base = name[:-len("-main")] if name.endswith("-main") else name
    for prefix, owner, provider in (("terraform-aws-", "terraform-aws-modules", "aws"),
                                    ("terraform-google-", "terraform-google-modules", "google")):
        if base.startswith(prefix):
            x = base[len(prefix):]
            path = x if x not in used else base
            return (f'repo "{name}" {{\n'
                    f'  url      = "https://github.com/{owner}/{name}.git"\n'
                    f'  into     = "reference-modules"\n'
                    f'  path     = "{path}"\n'
                    f'  registry = ["{owner}/{x}/{provider}"]\n'
                    '}\n'), path
    owner = "gruntwork-io" if name.startswith("terragrunt-") else "acme"
    into = "live" if "-live-" in f"-{name}-" else "service-modules"
    return (f'repo "{name}" {{\n'
            f'  url  = "https://github.com/{owner}/{name}.git"\n'
            f'  into = "{into}"\n'
            f'  path = "{name}"\n'
            '}\n'), name

head = (f'# Written by scripts/bench.sh for the real corpus in {real}.\n'
        f'repos_dir = "{real}"\n'
        'monorepo "reference-modules" { url = "git::https://github.com/acme/reference-modules.git" }\n'
        'monorepo "service-modules"   { url = "git::https://github.com/acme/service-modules.git" }\n'
        'monorepo "live"              { url = "git::https://github.com/acme/live.git" }\n')
for c in corpora:
    used, blocks = set(), []
    for name in open(f"{org}/expect-{c}.txt").read().split():
        text, path = block(name, used)
        used.add(path)
        blocks.append(text)
    with open(f"{org}/mapping-{c}.hcl", "w") as f:
        f.write(head + "".join(blocks))
EOF
}

if [[ -n "$REAL" ]]; then
  real_corpus
else
  generated_corpus
fi

# plan_check CORPUS: plans CORPUS's mapping, checks which repos it imports, writes the
# recipe's job list; prints "<repos> <commits>".
plan_check() {
  local c=$1
  "$TFMONO" plan "$ORG/mapping-$c.hcl" >"$WORK/logs/plan-$c.txt" 2>&1 ||
    { cat "$WORK/logs/plan-$c.txt" >&2; die "tfmono plan rejected mapping-$c.hcl"; }
  "$TFMONO" --quiet plan "$ORG/mapping-$c.hcl" --format json >"$WORK/plan-$c.json"
  python3 - "$WORK/plan-$c.json" "$c" "$ORG/expect-$c.txt" "$WORK/jobs-$c.tsv" <<'EOF'
import json, sys
plan_file, corpus, expect_file, jobs_file = sys.argv[1:]
plan = json.load(open(plan_file))
imports = [i for m in plan["monorepos"] for i in m["imports"]]
names = sorted(i["repo"] for i in imports)
want = sorted(open(expect_file).read().split())
if names != want:
    sys.exit(f"mapping-{corpus}.hcl imports {names}, expected {want}")
with open(jobs_file, "w") as out:
    for m in plan["monorepos"]:
        for i in m["imports"]:
            specs = " ".join(f"+{b['from']}:{b['to']}" for b in i["branches"])
            # "-": no default branch (a repo with tags only); the recipe merges nothing.
            fields = [m["name"], i["repo"], i["git_dir"], i["path"], i["tag_prefix"],
                      i["default_branch"] or "-", specs]
            if any("\t" in f or "\n" in f for f in fields):
                sys.exit(f"unexpected tab or newline in the plan of {i['repo']}")
            out.write("\t".join(fields) + "\n")
print(len(imports), sum(i["commits"] for i in imports))
EOF
}

say "checking the mappings with tfmono plan"
declare -A N_REPOS N_COMMITS
for c in "${CORPORA[@]}"; do
  counts=$(plan_check "$c") # an assignment, so that a failed plan stops the script (set -e)
  read -r "N_REPOS[$c]" "N_COMMITS[$c]" <<<"$counts"
  say "corpus ${c^^}: ${N_REPOS[$c]} repo(s), ${N_COMMITS[$c]} commits"
done

# ---------------------------------------------------------------------------------------
declare -A T_WALL T_RUNS T_RSS V_WALL R_WALL R_RSS R_KEPT R_SAME
for c in "${CORPORA[@]}"; do
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
  for c in "${CORPORA[@]}"; do
    C=${c^^}
    say "corpus $C: the recipe (clone, filter-repo, fetch, merge), one repo after the other"
    must "recipe-$c" "$SCRIPT" __recipe "$WORK/jobs-$c.tsv" "$WORK/recipe-$c"
    R_WALL[$c]=$WALL R_RSS[$c]=$RSS
    # How many commits the recipe kept (filter-repo prunes commits that become empty).
    kept=0
    while IFS=$'\t' read -r mono repo _ _ prefix _ refspecs; do
      read -r -a specs <<<"$refspecs"
      refs=()
      for s in "${specs[@]}"; do refs+=("${s#*:}"); done
      # A repo with tags only: count what its tags reach.
      ((${#refs[@]} > 0)) || refs=("--tags=$prefix*")
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
echo "corpus: $CORPUS_NOTE"
runs=()
for c in "${CORPORA[@]}"; do runs+=("${c^^}: ${T_RUNS[$c]} s"); done
echo "tfmono apply: median of $RUNS runs ($(printf '%s, ' "${runs[@]}" | sed 's/, $//')), peak RSS the highest; the recipe: one run"
[[ -z "$FILTER_REPO_NOTE" ]] || echo "note: $FILTER_REPO_NOTE"
echo
echo "| corpus | repos | commits | tfmono wall s | commits/s | peak RSS MB | verify s | recipe wall s | recipe peak RSS MB | recipe commits | ratio (recipe/tfmono) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CORPORA[@]}"; do
  rate=$(div "${N_COMMITS[$c]}" "${T_WALL[$c]}" "%.0f")
  if [[ -n "$RECIPE" ]]; then
    rw=${R_WALL[$c]} rr=${R_RSS[$c]} rk=${R_KEPT[$c]} ratio="$(div "${R_WALL[$c]}" "${T_WALL[$c]}" "%.1f")x"
  else
    rw=n/a rr=n/a rk=n/a ratio=n/a
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$c]}" "${N_REPOS[$c]}" \
    "${N_COMMITS[$c]}" "${T_WALL[$c]}" "$rate" "${T_RSS[$c]}" "${V_WALL[$c]}" "$rw" "$rr" "$rk" "$ratio"
done
echo
if [[ -n "$RECIPE" ]]; then
  same=()
  for c in "${CORPORA[@]}"; do same+=("${c^^} ${R_SAME[$c]}"); done
  echo "Import branches and tags with the same object id in the recipe's monorepos as in tfmono's:"
  echo "$(printf '%s, ' "${same[@]}" | sed 's/, $//')."
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
if [[ -n "${T_WALL[b]:-}" ]]; then
  rate_b=$(div "${N_COMMITS[b]}" "${T_WALL[b]}" "%.0f")
  t2="$(mark ge "$rate_b" 150000) (${rate_b} commits/s)"
else
  t2="NOT MEASURED (no corpus B: no <name>-main.git in $REAL)"
fi
if [[ "${T_RSS[a]}" == n/a ]]; then
  t3="NOT MEASURED (no /usr/bin/time -v)"
else
  peak=0
  for c in "${CORPORA[@]}"; do
    peak=$(awk -v a="$peak" -v b="${T_RSS[$c]}" 'BEGIN { print (a > b ? a : b) }')
  done
  t3="$(mark lt "$peak" 300) (${peak} MB)"
fi
echo "targets:"
echo "- >= 20x faster than the recipe on the many-repo corpus: $t1"
echo "- >= 150,000 commits/s on the big repo: $t2"
echo "- peak memory of tfmono apply < 300 MB: $t3"
