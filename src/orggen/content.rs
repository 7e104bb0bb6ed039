//! The Terraform text of the generated repos: reference modules, service modules and
//! deployments. Every function is pure, so the same options give the same bytes.

/// The org every URL points at.
pub(super) const ORG: &str = "acme";

/// What a reference module creates: its main resource and two typed inputs.
struct Kind {
    resource: &'static str,
    /// The attribute that carries the resource's name (`name`, `bucket`), if any.
    name_attr: Option<&'static str>,
    /// (attribute, type, default, description)
    inputs: [(&'static str, &'static str, &'static str, &'static str); 2],
}

fn kind(module: &str) -> Kind {
    match module {
        "alb" => Kind {
            resource: "aws_lb",
            name_attr: Some("name"),
            inputs: [
                (
                    "load_balancer_type",
                    "string",
                    "\"application\"",
                    "Type of load balancer to create",
                ),
                (
                    "internal",
                    "bool",
                    "false",
                    "Whether the load balancer is internal",
                ),
            ],
        },
        "vpc" => Kind {
            resource: "aws_vpc",
            name_attr: None,
            inputs: [
                (
                    "cidr_block",
                    "string",
                    "\"10.0.0.0/16\"",
                    "The IPv4 CIDR block of the VPC",
                ),
                (
                    "enable_dns_hostnames",
                    "bool",
                    "true",
                    "Enable DNS hostnames in the VPC",
                ),
            ],
        },
        "ecs" => Kind {
            resource: "aws_ecs_cluster",
            name_attr: Some("name"),
            inputs: [
                (
                    "capacity_providers",
                    "list(string)",
                    "[\"FARGATE\"]",
                    "Capacity providers of the cluster",
                ),
                (
                    "container_insights",
                    "bool",
                    "true",
                    "Enable CloudWatch Container Insights",
                ),
            ],
        },
        "s3" => Kind {
            resource: "aws_s3_bucket",
            name_attr: Some("bucket"),
            inputs: [
                ("acl", "string", "\"private\"", "The canned ACL to apply"),
                (
                    "force_destroy",
                    "bool",
                    "false",
                    "Delete all objects when the bucket is destroyed",
                ),
            ],
        },
        "iam" => Kind {
            resource: "aws_iam_role",
            name_attr: Some("name"),
            inputs: [
                ("path", "string", "\"/\"", "Path of the IAM role"),
                (
                    "max_session_duration",
                    "number",
                    "3600",
                    "Maximum session duration in seconds",
                ),
            ],
        },
        "kms" => Kind {
            resource: "aws_kms_key",
            name_attr: None,
            inputs: [
                ("description", "string", "\"\"", "Description of the key"),
                (
                    "deletion_window_in_days",
                    "number",
                    "30",
                    "Days before a deleted key is destroyed",
                ),
            ],
        },
        _ => Kind {
            resource: "aws_ssm_parameter",
            name_attr: Some("name"),
            inputs: [
                ("type", "string", "\"String\"", "Type of the parameter"),
                ("value", "string", "\"unset\"", "Value of the parameter"),
            ],
        },
    }
}

pub(super) fn ident(s: &str) -> String {
    s.replace('-', "_")
}

/// The `create` flag: `create` before v2.0.0, `create_<module>` from v2.0.0 on.
fn create_var(module: &str, version: u8) -> String {
    if version >= 3 {
        format!("create_{}", ident(module))
    } else {
        "create".to_string()
    }
}

/// Pads `lines` of `(key, value)` so their `=` line up, as `terraform fmt` does.
fn aligned(indent: &str, lines: &[(&str, String)]) -> String {
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| format!("{indent}{k:<width$} = {v}\n"))
        .collect()
}

/// A reference module's `main.tf`; `version` 1 (initial), 2 (tags), 3 (v2.0.0 rename).
pub(super) fn ref_main(module: &str, version: u8) -> String {
    let k = kind(module);
    let mut attrs: Vec<(&str, String)> = Vec::new();
    if let Some(attr) = k.name_attr {
        attrs.push((attr, "var.name".into()));
    }
    for (attr, _, _, _) in k.inputs {
        attrs.push((attr, format!("var.{attr}")));
    }
    if version >= 2 {
        attrs.push(("tags", "merge(var.tags, { Name = var.name })".into()));
    }
    format!(
        "# Forked from terraform-aws-modules/{module}/aws; keep the diff to upstream small.\n\
         resource \"{res}\" \"this\" {{\n  count = var.{create} ? 1 : 0\n\n{attrs}}}\n",
        res = k.resource,
        create = create_var(module, version),
        attrs = aligned("  ", &attrs),
    )
}

