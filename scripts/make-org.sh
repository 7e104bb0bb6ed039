#!/usr/bin/env bash
# Builds a legacy org of bare git repos for the demo or the benchmark.
#
#   scripts/make-org.sh [DIR] [--bench]
#
# DIR (default ./org) gets legacy/<name>.git, repos.txt and mapping.hcl; then run
# `tfmono plan DIR/mapping.hcl`. --bench: 1,000 commits per module repo, 50 extra
# reference repos (terraform-aws-gen-N) and one of 50,000 commits (terraform-aws-monolith).
# Same options, same commit ids. Needs the `gen-org` subcommand (tfmono::orggen::generate).
set -euo pipefail

DIR=org
BENCH=
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    -h | --help)
      sed -n '2,9s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    -*)
      echo "make-org.sh: unknown option $arg (usage: scripts/make-org.sh [DIR] [--bench])" >&2
      exit 2
      ;;
    *) DIR=$arg ;;
  esac
done

case "$DIR" in
  /*) ;;
  *) DIR="$PWD/$DIR" ;;
esac
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -- gen-org "$DIR" ${BENCH:+--bench}
