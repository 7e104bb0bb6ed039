//! Checks each state move's `to` against the root's code at the migrated commit (the legacy
//! default branch's tip): a move whose `to` names a module call or resource the root's
//! `.tf` / `.tf.json` files do not declare is legal for `terraform state mv`, but the next
//! `terraform plan` would destroy what was moved. State moves do not edit code, so this is
//! a warning telling the user to declare it.
//!
//! Only the root's own directory counts (Terraform reads no subdirectory), and only the
//! first step of the address (a nested module's code is another module's). A root whose
//! files do not all parse, or that has no `.tf` file (a Terragrunt unit), is not checked.

use std::collections::BTreeSet;

use super::address::{Address, Mode};
use super::plan::RootPlan;

/// What a root's files declare: module calls and `(mode, type, name)` resources.
#[derive(Debug, Default)]
pub struct Declared {
    modules: BTreeSet<String>,
    resources: BTreeSet<(Mode, String, String)>,
}

impl Declared {
    /// Reads the declarations of the files of one root directory (`(file name, content)`);
    /// `None` when a Terraform file does not parse or there is none.
    pub fn read<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Declared> {
        let mut d = Declared::default();
        let mut any = false;
        for (name, content) in files {
            if name.ends_with(".tf") {
                any = true;
                d.read_hcl(content)?;
            } else if name.ends_with(".tf.json") {
                any = true;
                d.read_json(content)?;
            }
        }
        any.then_some(d)
    }

    fn read_hcl(&mut self, content: &str) -> Option<()> {
        let text = content.strip_prefix('\u{feff}').unwrap_or(content);
        let body = hcl_edit::parser::parse_body(text).ok()?;
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            match (block.ident.as_str(), labels.as_slice()) {
                ("module", [name]) => {
                    self.modules.insert(name.to_string());
                }
                ("resource", [kind, name]) => {
                    self.resources
                        .insert((Mode::Managed, kind.to_string(), name.to_string()));
                }
                ("data", [kind, name]) => {
                    self.resources
                        .insert((Mode::Data, kind.to_string(), name.to_string()));
                }
                _ => {}
            }
        }
        Some(())
    }

    fn read_json(&mut self, content: &str) -> Option<()> {
        let v: serde_json::Value = serde_json::from_str(content).ok()?;
        // Terraform's JSON syntax: `{"module": {"name": {…}}}`, `{"resource": {"type":
        // {"name": {…}}}}`; a block type may also be a list of such objects.
        let objects = |key: &str| -> Vec<serde_json::Map<String, serde_json::Value>> {
            match v.get(key) {
                Some(serde_json::Value::Object(o)) => vec![o.clone()],
                Some(serde_json::Value::Array(a)) => {
                    a.iter().filter_map(|x| x.as_object().cloned()).collect()
                }
                _ => Vec::new(),
            }
        };
        for o in objects("module") {
            self.modules.extend(o.keys().cloned());
        }
        for (key, mode) in [("resource", Mode::Managed), ("data", Mode::Data)] {
            for o in objects(key) {
                for (kind, names) in &o {
                    if let Some(names) = names.as_object() {
                        for name in names.keys() {
                            self.resources.insert((mode, kind.clone(), name.clone()));
                        }
                    }
                }
            }
        }
        Some(())
    }

    /// Whether the code declares what `addr` names at its first step.
    pub fn declares(&self, addr: &Address) -> bool {
        match (addr.module.first(), &addr.resource) {
            (Some(step), _) => self.modules.contains(&step.name),
            (None, Some(r)) => self
                .resources
                .contains(&(r.mode, r.kind.clone(), r.name.clone())),
            (None, None) => true,
        }
    }
}

/// One warning per move of `root` whose `to` the root's code does not declare.
pub fn undeclared(root: &RootPlan, code: &Declared) -> Vec<String> {
    root.moves
        .iter()
        .filter(|m| !code.declares(&m.to))
        .map(|m| {
            let what = match (m.to.module.first(), &m.to.resource) {
                (Some(step), _) => format!("module \"{}\"", step.name),
                (None, Some(r)) if r.mode == Mode::Data => {
                    format!("data \"{}\" \"{}\"", r.kind, r.name)
                }
                (None, Some(r)) => format!("resource \"{}\" \"{}\"", r.kind, r.name),
                (None, None) => String::new(),
            };
            format!(
                "move #{}: `to` {} names {what}, which the root's code at the migrated commit does not declare; state moves do not edit code: declare it (or fix `to`), or the next `terraform plan` destroys what was moved",
                m.number, m.to
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::address::parse;

    #[test]
    fn modules_and_resources_declared_in_hcl_and_json() {
        let d = Declared::read([
            (
                "main.tf",
                "module \"api\" {\n  source = \"./x\"\n}\nresource \"aws_s3_bucket\" \"b\" {}\n",
            ),
            ("extra.tf.json", r#"{"data": {"aws_ami": {"u": {}}}}"#),
            ("README.md", "not terraform"),
        ])
        .expect("parses");
        for ok in [
            "module.api.module.alb",
            "aws_s3_bucket.b[0]",
            "data.aws_ami.u",
        ] {
            assert!(d.declares(&parse(ok).expect("address")), "{ok}");
        }
        for missing in ["module.web", "aws_s3_bucket.c", "aws_ami.u"] {
            assert!(!d.declares(&parse(missing).expect("address")), "{missing}");
        }
    }

    #[test]
    fn a_root_without_terraform_files_or_with_a_broken_one_is_not_checked() {
        assert!(Declared::read([("terragrunt.hcl", "terraform {}")]).is_none());
        assert!(Declared::read([("main.tf", "module \"a\" {")]).is_none());
    }
}
