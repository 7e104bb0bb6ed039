//! Renders a [`Plan`] (the dry run) as text, Markdown or JSON.
//!
//! Every format opens with the same [`summary::Summary`] (counts, and every item that
//! needs attention), then the detail, grouped: per-tag rewrites collapse to one entry per
//! distinct change with the tags it applies to; sources left alone on purpose are counted
//! per repo (listed with `verbose`, or folded in Markdown).
//!
//! The report only reads values; it never computes what will happen. Every URL passes
//! through [`crate::redact`] on its way out.

mod group;
mod markdown;
pub mod summary;
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

pub use markdown::BUDGET as MARKDOWN_BUDGET;

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The format.
    pub format: Format,
    /// Whether to use ANSI colours (text only).
    pub color: bool,
    /// Text: list every source left alone (not only their counts per repo).
    pub verbose: bool,
    /// Markdown: the name of the file holding the full detail ([`render_detail`]), which
    /// the main report mentions.
    pub detail: Option<String>,
}

/// Writes `plan` to `out` in the chosen format. Markdown stays under
/// [`MARKDOWN_BUDGET`] characters.
pub fn render(plan: &Plan, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    match opts.format {
        Format::Text => text::render(plan, opts.color, opts.verbose, out),
        Format::Markdown => {
            markdown::render(plan, markdown::Mode::Main, opts.detail.as_deref(), out)
        }
        Format::Json => {
            let redacted = redacted(plan);
            let report = JsonReport {
                summary: summary::summarize(&redacted),
                plan: &redacted,
            };
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)
        }
    }
}

/// Writes the full detail of `plan` as Markdown, with no size limit: every rewrite, every
/// tag, every source left alone.
pub fn render_detail(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    markdown::render(plan, markdown::Mode::Detail, None, out)
}

/// The JSON report: the summary first, then the plan's own fields.
#[derive(Serialize)]
struct JsonReport<'a> {
    summary: summary::Summary,
    #[serde(flatten)]
    plan: &'a Plan,
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