/// A reference module's `variables.tf`.
pub(super) fn ref_variables(module: &str, version: u8) -> String {
    let k = kind(module);
    let mut out = format!(
        "variable \"{}\" {{\n  description = \"Controls if the {module} resources should be created\"\n  type        = bool\n  default     = true\n}}\n\n\
         variable \"name\" {{\n  description = \"Name to be used on all the resources as identifier\"\n  type        = string\n  default     = \"\"\n}}\n",
        create_var(module, version)
    );
    for (attr, ty, default, description) in k.inputs {
        out.push_str(&format!(
            "\nvariable \"{attr}\" {{\n  description = \"{description}\"\n  type        = {ty}\n  default     = {default}\n}}\n"
        ));
    }
    if version >= 2 {
        out.push_str(
            "\nvariable \"tags\" {\n  description = \"A map of tags to add to all resources\"\n  type        = map(string)\n  default     = {}\n}\n",
        );
    }
    out
}

/// A reference module's `outputs.tf`; `ipv6` adds the dual-stack output of the WIP branch.
pub(super) fn ref_outputs(module: &str, ipv6: bool) -> String {
    let res = kind(module).resource;
    let mut out = format!(
        "output \"id\" {{\n  description = \"The ID of the {module} resource\"\n  value       = try({res}.this[0].id, \"\")\n}}\n\n\
         output \"arn\" {{\n  description = \"The ARN of the {module} resource\"\n  value       = try({res}.this[0].arn, \"\")\n}}\n"
    );
    if ipv6 {
        out.push_str(
            "\noutput \"ipv6_enabled\" {\n  description = \"Whether dual-stack is enabled (WIP)\"\n  value       = var.enable_ipv6\n}\n",
        );
    }
    out
}

/// `versions.tf`; `version` 1: Terraform 0.12 / AWS 2, 2: AWS 3, 3: Terraform 0.13.
pub(super) fn ref_versions(version: u8) -> String {
    let (tf, aws) = match version {
        1 => (">= 0.12.26", ">= 2.68"),
        2 => (">= 0.12.26", ">= 3.0"),
        _ => (">= 0.13.1", ">= 3.63"),
    };
    format!(
        "terraform {{\n  required_version = \"{tf}\"\n\n  required_providers {{\n    aws = {{\n      source  = \"hashicorp/aws\"\n      version = \"{aws}\"\n    }}\n  }}\n}}\n"
    )
}

/// A reference module's README.
pub(super) fn ref_readme(module: &str, version: u8) -> String {
    let mut out = format!(
        "# terraform-aws-{module}\n\nAcme's fork of [terraform-aws-modules/{module}/aws](https://registry.terraform.io/modules/terraform-aws-modules/{module}/aws).\n\n\
         ## Usage\n\n```hcl\nmodule \"{id}\" {{\n  source = \"git::https://github.com/{ORG}/terraform-aws-{module}.git?ref=v1.0.0\"\n\n  name = \"example\"\n}}\n```\n",
        id = ident(module)
    );
    if version >= 2 {
        out.push_str("\n## Inputs\n\n| Name | Description |\n|------|-------------|\n| name | Name to be used on all the resources |\n| tags | A map of tags to add to all resources |\n\n## Outputs\n\n| Name | Description |\n|------|-------------|\n| id | The ID of the resource |\n| arn | The ARN of the resource |\n");
    }
    out
}

/// `timeouts.tf`, added on the feature branch that is merged for v1.1.0.
pub(super) fn ref_timeouts(module: &str) -> String {
    format!(
        "variable \"timeouts\" {{\n  description = \"Create, update and delete timeouts of the {module} resources\"\n  type        = map(string)\n  default     = {{}}\n}}\n"
    )
}

/// `ipv6.tf`, on the unmerged work-in-progress branch.
pub(super) fn ref_ipv6(module: &str) -> String {
    format!(
        "# WIP: dual-stack support for {module}; not released yet.\nvariable \"enable_ipv6\" {{\n  description = \"Assign IPv6 addresses\"\n  type        = bool\n  default     = false\n}}\n"
    )
}

