//! Files real Terraform repos carry that a tidy generator would never write: root-only
//! CI and ownership files, examples calling a module by its public registry address,
//! intentionally invalid test inputs, and heredocs holding shell. Each broke tfmono on a
//! real public repo before the generator learned it. Every function is pure.

use super::content::{ident, ORG};

/// `.github/workflows/ci.yml` of a reference module: only meaningful at a repo's root.
pub(super) fn ci_workflow(default_branch: &str) -> String {
    format!(
        "name: ci\n\non:\n  pull_request:\n  push:\n    branches: [{default_branch}]\n\n\
         jobs:\n  validate:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n\
         \x20     - uses: hashicorp/setup-terraform@v3\n      - name: Format\n        run: terraform fmt -check -recursive\n\
         \x20     - name: Validate every example\n        run: |\n          for dir in examples/*/; do\n            terraform -chdir=\"$dir\" init -backend=false -input=false\n            terraform -chdir=\"$dir\" validate\n          done\n"
    )
}

/// `.pre-commit-config.yaml` of a reference module.
pub(super) const PRE_COMMIT: &str = "# Run `pre-commit install` once; the hooks run on every commit.\nrepos:\n  - repo: local\n    hooks:\n      - id: terraform-fmt\n        name: terraform fmt\n        entry: terraform fmt -recursive\n        language: system\n        files: \\.tf$\n        pass_filenames: false\n";

/// `CODEOWNERS` of a reference module.
pub(super) const CODEOWNERS: &str =
    "# Reviews of forked modules: the platform team, plus security for IAM-related changes.\n*            @acme/platform\n/examples/   @acme/platform @acme/developer-experience\n*iam*        @acme/security\n";

/// The registry constraint of an example pinned to a major (`~> 0.1` before 1.0).
fn pessimistic(major: u32) -> String {
    if major == 0 {
        "~> 0.1".to_string()
    } else {
        format!("~> {major}.0")
    }
}

/// `examples/complete/main.tf` of a fork, revision `n`: the released module through its
/// public registry address `terraform-aws-modules/<module>/aws` (`version = "~> <major>.0"`)
/// next to the working copy through `../../`.
pub(super) fn example_complete(module: &str, major: u32, n: usize) -> String {
    let id = ident(module);
    format!(
        "# Complete example: the released {module} module next to the working copy, so a\n\
         # reviewer can diff their plans.\nprovider \"aws\" {{\n  region = \"eu-west-1\"\n}}\n\n\
         module \"{id}_released\" {{\n  source  = \"terraform-aws-modules/{module}/aws\"\n  version = \"{constraint}\"\n\n  name = \"example-{n}-released\"\n}}\n\n\
         module \"{id}\" {{\n  source = \"../../\"\n\n  name = \"example-{n}\"\n  tags = {{\n    Environment = \"test\"\n  }}\n}}\n",
        constraint = pessimistic(major)
    )
}

/// `examples/with-<other>/main.tf` of `module`'s fork: calls ANOTHER fork by its registry
/// address, and this module by `../../`.
pub(super) fn example_with(module: &str, other: &str) -> String {
    let (id, other_id) = (ident(module), ident(other));
    format!(
        "# {module} together with the released {other} module from the registry.\n\
         module \"{other_id}\" {{\n  source  = \"terraform-aws-modules/{other}/aws\"\n  version = \"~> 1.0\"\n\n  name = \"example-{other}\"\n}}\n\n\
         module \"{id}\" {{\n  source = \"../../\"\n\n  name = \"example-with-{other}\"\n  tags = {{\n    Depends = module.{other_id}.id\n  }}\n}}\n"
    )
}

