//! `terragrunt-live`: a Terragrunt live repo laid out as Gruntwork's live example is, with
//! what that layout does to module sources. A `root.hcl` included by every unit;
//! `_envcommon/<svc>.hcl` holding the service module's URL (`base_source_url`, no ref);
//! units `<stage>/<svc>/terragrunt.hcl` that build their source from it
//! (`"${include.envcommon.locals.base_source_url}?ref=v1.0.0"`); `terragrunt.stack.hcl`
//! files with `unit` and `stack` blocks; and a boilerplate template for new units that is
//! Go template text, not HCL.

use super::content::{aws_region, ORG};
use super::history::{History, Written, EPOCH, YEAR};
use super::stream::{Change, Importer, Mark};
use super::Error;

/// The repo's name.
pub(super) const REPO: &str = "terragrunt-live";

/// `root.hcl`: provider generation (a heredoc) and the remote state every unit shares.
fn root_hcl() -> String {
    format!(
        "# Included by every unit: `include \"root\" {{ path = find_in_parent_folders(\"root.hcl\") }}`.\n\
         locals {{\n  env_vars   = read_terragrunt_config(find_in_parent_folders(\"env.hcl\"))\n  stage      = local.env_vars.locals.stage\n  aws_region = local.env_vars.locals.aws_region\n}}\n\n\
         generate \"provider\" {{\n  path      = \"provider.tf\"\n  if_exists = \"overwrite_terragrunt\"\n  contents  = <<EOF\nprovider \"aws\" {{\n  region = \"${{local.aws_region}}\"\n}}\nEOF\n}}\n\n\
         remote_state {{\n  backend = \"s3\"\n  generate = {{\n    path      = \"backend.tf\"\n    if_exists = \"overwrite_terragrunt\"\n  }}\n  config = {{\n    bucket         = \"{ORG}-tfstate-${{local.stage}}-terragrunt\"\n    key            = \"${{path_relative_to_include()}}/terraform.tfstate\"\n    region         = local.aws_region\n    dynamodb_table = \"{ORG}-tflock-${{local.stage}}\"\n    encrypt        = true\n  }}\n}}\n"
    )
}

/// `<stage>/env.hcl`.
fn env_hcl(stage: &str, region: &str) -> String {
    format!(
        "locals {{\n  stage      = \"{stage}\"\n  aws_region = \"{aws}\"\n}}\n",
        aws = aws_region(region)
    )
}

/// `_envcommon/<svc>.hcl`: what every stage's `<svc>` unit shares, the module URL included.
fn envcommon_hcl(svc: &str) -> String {
    format!(
        "# Shared by every {svc} unit, which includes this file with `expose = true` and pins a\n# version: source = \"${{include.envcommon.locals.base_source_url}}?ref=<tag>\".\n\
         locals {{\n  env_vars = read_terragrunt_config(find_in_parent_folders(\"env.hcl\"))\n  stage    = local.env_vars.locals.stage\n\n\
         \x20 base_source_url = \"git::git@github.com:{ORG}/terraform-{ORG}-{svc}.git//\"\n}}\n\n\
         inputs = {{\n  name        = \"{svc}-${{local.stage}}\"\n  environment = local.stage\n}}\n"
    )
}

/// `<stage>/<svc>/terragrunt.hcl`: a unit whose source is built from `_envcommon/<svc>.hcl`.
fn unit_hcl(svc: &str, tag: &str, desired: u32) -> String {
    format!(
        "include \"root\" {{\n  path = find_in_parent_folders(\"root.hcl\")\n}}\n\n\
         include \"envcommon\" {{\n  path   = \"${{dirname(find_in_parent_folders(\"root.hcl\"))}}/_envcommon/{svc}.hcl\"\n  expose = true\n}}\n\n\
         terraform {{\n  source = \"${{include.envcommon.locals.base_source_url}}?ref={tag}\"\n}}\n\n\
         inputs = {{\n  desired_count = {desired}\n}}\n"
    )
}

/// `stacks/services/terragrunt.stack.hcl`: one unit per service module.
fn services_stack(services: &[String]) -> String {
    let mut out = String::from(
        "# Every service as one stack; `terragrunt stack generate` writes a unit per block.\n",
    );
    for svc in services {
        out.push_str(&format!(
            "\nunit \"{svc}\" {{\n  source = \"git::git@github.com:{ORG}/terraform-{ORG}-{svc}.git//?ref=v1.0.0\"\n  path   = \"{svc}\"\n\n  values = {{\n    name = \"{svc}-sandbox\"\n  }}\n}}\n"
        ));
    }
    out
}

/// `sandbox/terragrunt.stack.hcl`: the services stack (from this repo, by tag) and a canary
/// unit of the first service at a newer tag.
fn sandbox_stack(svc: &str) -> String {
    format!(
        "stack \"services\" {{\n  source = \"git::https://github.com/{ORG}/{REPO}.git//stacks/services?ref=v1.0.0\"\n  path   = \"services\"\n}}\n\n\
         unit \"{svc}_canary\" {{\n  source = \"git::git@github.com:{ORG}/terraform-{ORG}-{svc}.git//?ref=v1.1.0\"\n  path   = \"{svc}-canary\"\n}}\n"
    )
}