/// `modules/sub/main.tf` of the reference module that has a submodule.
pub(super) fn ref_sub_main(module: &str) -> String {
    format!(
        "# Private subnets of a {module}, usable on their own as\n# \"git::https://github.com/{ORG}/terraform-aws-{module}.git//modules/sub\".\n\
         resource \"aws_subnet\" \"private\" {{\n  count = length(var.cidr_blocks)\n\n  vpc_id            = var.vpc_id\n  cidr_block        = var.cidr_blocks[count.index]\n  availability_zone = element(var.azs, count.index)\n}}\n"
    )
}

/// `modules/sub/variables.tf`.
pub(super) fn ref_sub_variables() -> String {
    "variable \"vpc_id\" {\n  type = string\n}\n\nvariable \"cidr_blocks\" {\n  type    = list(string)\n  default = []\n}\n\nvariable \"azs\" {\n  type    = list(string)\n  default = []\n}\n".to_string()
}

/// `.gitignore` of every module repo.
pub(super) const GITIGNORE: &str =
    ".terraform/\n*.tfstate\n*.tfstate.backup\n.terraform.lock.hcl\n";

/// `locals.tf` written by routine commits: carries the module revision.
pub(super) fn filler_locals(repo: &str, n: usize) -> String {
    format!(
        "locals {{\n  # Bumped by CI on every merge to the default branch.\n  module_revision = \"{n}\"\n\n  default_tags = {{\n    Module   = \"{repo}\"\n    Revision = local.module_revision\n  }}\n}}\n"
    )
}

/// `CHANGELOG.md` written by routine commits: the latest entry only.
pub(super) fn filler_changelog(repo: &str, n: usize, message: &str) -> String {
    format!("# Changelog of {repo}\n\n## Unreleased (revision {n})\n\n- {message}\n")
}

/// `examples/complete/main.tf`: calls the module in the repo root.
pub(super) fn filler_example(module: &str, n: usize) -> String {
    format!(
        "module \"{id}\" {{\n  source = \"../../\"\n\n  name = \"example-{n}\"\n  tags = {{\n    Environment = \"test\"\n  }}\n}}\n",
        id = ident(module)
    )
}

/// Where each source form of a service module points.
pub(super) struct ServiceRefs<'a> {
    /// Reference modules used by the four main calls (https, ssh, scp-like, shorthand).
    pub(super) main: [&'a str; 4],
    /// The reference module with `modules/sub` and the registry fork (`vpc`).
    pub(super) sub: &'a str,
    /// The reference module tracked by branch (`?ref=main`).
    pub(super) branch: &'a str,
    /// The reference module pinned by commit id, and that id.
    pub(super) pinned: (&'a str, &'a str),
}

fn unique_names(wanted: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        let mut name = w.clone();
        let mut n = 2;
        while out.contains(&name) {
            name = format!("{w}_{n}");
            n += 1;
        }
        out.push(name);
    }
    out
}

/// The module call names of a service module's `main.tf`, unique even when the reference
/// list is short: the four main calls, subnets, endpoints, canary, logs, labels, thing.
pub(super) fn service_names(refs: &ServiceRefs<'_>) -> Vec<String> {
    let [r0, r1, r2, r3] = refs.main;
    unique_names(&[
        ident(r0),
        ident(r1),
        ident(r2),
        ident(r3),
        format!("{}_private_subnets", ident(refs.sub)),
        format!("{}_endpoints", ident(refs.sub)),
        format!("{}_canary", ident(refs.branch)),
        format!("{}_logs", ident(refs.pinned.0)),
        "labels".into(),
        "thing".into(),
    ])
}

