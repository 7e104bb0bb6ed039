//! Renders a [`Plan`] (the dry run) as text, Markdown or JSON.
//!
//! The report only reads values; it never computes what will happen. Every URL passes
//! through [`crate::redact`] on its way out.

mod markdown;
pub mod terraform;
mod text;

use std::io::{self, Write};

use serde::Serialize;

use crate::plan::Plan;

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Human-readable text (the default), coloured on a terminal.
    #[default]
    Text,
    /// Markdown, ready to paste into the migration pull request.
    Markdown,
    /// JSON: the [`Plan`] value itself (schema in the README).
    Json,
}

/// How to render.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The format.
    pub format: Format,
    /// Whether to use ANSI colours (text only).
    pub color: bool,
}

/// Writes `plan` to `out` in the chosen format.
pub fn render(plan: &Plan, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    match opts.format {
        Format::Text => text::render(plan, opts.color, out),
        Format::Markdown => markdown::render(plan, out),
        Format::Json => {
            let redacted = redacted(plan);
            serde_json::to_writer_pretty(&mut *out, &redacted)?;
            writeln!(out)
        }
    }
}

/// Returns a copy of `plan` with every URL redacted, for output.
pub fn redacted(plan: &Plan) -> Plan {
    let mut plan = plan.clone();
    for m in &mut plan.monorepos {
        m.url = crate::redact::url(&m.url);
        for i in &mut m.imports {
            i.url = crate::redact::url(&i.url);
        }
    }
    for w in &mut plan.warnings {
        w.message = crate::redact::text(&w.message);
    }
    plan
}

/// Totals over a plan, shared by the renderers.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub repos: usize,
    pub commits: usize,
    pub branches: usize,
    pub tags: usize,
}

pub(crate) fn totals(plan: &Plan) -> Totals {
    let mut t = Totals::default();
    for i in plan.monorepos.iter().flat_map(|m| &m.imports) {
        t.repos += 1;
        t.commits += i.commits;
        t.branches += i.branches.len();
        t.tags += i.tags.len();
    }
    t
}