/// `_templates/terragrunt.hcl` and `_templates/boilerplate.yml`: scaffolding for a new unit,
/// rendered by `boilerplate`; Go template actions make it invalid HCL. Holds an indented
/// heredoc.
fn template_files(svc: &str) -> [(&'static str, String); 2] {
    [
        (
            "_templates/boilerplate.yml",
            format!(
                "# boilerplate --template-url _templates --output-folder <stage>/<svc>\nvariables:\n  - name: sourceUrl\n    description: Module source of the new unit\n    default: git::git@github.com:{ORG}/terraform-{ORG}-{svc}.git//?ref=v1.1.0\n  - name: extraProvider\n    type: bool\n    default: false\n  - name: inputs\n    type: map\n    default: {{}}\n"
            ),
        ),
        (
            "_templates/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n\n\
             terraform {\n  source = \"{{ .sourceUrl }}\"\n}\n\
             {{ if .extraProvider }}\n\
             generate \"extra_provider\" {\n  path      = \"extra_provider.tf\"\n  if_exists = \"overwrite\"\n  contents  = <<-EOF\n    provider \"aws\" {\n      alias  = \"{{ .alias }}\"\n      region = \"{{ .region }}\"\n    }\n  EOF\n}\n\
             {{ end }}\n\
             inputs = {\n{{- range $name, $value := .inputs }}\n  {{ $name }} = {{ $value }}\n{{- end }}\n}\n"
                .to_string(),
        ),
    ]
}

/// A README.
fn readme(stages: &[String]) -> String {
    format!(
        "# {REPO}\n\nUnits per stage ({stages}), each including `root.hcl` and its service's\n`_envcommon/<service>.hcl`. New units start from `_templates/`.\n",
        stages = stages.join(", ")
    )
}

/// `terragrunt-live`: root config and `_envcommon`, units per stage, the services stack
/// (tagged `v1.0.0`, which the sandbox stack then uses), the unit template, and the first
/// service's dev unit promoted to `v1.1.0`. Units pin `v1.0.0`, or `v1.1.0` in the first
/// stage: real tags of the service modules.
pub(super) fn live(
    imp: Importer,
    services: &[String],
    stages: &[String],
    regions: &[String],
) -> Result<Written, Error> {
    let mut h = History::new(imp, REPO, "live", EPOCH + 2 * YEAR + YEAR / 2, YEAR, 8);
    let b = "refs/heads/main";
    let region = &regions[0];
    let first_svc = &services[0];
    let apply = |h: &mut History, tip: Option<Mark>, msg: &str, owned: &[(String, String)]| {
        let changes: Vec<Change> = owned
            .iter()
            .map(|(p, c)| (p.as_str(), Some(c.as_str())))
            .collect();
        h.main(b, tip, msg, &changes)
    };

    let mut files = vec![
        ("README.md".to_string(), readme(stages)),
        ("root.hcl".to_string(), root_hcl()),
    ];
    for svc in services {
        files.push((format!("_envcommon/{svc}.hcl"), envcommon_hcl(svc)));
    }
    let mut tip = apply(
        &mut h,
        None,
        "Add the root config and the settings every service shares",
        &files,
    );
    for (i, stage) in stages.iter().enumerate() {
        let mut files = vec![(format!("{stage}/env.hcl"), env_hcl(stage, region))];
        for svc in services {
            let desired = if i + 1 == stages.len() { 4 } else { 2 };
            files.push((
                format!("{stage}/{svc}/terragrunt.hcl"),
                unit_hcl(svc, "v1.0.0", desired),
            ));
        }
        let msg = format!("Deploy {} to {stage}", services.join(" and "));
        tip = apply(&mut h, Some(tip), &msg, &files);
    }
    let stack = vec![(
        "stacks/services/terragrunt.stack.hcl".to_string(),
        services_stack(services),
    )];
    tip = apply(&mut h, Some(tip), "Add the services stack", &stack);
    h.milestone_tag("v1.0.0", tip, None);
    let sandbox = vec![(
        "sandbox/terragrunt.stack.hcl".to_string(),
        sandbox_stack(first_svc),
    )];
    tip = apply(
        &mut h,
        Some(tip),
        "Build a sandbox from the services stack",
        &sandbox,
    );
    let templates: Vec<(String, String)> = template_files(first_svc)
        .into_iter()
        .map(|(p, c)| (p.to_string(), c))
        .collect();
    tip = apply(
        &mut h,
        Some(tip),
        "Add a template for new units",
        &templates,
    );
    let promoted = vec![(
        format!("{}/{first_svc}/terragrunt.hcl", stages[0]),
        unit_hcl(first_svc, "v1.1.0", 2),
    )];
    apply(
        &mut h,
        Some(tip),
        &format!("Promote {first_svc} v1.1.0 to {}", stages[0]),
        &promoted,
    );
    h.branch("main");
    h.finish(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_build_their_source_from_envcommon() {
        let unit = unit_hcl("api", "v1.0.0", 2);
        assert!(unit.contains(
            "  path   = \"${dirname(find_in_parent_folders(\"root.hcl\"))}/_envcommon/api.hcl\"\n  expose = true\n"
        ));
        assert!(
            unit.contains("source = \"${include.envcommon.locals.base_source_url}?ref=v1.0.0\"")
        );
        assert!(envcommon_hcl("api")
            .contains("base_source_url = \"git::git@github.com:acme/terraform-acme-api.git//\""));
    }

    #[test]
    fn the_template_is_go_template_text() {
        let [_, (path, text)] = template_files("api");
        assert_eq!(path, "_templates/terragrunt.hcl");
        assert!(text.contains("source = \"{{ .sourceUrl }}\""));
        assert!(text.contains("{{ if .extraProvider }}") && text.contains("{{ end }}"));
        assert!(text.contains("  contents  = <<-EOF\n    provider \"aws\" {\n"));
    }
}