/// A service module's `main.tf`. `version` 1..=7 adds one source form after the other:
/// 1 https + ssh, 2 scp-like + local, 3 shorthand (v1.0.0), 4 ALB v2.0.0, 5 `//modules/sub`
/// + registry, 6 branch ref + external (v1.1.0), 7 commit id ref.
// Long on purpose (~130 lines): one `main.tf` template, block after block in file order;
// split, the versions that add each source form would be spread over several functions.
pub(super) fn service_main(svc: &str, refs: &ServiceRefs<'_>, version: u8) -> String {
    let [r0, r1, r2, r3] = refs.main;
    let names = service_names(refs);
    let r0_ref = if version >= 4 { "v2.0.0" } else { "v1.0.0" };
    let mut out = format!(
        "# The {svc} service: load balancer, network, containers and storage, built from the\n# reference modules. Keep every source pinned.\n"
    );
    out.push_str(&module_call(
        "",
        &names[0],
        &[&format!(
            "source = \"git::https://github.com/{ORG}/terraform-aws-{r0}.git?ref={r0_ref}\""
        )],
        &[
            ("name", format!("\"${{var.name}}-{r0}\"")),
            ("internal", "false # internet-facing".into()),
            ("tags", "module.labels.tags".into()),
        ],
    ));
    out.push_str(&module_call(
        "",
        &names[1],
        &[&format!(
            "source = \"git::ssh://git@github.com/{ORG}/terraform-aws-{r1}.git?ref=v1.1.0\" # 10.x CIDR plan"
        )],
        &[
            ("name", "module.labels.id".into()),
            ("cidr_block", "\"10.20.0.0/16\"".into()),
            ("tags", "module.labels.tags".into()),
        ],
    ));
    if version >= 2 {
        out.push_str(&module_call(
            "",
            &names[2],
            &[
                "# scp-like address, as copied from the GitHub clone button",
                &format!("source = \"git@github.com:{ORG}/terraform-aws-{r2}.git?ref=v1.0.0\""),
            ],
            &[
                ("name", "module.labels.id".into()),
                ("container_insights", "var.environment == \"prod\"".into()),
                ("tags", "module.labels.tags".into()),
            ],
        ));
        out.push_str(&module_call(
            "",
            &names[8],
            &["source = \"./modules/x\""],
            &[
                ("namespace", format!("\"{ORG}\"")),
                ("name", format!("\"{svc}-${{var.environment}}\"")),
                ("tags", "var.tags".into()),
            ],
        ));
    }
    if version >= 3 {
        out.push_str(&module_call(
            "",
            &names[3],
            &[&format!(
                "source = \"github.com/{ORG}/terraform-aws-{r3}?ref=v1.0.0\""
            )],
            &[
                ("name", "\"${module.labels.id}-artifacts\"".into()),
                ("force_destroy", "var.environment != \"prod\"".into()),
                ("tags", "module.labels.tags".into()),
            ],
        ));
    }
    if version >= 5 {
        let sub = refs.sub;
        out.push_str(&module_call(
            &format!("Only the subnet submodule of the {sub} fork."),
            &names[4],
            &[&format!(
                "source = \"git::https://github.com/{ORG}/terraform-aws-{sub}.git//modules/sub?ref=v1.1.0\""
            )],
            &[
                ("vpc_id", format!("module.{}.id", names[1])),
                ("cidr_blocks", "[\"10.20.1.0/24\", \"10.20.2.0/24\"]".into()),
                ("azs", "[\"a\", \"b\"]".into()),
            ],
        ));
        out.push_str(&module_call(
            "",
            &names[5],
            &[
                &format!("source  = \"terraform-aws-modules/{sub}/aws\" # public registry"),
                "version = \"~> 1.0\"",
            ],
            &[("name", "\"${module.labels.id}-endpoints\"".into())],
        ));
    }
    if version >= 6 {
        out.push_str(&module_call(
            "Canary: follows the default branch of the fork.",
            &names[6],
            &[&format!(
                "source = \"git::https://github.com/{ORG}/terraform-aws-{}.git?ref=main\"",
                refs.branch
            )],
            &[
                ("name", "\"${module.labels.id}-canary\"".into()),
                ("tags", "module.labels.tags".into()),
            ],
        ));
        out.push_str(&module_call(
            "Not ours: stays where it is.",
            &names[9],
            &["source = \"git::https://github.com/other-org/thing.git?ref=v1\""],
            &[("enabled", "true".into())],
        ));
    }
    if version >= 7 {
        let (p, sha) = refs.pinned;
        out.push_str(&module_call(
            "",
            &names[7],
            &[
                "# pinned to an exact commit of the fork (the fix is not tagged yet)",
                &format!(
                    "source = \"git::https://github.com/{ORG}/terraform-aws-{p}.git?ref={sha}\""
                ),
            ],
            &[
                ("name", "\"${module.labels.id}-logs\"".into()),
                ("acl", "\"log-delivery-write\"".into()),
            ],
        ));
    }
    out
}

/// A `module` block after a blank line: an optional comment line above it, the lines before
/// the block's own blank line (`source`, `version`, comments), then the aligned arguments.
fn module_call(comment: &str, name: &str, head: &[&str], args: &[(&str, String)]) -> String {
    let mut s = String::from("\n");
    if !comment.is_empty() {
        s.push_str(&format!("# {comment}\n"));
    }
    s.push_str(&format!("module \"{name}\" {{\n"));
    for line in head {
        s.push_str(&format!("  {line}\n"));
    }
    s.push('\n');
    s.push_str(&aligned("  ", args));
    s.push_str("}\n");
    s
}

