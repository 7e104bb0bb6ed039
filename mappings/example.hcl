# tfmono mapping: every block and attribute, commented.
# Paths are relative to this file. Run: tfmono plan mappings/example.hcl --repos DIR

inventory     = "repos.txt" # legacy repo URLs or local paths, one a line ('#' comments)
repos_dir     = "legacy"    # local clones of remote URLs: <repos_dir>/<name>.git or <repos_dir>/<name>
unmatched     = "error"     # or "skip": inventory entries no repo/rule matches
same_monorepo = "pinned"    # or "relative": module calls inside one monorepo

# The three monorepos. `url` is what module sources will point at after the rewrite.
monorepo "reference-modules" { url = "git::https://github.com/acme/reference-modules.git" }
monorepo "service-modules"   { url = "git::https://github.com/acme/service-modules.git" }
monorepo "live"              { url = "git::https://github.com/acme/live.git" }

# One repo by name. An explicit repo block wins over any rule matching the same URL.
repo "terraform-aws-alb" {
  url        = "https://github.com/acme/terraform-aws-alb.git"
  into       = "reference-modules"
  path       = "alb"
  tag_prefix = "alb/"                            # default "<path>/"
  registry   = ["terraform-aws-modules/alb/aws"] # registry addresses this repo is a fork of
  branches   = "default"                         # or "all": other branches -> import/<repo>/<branch>
}

# Many repos by pattern over the inventory. {name} fills from the named capture group.
rule "reference" {
  match    = "github.com/acme/terraform-aws-(?P<name>[a-z0-9-]+)"
  into     = "reference-modules"
  path     = "{name}"
  registry = ["terraform-aws-modules/{name}/aws"]
}

rule "service" {
  match    = "github.com/acme/terraform-acme-(?P<svc>[a-z0-9-]+)"
  into     = "service-modules"
  path     = "{svc}"
  branches = "all"
}

rule "deployments" {
  match = "github.com/acme/(?P<svc>[a-z]+)-(?P<kind>static|dynamic)-(?P<stage>dev|prod)-(?P<region>korea|usa)"
  into  = "live"
  path  = "{stage}/{region}/{svc}/{kind}"
}

# Who authors the commits tfmono writes (merges, source rewrites, notes); default: your git
# config user, else tfmono <tfmono@localhost>.
# identity = { name = "Platform Team", email = "platform@example.com" }

# State snapshots named as you pulled them (relative to this file); or pass
# `--states DIR` (DIR/<root with / as __>.tfstate) or `--states 'states/{repo}.tfstate'`.
# snapshots = {
#   "live/prod/korea/api/static"  = "states/api-static-prod-korea.tfstate"
#   "live/prod/korea/api/dynamic" = "states/api-dynamic-prod-korea.tfstate"
# }

# State moves for a root module (<monorepo>/<path> of an imported repo, or a directory
# below one). Checked against snapshots with `tfmono plan --states DIR`; apply writes
# DIR/state/<root>/migrate.sh and rollback.sh.
state "live/prod/korea/api/static" {
  style = "state-mv" # or "moved-blocks": same-state moves become moved {} blocks in moved.tf
  move {
    from = "module.alb"
    to   = "module.api.module.alb"
  }
  move {
    from       = "aws_route53_record.www"
    to         = "aws_route53_record.www"
    from_state = "live/prod/korea/api/dynamic" # cross-state: taken from that root's state
  }
  backend {
    mode = "pin" # or "copy", when the backend key would change with the directory
  }
}