/// `testdata/*`: inputs of a config linter's tests, invalid on purpose; Terraform never
/// reads a subdirectory it is not pointed at. A zero-length `.tf.json`, a `.tf` with a
/// syntax error, a `.tf.json` that is not JSON, and an invalid `.tf` naming the legacy
/// `terraform-aws-<alb>` repo in a `source` (which a migration must flag, not skip).
pub(super) fn testdata(alb: &str) -> [(&'static str, String); 5] {
    [
        (
            "testdata/README.md",
            "# Lint fixtures\n\nInputs of `scripts/lint_test.sh`. Every file here is invalid on purpose and\nTerraform never reads this directory.\n".to_string(),
        ),
        ("testdata/empty.tf.json", String::new()),
        (
            "testdata/unclosed_block.tf",
            "# Expect: \"Unclosed configuration block\" on line 2.\nvariable \"name\" {\n  type = string\n".to_string(),
        ),
        (
            "testdata/not_json.tf.json",
            "# Expect: \"Invalid JSON\": this is HCL in a .tf.json file.\nmodule \"labels\" {\n  source = \"../modules/x\"\n}\n".to_string(),
        ),
        (
            "testdata/legacy_source.tf",
            format!(
                "# Expect: \"Invalid expression\" on line 4: the linter must still report the\n# legacy source below.\nmodule \"{id}\" {{\n  name   = = \"broken\"\n  source = \"git::https://github.com/{ORG}/terraform-aws-{alb}.git?ref=v1.0.0\"\n",
                id = ident(alb)
            ),
        ),
    ]
}

/// `bastion.tf` of a service module: a `<<-EOT` heredoc of shell with `source` lines, an
/// escaped `$${...}` and a comment naming the legacy `terraform-aws-<alb>` repo.
pub(super) fn bastion_tf(svc: &str, alb: &str) -> String {
    format!(
        "# A bastion host for break-glass access to the {svc} tasks; none unless a subnet is given.\n\
         variable \"bastion_subnet_id\" {{\n  description = \"Subnet of the bastion host (null: no bastion)\"\n  type        = string\n  default     = null\n}}\n\n\
         resource \"aws_instance\" \"bastion\" {{\n  count = var.bastion_subnet_id == null ? 0 : 1\n\n\
         \x20 ami           = \"ami-0c2d06d50ce30b442\"\n  instance_type = \"t3.micro\"\n  subnet_id     = var.bastion_subnet_id\n\n\
         \x20 user_data = <<-EOT\n    #!/bin/bash\n    set -euo pipefail\n    source /etc/profile\n    source /opt/{ORG}/bastion.env\n\
         \x20   # see https://github.com/{ORG}/terraform-aws-{alb} for the load balancer in front of {svc}\n\
         \x20   echo \"{svc} bastion for ${{var.environment}}\" > /etc/motd\n    echo \"provisioned as $${{USER}}\" >> /var/log/bastion-init.log\n  EOT\n\n\
         \x20 tags = merge(var.tags, {{ Name = \"${{var.name}}-bastion\" }})\n}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_ask_the_registry_for_the_current_major() {
        let text = example_complete("alb", 2, 7);
        assert!(text
            .contains("  source  = \"terraform-aws-modules/alb/aws\"\n  version = \"~> 2.0\"\n"));
        assert!(text.contains("  source = \"../../\"\n"));
        assert!(example_complete("iam", 0, 0).contains("version = \"~> 0.1\""));
        let with = example_with("alb", "vpc");
        assert!(with.contains("source  = \"terraform-aws-modules/vpc/aws\""));
    }

    #[test]
    fn the_bastion_heredoc_keeps_shell_and_escapes() {
        let text = bastion_tf("web", "alb");
        assert!(text.contains("  user_data = <<-EOT\n    #!/bin/bash\n"));
        assert!(text.contains("\n    source /etc/profile\n"));
        assert!(text.contains("    # see https://github.com/acme/terraform-aws-alb for"));
        assert!(text.contains("$${USER}") && text.contains("${var.environment}"));
        assert!(text.contains("\n  EOT\n"));
    }

    #[test]
    fn testdata_is_invalid_in_four_ways() {
        let files = testdata("alb");
        assert_eq!(files[1], ("testdata/empty.tf.json", String::new()));
        assert!(serde_json::from_str::<serde_json::Value>(&files[3].1).is_err());
        assert!(files[4].1.contains(
            "source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0\""
        ));
    }
}