/// A service module's `variables.tf`; `cpu` adds the hotfix branch's task CPU input.
pub(super) fn service_variables(svc: &str, cpu: bool) -> String {
    let mut out = format!(
        "variable \"name\" {{\n  description = \"Name prefix of every resource of the {svc} service\"\n  type        = string\n}}\n\n\
         variable \"environment\" {{\n  description = \"Stage this instance runs in\"\n  type        = string\n}}\n\n\
         variable \"desired_count\" {{\n  description = \"Number of {svc} tasks to run\"\n  type        = number\n  default     = 2\n}}\n\n\
         variable \"tags\" {{\n  description = \"Tags added to every resource\"\n  type        = map(string)\n  default     = {{}}\n}}\n"
    );
    if cpu {
        out.push_str(&format!(
            "\nvariable \"task_cpu\" {{\n  description = \"CPU units of one {svc} task\"\n  type        = number\n  default     = 1024 # was 512: OOM under load\n}}\n"
        ));
    }
    out
}

/// A service module's `outputs.tf`.
pub(super) fn service_outputs(first: &str, storage: Option<&str>) -> String {
    let mut out = format!(
        "output \"{first}_id\" {{\n  description = \"ID of the {first}\"\n  value       = module.{first}.id\n}}\n"
    );
    if let Some(s) = storage {
        out.push_str(&format!(
            "\noutput \"artifacts_bucket\" {{\n  description = \"Bucket holding build artifacts\"\n  value       = module.{s}.id\n}}\n"
        ));
    }
    out
}

/// `versions.tf` of service modules and deployments.
pub(super) const SERVICE_VERSIONS: &str = "terraform {\n  required_version = \">= 0.13.1\"\n\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \">= 3.63\"\n    }\n  }\n}\n";

/// A service module's README.
pub(super) fn service_readme(svc: &str) -> String {
    format!(
        "# terraform-{ORG}-{svc}\n\nEverything the {svc} service needs in one stage and region. Deployments call it as\n\n```hcl\nmodule \"{id}\" {{\n  source = \"git::https://github.com/{ORG}/terraform-{ORG}-{svc}.git?ref=v1.1.0\"\n\n  name        = \"{svc}-dev-korea\"\n  environment = \"dev\"\n}}\n```\n",
        id = ident(svc)
    )
}

/// `modules/x/*.tf`: the local naming/tagging submodule of a service module.
pub(super) fn service_labels() -> [(&'static str, String); 3] {
    [
        (
            "modules/x/main.tf",
            "# Naming and tagging conventions shared by every acme resource.\nlocals {\n  id   = lower(join(\"-\", compact([var.namespace, var.name])))\n  tags = merge(var.tags, { Name = local.id })\n}\n".to_string(),
        ),
        (
            "modules/x/variables.tf",
            "variable \"namespace\" {\n  type = string\n}\n\nvariable \"name\" {\n  type = string\n}\n\nvariable \"tags\" {\n  type    = map(string)\n  default = {}\n}\n".to_string(),
        ),
        (
            "modules/x/outputs.tf",
            "output \"id\" {\n  value = local.id\n}\n\noutput \"tags\" {\n  value = local.tags\n}\n".to_string(),
        ),
    ]
}

/// `monitoring.tf.json`: a module call in Terraform's JSON syntax.
pub(super) fn service_monitoring_json(storage: &str) -> String {
    format!(
        "{{\n  \"module\": {{\n    \"access_logs\": {{\n      \"source\": \"git::https://github.com/{ORG}/terraform-aws-{storage}.git?ref=v1.1.0\",\n      \"name\": \"${{module.labels.id}}-access-logs\",\n      \"tags\": \"${{module.labels.tags}}\"\n    }}\n  }}\n}}\n"
    )
}

/// The AWS region of a region name.
pub(super) fn aws_region(region: &str) -> &'static str {
    match region {
        "korea" => "ap-northeast-2",
        "usa" => "us-east-1",
        "japan" => "ap-northeast-1",
        "europe" | "eu" => "eu-west-1",
        _ => "us-west-2",
    }
}

