//! Renders the Terraform proof ([`verify::terraform::Outcome`](crate::verify::terraform::Outcome))
//! as text, as a Markdown table for the migration pull request, or as JSON for CI.
//!
//! Every text that came from Terraform's output was redacted when the outcome was built;
//! lines quoted from files pass through [`crate::redact::text`] here.

use std::io::{self, Write};

use super::Format;
use crate::redact;
use crate::verify::terraform::{Difference, Outcome, RootReport, Status};

/// How many differences are printed per root in text and Markdown (JSON has them all).
const SHOWN: usize = 5;

/// Writes `outcome` to `out` in `format`.
pub fn render(outcome: &Outcome, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Text => text(outcome, out),
        Format::Markdown => markdown(outcome, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, outcome)?;
            writeln!(out)
        }
    }
}

fn verdict(r: &RootReport) -> (&'static str, String) {
    match &r.status {
        Status::Identical => (
            "identical",
            format!("{} modules, {} files", r.compared.modules, r.compared.files),
        ),
        Status::Differs { differences } => {
            ("DIFFERS", format!("{} difference(s)", differences.len()))
        }
        Status::NotChecked { reason } => ("not checked", reason.clone()),
        Status::Skipped { reason } => ("skipped", reason.clone()),
    }
}

/// `module "api.alb", main.tf line 3: content differs`.
fn place(d: &Difference) -> String {
    let module = if d.module.is_empty() {
        "the root module".to_string()
    } else {
        format!("module \"{}\"", d.module)
    };
    let mut s = module;
    if let Some(f) = &d.file {
        s.push_str(&format!(", {f}"));
    }
    if let Some(l) = d.line {
        s.push_str(&format!(" line {l}"));
    }
    format!("{s}: {}", d.message)
}

fn text(outcome: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    for r in &outcome.roots {
        let (what, detail) = verdict(r);
        writeln!(out, "{}: {what} ({detail})", r.root.name)?;
        if let Some(n) = &r.note {
            writeln!(out, "  note: {n}")?;
        }
        if let Status::Differs { differences } = &r.status {
            for d in differences.iter().take(SHOWN) {
                writeln!(out, "  {}", place(d))?;
                if let Some(l) = &d.legacy {
                    writeln!(out, "    legacy:   {}", redact::text(l))?;
                }
                if let Some(l) = &d.monorepo {
                    writeln!(out, "    monorepo: {}", redact::text(l))?;
                }
            }
            if differences.len() > SHOWN {
                writeln!(out, "  … and {} more", differences.len() - SHOWN)?;
            }
        }
    }
    writeln!(out, "{}", outcome.summary())
}

/// Escapes `|` and newlines for a Markdown table cell.
fn cell(s: &str) -> String {
    redact::text(s).replace('|', "\\|").replace('\n', " ")
}

fn markdown(outcome: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "### Module resolution proved with `terraform get`\n")?;
    writeln!(out, "{}\n", outcome.summary())?;
    writeln!(out, "| root | legacy repo | result | details |")?;
    writeln!(out, "|---|---|---|---|")?;
    for r in &outcome.roots {
        let (what, detail) = verdict(r);
        let detail = match &r.status {
            Status::Differs { differences } => differences
                .iter()
                .take(SHOWN)
                .map(|d| {
                    let mut s = place(d);
                    if let (Some(a), Some(b)) = (&d.legacy, &d.monorepo) {
                        s.push_str(&format!(": `{}` → `{}`", a.trim(), b.trim()));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join("<br>"),
            _ => detail,
        };
        let detail = match &r.note {
            Some(n) => format!("{detail} ({n})"),
            None => detail,
        };
        let what = if what == "DIFFERS" {
            "**differs**"
        } else {
            what
        };
        writeln!(
            out,
            "| `{}` | {} | {what} | {} |",
            r.root.name,
            cell(&r.root.repo),
            cell(&detail)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::terraform::{Counts, Kind, Root};

    fn outcome() -> Outcome {
        let root = |name: &str| Root {
            name: name.to_string(),
            monorepo: "live".into(),
            dir: name.trim_start_matches("live/").into(),
            repo: "r|x".into(),
            legacy_dir: String::new(),
            kind: Kind::Terraform,
            backend: true,
        };
        Outcome {
            tool: "Terraform v1.0.3".into(),
            roots: vec![
                RootReport {
                    root: root("live/a"),
                    status: Status::Identical,
                    compared: Counts {
                        modules: 3,
                        files: 9,
                    },
                    note: None,
                },
                RootReport {
                    root: root("live/b"),
                    status: Status::Differs {
                        differences: vec![Difference {
                            module: "api".into(),
                            file: Some("main.tf".into()),
                            line: Some(4),
                            legacy: Some("n = 1".into()),
                            monorepo: Some("n = 2".into()),
                            message: "content differs".into(),
                        }],
                    },
                    compared: Counts::default(),
                    note: None,
                },
            ],
        }
    }

    #[test]
    fn text_names_root_module_file_and_line() {
        let mut buf = Vec::new();
        render(&outcome(), Format::Text, &mut buf).expect("renders");
        let s = String::from_utf8(buf).expect("utf-8");
        assert!(s.contains("live/a: identical (3 modules, 9 files)"), "{s}");
        assert!(s.contains("live/b: DIFFERS"), "{s}");
        assert!(
            s.contains("module \"api\", main.tf line 4: content differs"),
            "{s}"
        );
        assert!(s.ends_with("1 of 2 roots identical, 1 differ\n"), "{s}");
    }

    #[test]
    fn markdown_is_a_table_with_escaped_cells() {
        let mut buf = Vec::new();
        render(&outcome(), Format::Markdown, &mut buf).expect("renders");
        let s = String::from_utf8(buf).expect("utf-8");
        assert!(
            s.contains("| `live/b` | r\\|x | **differs** | module \"api\", main.tf line 4"),
            "{s}"
        );
    }
}