/// One deployment: `<svc>-<kind>-<stage>-<region>`.
pub(super) struct Deployment<'a> {
    pub(super) svc: &'a str,
    pub(super) kind: &'a str,
    pub(super) stage: &'a str,
    pub(super) region: &'a str,
    /// `main.tf` sets the `Name` tag twice, in the module call's `tags` and in a one-line
    /// object in `locals`: Terraform keeps the last, strict HCL parsers refuse the file.
    pub(super) repeated_keys: bool,
}

impl Deployment<'_> {
    /// The repo name.
    pub(super) fn name(&self) -> String {
        format!("{}-{}-{}-{}", self.svc, self.kind, self.stage, self.region)
    }

    /// `main.tf`: calls the service module at `tag`, over https (static) or ssh (dynamic).
    pub(super) fn main_tf(&self, tag: &str, desired: u32) -> String {
        let Deployment {
            svc,
            kind,
            stage,
            region,
            repeated_keys,
        } = self;
        let source = if *kind == "static" {
            format!("git::https://github.com/{ORG}/terraform-{ORG}-{svc}.git?ref={tag}")
        } else {
            format!("git::ssh://git@github.com/{ORG}/terraform-{ORG}-{svc}.git?ref={tag}")
        };
        let (name_tag, renamed, repeated) = if *repeated_keys {
            (
                format!("    Name        = \"{svc}-{stage}-{region}\"\n"),
                format!("    # Renamed in 2021 but the old line stayed: Terraform keeps the last Name.\n    Name = \"{}\"\n", self.name()),
                format!("\nlocals {{\n  legacy_tags = {{ Name = \"{svc}\", Owner = \"platform\", Name = \"{}\" }}\n}}\n", self.name()),
            )
        } else {
            Default::default()
        };
        format!(
            "# {svc}: {kind} resources for {stage} in {region} ({aws}).\nmodule \"{id}\" {{\n  source = \"{source}\"\n\n{attrs}  tags = {{\n{name_tag}    Service     = \"{svc}\"\n    Environment = \"{stage}\"\n    ManagedBy   = \"terraform\"\n{renamed}  }}\n}}\n{repeated}",
            aws = aws_region(region),
            id = ident(svc),
            attrs = aligned(
                "  ",
                &[
                    ("name", format!("\"{svc}-{stage}-{region}\"")),
                    ("environment", format!("\"{stage}\"")),
                    ("desired_count", desired.to_string()),
                ]
            ),
        )
    }

    /// `backend.tf`: the S3 backend keyed by service and kind.
    pub(super) fn backend_tf(&self) -> String {
        let Deployment {
            svc,
            kind,
            stage,
            region,
            ..
        } = self;
        format!(
            "terraform {{\n  backend \"s3\" {{\n    bucket         = \"{ORG}-tfstate-{stage}-{region}\"\n    key            = \"{svc}/{kind}/terraform.tfstate\"\n    region         = \"{aws}\"\n    dynamodb_table = \"{ORG}-tflock-{stage}\"\n    encrypt        = true\n  }}\n}}\n",
            aws = aws_region(region)
        )
    }

    /// `providers.tf`.
    pub(super) fn providers_tf(&self) -> String {
        format!(
            "provider \"aws\" {{\n  region = \"{aws}\"\n\n  default_tags {{\n    tags = {{\n      Stage  = \"{stage}\"\n      Region = \"{region}\"\n    }}\n  }}\n}}\n",
            aws = aws_region(self.region),
            stage = self.stage,
            region = self.region
        )
    }

    /// `terragrunt.hcl` of dynamic deployments.
    pub(super) fn terragrunt_hcl(&self) -> String {
        let Deployment {
            svc, stage, region, ..
        } = self;
        format!(
            "# Dynamic resources are applied with Terragrunt.\nterraform {{\n  source = \"git::git@github.com:{ORG}/terraform-{ORG}-{svc}.git//?ref=v1.0.0\"\n}}\n\n\
             remote_state {{\n  backend = \"s3\"\n  config = {{\n    bucket         = \"{ORG}-tfstate-{stage}-{region}\"\n    key            = \"${{path_relative_to_include()}}/terraform.tfstate\"\n    region         = \"{aws}\"\n    dynamodb_table = \"{ORG}-tflock-{stage}\"\n    encrypt        = true\n  }}\n}}\n\n\
             inputs = {{\n  name        = \"{svc}-{stage}-{region}\"\n  environment = \"{stage}\"\n}}\n",
            aws = aws_region(region)
        )
    }
}
