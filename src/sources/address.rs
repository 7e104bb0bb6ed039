//! Terraform / Terragrunt module source addresses: parse, inspect, render back.
//!
//! [`Address::parse`] recognises every form Terraform 1.0 (go-getter) and Terragrunt accept
//! and keeps every piece exactly as written, so [`Address::render`] gives back the input
//! byte for byte for anything that was not changed. Only the repo identity ([`RepoKey`]) is
//! normalised.
//!
//! The split follows go-getter: an optional forced getter (`git::`), the query after the
//! first `?`, then the subdirectory after the first `//` that is not the scheme's `://`.
//!
//! [`Address`]'s `Display` and `Debug` are redacted (URL passwords, `sshkey=` values); only
//! [`Address::render`] gives the raw text, for writing files.

use std::fmt;

use crate::redact;

/// A parsed module source address.
#[derive(Clone, PartialEq, Eq)]
pub enum Address {
    /// A git repository: `git::…`, scp-like `git@host:org/repo.git`, `ssh://`, a plain
    /// `https://…/repo.git`, or the `github.com/…` / `bitbucket.org/…` shorthands.
    Git(GitSource),
    /// A module registry address (`[host/]namespace/name/provider[//subdir]`) or a
    /// Terragrunt `tfr://` URL.
    Registry(RegistrySource),
    /// A local path (`./x`, `../x`).
    Local(String),
    /// Anything else (http archives, `s3::`, `gcs::`, `hg::`, `git::file://`, absolute
    /// paths, malformed text): recognised and left alone.
    Other(String),
}

/// A git module source.
#[derive(Clone, PartialEq, Eq)]
pub struct GitSource {
    /// Whether the `git::` forced-getter prefix was written.
    pub forced: bool,
    /// The repository part.
    pub repo: RepoUrl,
    /// The `//subdir` part, without the `//` (`Some("")` for a trailing `//`).
    pub subdir: Option<String>,
    /// The query after `?`, if a `?` was written.
    pub query: Option<Query>,
}

/// How the repository part of a git source is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoStyle {
    /// A URL with a scheme: `https://`, `http://`, `ssh://`, `git://`.
    Url,
    /// scp-like `git@host:org/repo.git`.
    Scp,
    /// The `github.com/org/repo` shorthand.
    GitHub,
    /// The `bitbucket.org/org/repo` shorthand.
    Bitbucket,
}

/// The repository part of a git source, as written, with its normalised identity.
#[derive(Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// How it is written.
    pub style: RepoStyle,
    /// The text as written (for shorthands: the first three path segments).
    pub raw: String,
    /// For shorthands only: extra path segments after the repo (`github.com/o/r/sub` means
    /// subdirectory `sub`), with the leading `/`.
    pub tail: Option<String>,
    /// The normalised repo identity.
    pub key: RepoKey,
}

/// A module registry source.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrySource {
    /// Written as Terragrunt's `tfr://[host]/…` URL.
    pub tfr: bool,
    /// The registry host, if written (`registry.terraform.io`); `None` for the public
    /// registry by default (and for `tfr:///`).
    pub host: Option<String>,
    /// Namespace (`terraform-aws-modules`).
    pub namespace: String,
    /// Module name (`alb`).
    pub name: String,
    /// Target system / provider (`aws`).
    pub provider: String,
    /// The `//subdir` part, without the `//`.
    pub subdir: Option<String>,
    /// The query (`tfr://` only: `version=…`).
    pub query: Option<Query>,
}

/// A query string, argument by argument, exactly as written (not percent-decoded).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Query(pub Vec<QueryArg>);

/// One `key[=value]` query argument.
#[derive(Clone, PartialEq, Eq)]
pub struct QueryArg {
    /// The key as written.
    pub key: String,
    /// The value as written; `None` when there was no `=`.
    pub value: Option<String>,
}

/// A normalised repository identity: lowercase, no scheme, no user, no port, no `git::`, no
/// `.git` suffix; ssh and https forms of one repo are equal, e.g.
/// `github.com/acme/terraform-aws-alb`.
///
/// The whole key is lowercased: GitHub, GitLab and Bitbucket treat owner and repo names
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoKey(String);

impl RepoKey {
    /// Builds a key from `host` and `path` (any case, with or without `.git`, slashes).
    pub fn new(host: &str, path: &str) -> Option<RepoKey> {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let path = path.trim_matches('/');
        let path = path
            .strip_suffix(".git")
            .unwrap_or(path)
            .trim_end_matches('/');
        if host.is_empty() || path.is_empty() {
            return None;
        }
        Some(RepoKey(format!("{host}/{}", path.to_lowercase())))
    }

    /// Returns the key of a repo URL as written in a mapping file or a module source:
    /// `https://github.com/acme/x.git`, `git@github.com:acme/x.git`,
    /// `ssh://git@github.com/acme/x`, `git::https://…`, `github.com/acme/x`. `None` for local
    /// paths and anything that is not a git URL.
    pub fn from_url(url: &str) -> Option<RepoKey> {
        match Address::parse(url.trim()) {
            Address::Git(g) => Some(g.repo.key),
            _ => {
                // Mapping files may name plain https URLs without `.git`.
                let s = url.trim();
                let s = s.strip_prefix("git::").unwrap_or(s);
                let (base, _) = split_query(s);
                let (repo, _) = split_subdir(base);
                match url::Url::parse(repo) {
                    Ok(u) if matches!(u.scheme(), "https" | "http" | "ssh" | "git") => {
                        RepoKey::new(u.host_str()?, u.path())
                    }
                    _ => None,
                }
            }
        }
    }

    /// The key as text (`github.com/acme/x`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host part (`github.com`).
    pub fn host(&self) -> &str {
        self.0.split('/').next().unwrap_or("")
    }

    /// The path after the host (`acme/x`).
    pub fn path(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, p)| p)
    }
}

impl fmt::Display for RepoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Query {
    /// Parses the text after `?`.
    pub fn parse(s: &str) -> Query {
        Query(
            s.split('&')
                .map(|a| match a.split_once('=') {
                    Some((k, v)) => QueryArg {
                        key: k.to_string(),
                        value: Some(v.to_string()),
                    },
                    None => QueryArg {
                        key: a.to_string(),
                        value: None,
                    },
                })
                .collect(),
        )
    }

    /// The value of the first argument named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.as_deref().unwrap_or(""))
    }

    /// Sets the first `key` argument in place (appends it when absent).
    pub fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|a| a.key == key) {
            Some(a) => a.value = Some(value.to_string()),
            None => self.0.push(QueryArg {
                key: key.to_string(),
                value: Some(value.to_string()),
            }),
        }
    }

    /// Removes every `key` argument.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|a| a.key != key);
    }

    /// Whether there are no arguments at all (not even an empty one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The query text without the leading `?`.
    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|a| match &a.value {
                Some(v) => format!("{}={v}", a.key),
                None => a.key.clone(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Query({:?})",
            redact::text(&format!("?{}", self.render()))
        )
    }
}

impl RegistrySource {
    /// `namespace/name/provider` (no host, no subdir).
    pub fn module(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.name, self.provider)
    }

    /// Whether this names the registry module `entry` (`ns/name/provider` or
    /// `host/ns/name/provider`; an omitted host is `registry.terraform.io`), case-insensitively.
    pub fn is(&self, entry: &str) -> bool {
        self.key() == registry_entry_key(entry)
    }

    /// `(host, ns/name/provider)` lowercased, as [`registry_entry_key`] gives for a mapping
    /// entry (an omitted host is `registry.terraform.io`).
    pub fn key(&self) -> (String, String) {
        let host = self
            .host
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or(PUBLIC_REGISTRY);
        (
            host.to_ascii_lowercase(),
            self.module().to_ascii_lowercase(),
        )
    }

    /// The Terragrunt `tfr://` `version` query value.
    pub fn tfr_version(&self) -> Option<&str> {
        self.query.as_ref().and_then(|q| q.get("version"))
    }

    fn render(&self) -> String {
        let mut s = String::new();
        if self.tfr {
            s.push_str("tfr://");
            s.push_str(self.host.as_deref().unwrap_or(""));
            s.push('/');
        } else if let Some(h) = &self.host {
            s.push_str(h);
            s.push('/');
        }
        s.push_str(&self.module());
        push_subdir_and_query(&mut s, self.subdir.as_deref(), self.query.as_ref());
        s
    }
}

/// Appends the `//subdir` and `?query` parts shared by git and registry sources.
fn push_subdir_and_query(s: &mut String, subdir: Option<&str>, query: Option<&Query>) {
    if let Some(d) = subdir {
        s.push_str("//");
        s.push_str(d);
    }
    if let Some(q) = query {
        s.push('?');
        s.push_str(&q.render());
    }
}

/// The public registry's host.
pub const PUBLIC_REGISTRY: &str = "registry.terraform.io";

/// Returns `(host, ns/name/provider)` lowercased for a registry entry of a mapping.
pub fn registry_entry_key(entry: &str) -> (String, String) {
    let e = entry.trim().trim_matches('/').to_ascii_lowercase();
    let parts: Vec<&str> = e.split('/').collect();
    if parts.len() == 4 {
        (parts[0].to_string(), parts[1..].join("/"))
    } else {
        (PUBLIC_REGISTRY.to_string(), e)
    }
}

impl GitSource {
    /// The `ref` query value, if any.
    pub fn git_ref(&self) -> Option<&str> {
        self.query.as_ref().and_then(|q| q.get("ref"))
    }

    /// The module directory inside the repo: the shorthand tail and/or `//subdir`, joined,
    /// without leading/trailing slashes (`None` for the repo root).
    pub fn module_dir(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(t) = &self.repo.tail {
            parts.push(t.trim_matches('/').to_string());
        }
        if let Some(d) = &self.subdir {
            parts.push(d.trim_matches('/').to_string());
        }
        let joined = parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        (!joined.is_empty()).then_some(joined)
    }

    fn render(&self) -> String {
        let mut s = String::new();
        if self.forced {
            s.push_str("git::");
        }
        s.push_str(&self.repo.raw);
        if let Some(t) = &self.repo.tail {
            s.push_str(t);
        }
        push_subdir_and_query(&mut s, self.subdir.as_deref(), self.query.as_ref());
        s
    }
}

/// A query value as go-getter reads it (Go's `url.QueryUnescape`): `%XX` is the byte XX and
/// `+` a space. `None` for a malformed escape or bytes that are not UTF-8.
pub fn decode_query_value(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `s` as a query value that [`decode_query_value`] (and go-getter) reads back as `s`:
/// `%`, `&`, `;` (a separator to Go before 1.17), `+`, `#`, and every byte that is not
/// visible ASCII are percent-encoded; the rest (`/` included) is kept as is.
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_graphic() && !matches!(c, b'%' | b'&' | b';' | b'+' | b'#') {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Splits at the first `?`: `(before, Some(after))`.
fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

/// Splits at the first `//` that is not the scheme's `://` (go-getter's SourceDirSubdir).
fn split_subdir(s: &str) -> (&str, Option<&str>) {
    let offset = s.find("://").map(|i| i + 3).unwrap_or(0);
    match s[offset..].find("//") {
        Some(i) => (&s[..offset + i], Some(&s[offset + i + 2..])),
        None => (s, None),
    }
}

/// Whether `s` is a local path source (Terraform 1.0: `./`, `../`, `.\`, `..\`).
fn is_local(s: &str) -> bool {
    s.starts_with("./") || s.starts_with("../") || s.starts_with(".\\") || s.starts_with("..\\")
}

fn valid_registry_part(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
}

fn valid_provider(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

fn valid_host(s: &str) -> bool {
    let (h, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    (h.contains('.') || h.eq_ignore_ascii_case("localhost"))
        && h.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
}

/// Parses `ns/name/provider` or `host/ns/name/provider` (no subdir, no query).
fn parse_registry_module(s: &str) -> Option<(Option<String>, String, String, String)> {
    let parts: Vec<&str> = s.split('/').collect();
    let (host, rest) = match parts.len() {
        3 => (None, &parts[..]),
        4 => (Some(parts[0]), &parts[1..]),
        _ => return None,
    };
    if let Some(h) = host {
        let lower = h.to_ascii_lowercase();
        if !valid_host(h) || lower == "github.com" || lower == "bitbucket.org" {
            return None;
        }
    }
    if !valid_registry_part(rest[0], 64)
        || !valid_registry_part(rest[1], 64)
        || !valid_provider(rest[2])
    {
        return None;
    }
    Some((
        host.map(str::to_string),
        rest[0].to_string(),
        rest[1].to_string(),
        rest[2].to_string(),
    ))
}

fn parse_tfr(s: &str) -> Option<RegistrySource> {
    let rest = s.strip_prefix("tfr://")?;
    let (host, rest) = rest.split_once('/')?;
    let (base, query) = split_query(rest);
    let (module, subdir) = match base.find("//") {
        Some(i) => (&base[..i], Some(&base[i + 2..])),
        None => (base, None),
    };
    let (h2, namespace, name, provider) = parse_registry_module(module)?;
    if h2.is_some() {
        return None;
    }
    Some(RegistrySource {
        tfr: true,
        host: Some(host.to_string()).filter(|h| !h.is_empty()),
        namespace,
        name,
        provider,
        subdir: subdir.map(str::to_string),
        query: query.map(Query::parse),
    })
    .filter(|r| {
        // `tfr:///x` has no host; `tfr://h/x` must name a valid one.
        r.host.as_deref().is_none_or(valid_host)
    })
}

/// Parses an scp-like `git@host:path` (no scheme). Returns `(host, path)`.
fn parse_scp(s: &str) -> Option<(&str, &str)> {
    if s.contains("://") {
        return None;
    }
    let rest = s.strip_prefix("git@")?;
    let (host, path) = rest.split_once(':')?;
    if host.is_empty()
        || path.is_empty()
        || !host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
    {
        return None;
    }
    Some((host, path))
}

/// Parses a shorthand `github.com/org/repo[/more]` (case-insensitive host).
fn parse_shorthand(s: &str, host: &str, style: RepoStyle) -> Option<RepoUrl> {
    let head = s.get(..host.len())?;
    if !head.eq_ignore_ascii_case(host) || s.as_bytes().get(host.len()) != Some(&b'/') {
        return None;
    }
    let parts: Vec<&str> = s.splitn(4, '/').collect();
    if parts.len() < 3 || parts[1].is_empty() || parts[2].is_empty() {
        return None;
    }
    let raw_len = parts[0].len() + parts[1].len() + parts[2].len() + 2;
    let tail = (parts.len() == 4).then(|| s[raw_len..].to_string());
    Some(RepoUrl {
        style,
        raw: s[..raw_len].to_string(),
        tail,
        key: RepoKey::new(parts[0], &format!("{}/{}", parts[1], parts[2]))?,
    })
}

/// Parses a URL with a scheme; returns the repo key when it is a git-capable scheme.
fn parse_scheme_url(s: &str) -> Option<(String, RepoKey)> {
    let u = url::Url::parse(s).ok()?;
    let scheme = u.scheme().to_ascii_lowercase();
    if !matches!(scheme.as_str(), "https" | "http" | "ssh" | "git") {
        return None;
    }
    let key = RepoKey::new(u.host_str()?, u.path())?;
    Some((scheme, key))
}

/// Classifies the repository part (no forced prefix, no subdir, no query).
fn parse_repo(repo: &str, forced: bool) -> Option<RepoUrl> {
    if let Some(r) = parse_shorthand(repo, "github.com", RepoStyle::GitHub) {
        return Some(r);
    }
    if let Some(r) = parse_shorthand(repo, "bitbucket.org", RepoStyle::Bitbucket) {
        return Some(r);
    }
    if let Some((host, path)) = parse_scp(repo) {
        return Some(RepoUrl {
            style: RepoStyle::Scp,
            raw: repo.to_string(),
            tail: None,
            key: RepoKey::new(host, path)?,
        });
    }
    let (scheme, key) = parse_scheme_url(repo)?;
    // Without `git::`, an http(s) URL is a git repo only when it says so with `.git`
    // (otherwise go-getter fetches it over HTTP).
    if !forced && scheme.starts_with("http") && !repo.trim_end_matches('/').ends_with(".git") {
        return None;
    }
    Some(RepoUrl {
        style: RepoStyle::Url,
        raw: repo.to_string(),
        tail: None,
        key,
    })
}

impl Address {
    /// Parses a module source address. Never fails: unknown forms are [`Address::Other`].
    pub fn parse(s: &str) -> Address {
        if is_local(s) {
            return Address::Local(s.to_string());
        }
        if s.starts_with("tfr://") {
            return match parse_tfr(s) {
                Some(r) => Address::Registry(r),
                None => Address::Other(s.to_string()),
            };
        }
        let (forced, rest) = match s.strip_prefix("git::") {
            Some(r) => (true, r),
            None => (false, s),
        };
        if !forced {
            if s.contains("::") {
                return Address::Other(s.to_string());
            }
            // Registry: `[host/]ns/name/provider[//subdir]`, never with a query.
            if !s.contains('?') && !s.contains("://") {
                let (module, subdir) = split_subdir(s);
                if let Some((host, namespace, name, provider)) = parse_registry_module(module) {
                    return Address::Registry(RegistrySource {
                        tfr: false,
                        host,
                        namespace,
                        name,
                        provider,
                        subdir: subdir.map(str::to_string),
                        query: None,
                    });
                }
            }
        }
        let (base, query) = split_query(rest);
        let (repo, subdir) = split_subdir(base);
        match parse_repo(repo, forced) {
            Some(repo) => Address::Git(GitSource {
                forced,
                repo,
                subdir: subdir.map(str::to_string),
                query: query.map(Query::parse),
            }),
            None => Address::Other(s.to_string()),
        }
    }

    /// The address exactly as it is to be written (secrets included: for files only).
    pub fn render(&self) -> String {
        match self {
            Address::Git(g) => g.render(),
            Address::Registry(r) => r.render(),
            Address::Local(s) | Address::Other(s) => s.clone(),
        }
    }

    /// The repo key, for git sources.
    pub fn repo_key(&self) -> Option<&RepoKey> {
        match self {
            Address::Git(g) => Some(&g.repo.key),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    /// The redacted form, for humans.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact::text(&self.render()))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Address::Git(_) => "Git",
            Address::Registry(_) => "Registry",
            Address::Local(_) => "Local",
            Address::Other(_) => "Other",
        };
        write!(f, "{kind}({:?})", redact::text(&self.render()))
    }
}

impl fmt::Debug for GitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GitSource({:?})", redact::text(&self.render()))
    }
}

impl fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RepoUrl({:?}, {:?}, key {})",
            self.style,
            redact::text(&self.raw),
            self.key
        )
    }
}

impl fmt::Debug for RegistrySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegistrySource({:?})", redact::text(&self.render()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(s: &str) -> String {
        RepoKey::from_url(s)
            .map(|k| k.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn git_forms_parse_into_parts() {
        let Address::Git(g) =
            Address::parse("git::https://Host.example/org/repo.git//sub/dir?ref=v1.2.0&depth=1")
        else {
            panic!("git")
        };
        assert!(g.forced);
        assert_eq!(g.repo.style, RepoStyle::Url);
        assert_eq!(g.repo.raw, "https://Host.example/org/repo.git");
        assert_eq!(g.subdir.as_deref(), Some("sub/dir"));
        assert_eq!(g.git_ref(), Some("v1.2.0"));
        assert_eq!(g.query.as_ref().and_then(|q| q.get("depth")), Some("1"));
        assert_eq!(g.repo.key.as_str(), "host.example/org/repo");

        let Address::Git(g) = Address::parse("git@github.com:acme/x.git//m?ref=v1") else {
            panic!("scp")
        };
        assert_eq!((g.forced, g.repo.style), (false, RepoStyle::Scp));
        assert_eq!(g.module_dir().as_deref(), Some("m"));

        let Address::Git(g) = Address::parse("github.com/acme/x/modules/y?ref=v2") else {
            panic!("shorthand")
        };
        assert_eq!(g.repo.style, RepoStyle::GitHub);
        assert_eq!(g.repo.tail.as_deref(), Some("/modules/y"));
        assert_eq!(g.module_dir().as_deref(), Some("modules/y"));
        assert_eq!(g.repo.key.as_str(), "github.com/acme/x");

        let Address::Git(g) = Address::parse("bitbucket.org/acme/x") else {
            panic!("bitbucket")
        };
        assert_eq!(g.repo.style, RepoStyle::Bitbucket);
    }

    #[test]
    fn kinds_are_recognised() {
        let kind = |s: &str| match Address::parse(s) {
            Address::Git(_) => "git",
            Address::Registry(_) => "registry",
            Address::Local(_) => "local",
            Address::Other(_) => "other",
        };
        for (s, k) in [
            ("git::https://github.com/acme/x.git", "git"),
            ("git::ssh://git@github.com/acme/x.git", "git"),
            ("ssh://git@github.com/acme/x.git", "git"),
            ("git::git@github.com:acme/x.git//sub?ref=v1", "git"),
            ("https://github.com/acme/x.git", "git"),
            ("https://github.com/acme/x.git//sub?ref=v1", "git"),
            ("https://example.com/module.zip", "other"),
            ("https://example.com/module", "other"),
            ("s3::https://s3.amazonaws.com/b/m.zip", "other"),
            (
                "gcs::https://www.googleapis.com/storage/v1/b/m.zip",
                "other",
            ),
            ("hg::http://example.com/repo", "other"),
            ("git::file:///tmp/repo", "other"),
            ("/abs/path", "other"),
            ("./modules/x", "local"),
            ("../x", "local"),
            ("terraform-aws-modules/alb/aws", "registry"),
            ("terraform-aws-modules/alb/aws//modules/lb", "registry"),
            ("app.terraform.io/acme/alb/aws", "registry"),
            (
                "tfr:///terraform-aws-modules/vpc/aws?version=3.0.0",
                "registry",
            ),
            (
                "tfr://registry.terraform.io/terraform-aws-modules/vpc/aws?version=3.0.0",
                "registry",
            ),
            ("github.com/acme/x", "git"),
            ("github.com/acme/x/y", "git"),
            ("bitbucket.org/acme/x", "git"),
            ("github.com/acme", "other"),
            ("acme/x", "other"),
            ("", "other"),
        ] {
            assert_eq!(kind(s), k, "{s}");
        }
    }

    #[test]
    fn registry_parts_and_matching() {
        let Address::Registry(r) = Address::parse("terraform-aws-modules/alb/aws//modules/x")
        else {
            panic!("registry")
        };
        assert_eq!(r.module(), "terraform-aws-modules/alb/aws");
        assert_eq!(r.subdir.as_deref(), Some("modules/x"));
        assert!(r.is("terraform-aws-modules/alb/aws"));
        assert!(r.is("registry.terraform.io/terraform-aws-modules/alb/aws"));
        assert!(!r.is("app.terraform.io/terraform-aws-modules/alb/aws"));
        let Address::Registry(r) =
            Address::parse("registry.terraform.io/terraform-aws-modules/alb/aws")
        else {
            panic!("registry")
        };
        assert!(r.is("terraform-aws-modules/alb/aws"));
        let Address::Registry(r) =
            Address::parse("tfr:///terraform-aws-modules/vpc/aws?version=3.0.0")
        else {
            panic!("tfr")
        };
        assert!(r.tfr && r.host.is_none());
        assert_eq!(r.tfr_version(), Some("3.0.0"));
        assert!(r.is("terraform-aws-modules/vpc/aws"));
    }

    #[test]
    fn repo_keys_normalise() {
        let want = "github.com/acme/terraform-aws-alb";
        for s in [
            "https://github.com/acme/terraform-aws-alb.git",
            "https://GitHub.com/acme/terraform-aws-alb",
            "git::https://github.com/acme/terraform-aws-alb.git",
            "git@github.com:acme/terraform-aws-alb.git",
            "git::git@github.com:acme/terraform-aws-alb.git",
            "ssh://git@github.com/acme/terraform-aws-alb",
            "ssh://git@github.com:22/acme/terraform-aws-alb.git",
            "git::ssh://git@github.com/acme/terraform-aws-alb.git",
            "github.com/acme/terraform-aws-alb",
            "https://user:pw@github.com/acme/terraform-aws-alb.git/",
            "https://github.com/acme/Terraform-AWS-ALB.git",
        ] {
            assert_eq!(key(s), want, "{s}");
        }
        assert_eq!(key("./x"), "");
        assert_eq!(key("terraform-aws-modules/alb/aws"), "");
        assert_eq!(
            key("https://gitlab.example.com/group/sub/repo.git"),
            "gitlab.example.com/group/sub/repo"
        );
    }

    #[test]
    fn display_and_debug_are_redacted() {
        let a = Address::parse(
            "git::https://bob:hunter2@github.com/acme/x.git?ref=v1&sshkey=SECRETKEY",
        );
        let shown = format!("{a} {a:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("SECRETKEY"),
            "{shown}"
        );
        if let Address::Git(g) = &a {
            let dbg = format!("{g:?} {:?} {:?}", g.repo, g.query);
            assert!(
                !dbg.contains("hunter2") && !dbg.contains("SECRETKEY"),
                "{dbg}"
            );
        }
        // The raw rendering keeps everything (it is what gets written back).
        assert!(a.render().contains("SECRETKEY"));
    }

    #[test]
    fn odd_text_never_panics_and_round_trips() {
        for s in [
            " 0\u{10000} \u{10000}a",
            "github.com\u{20ac}/x/y",
            "GITHUB.COM/a/b",
            "git::",
            "git::?",
            "tfr://",
            "tfr:///",
            "tfr://bad host/a/b/c",
            "//",
            "?",
            "git@:",
            "git@h:",
            "\u{20ac}\u{20ac}",
            "a/b/c/d/e",
        ] {
            assert_eq!(Address::parse(s).render(), s, "{s:?}");
        }
    }

    #[test]
    fn query_values_decode_and_encode_like_go() {
        assert_eq!(
            decode_query_value("release%2F1.0").as_deref(),
            Some("release/1.0")
        );
        assert_eq!(
            decode_query_value("release%2f1.0").as_deref(),
            Some("release/1.0")
        );
        assert_eq!(decode_query_value("a+b").as_deref(), Some("a b"));
        assert_eq!(decode_query_value("v1.0.0").as_deref(), Some("v1.0.0"));
        assert_eq!(decode_query_value("%E2%9C%93").as_deref(), Some("\u{2713}"));
        for bad in ["%", "%2", "%zz", "%FF"] {
            assert_eq!(decode_query_value(bad), None, "{bad}");
        }
        assert_eq!(encode_query_value("alb/release/1.0"), "alb/release/1.0");
        assert_eq!(
            encode_query_value("a&b;c+d#e%f g"),
            "a%26b%3Bc%2Bd%23e%25f%20g"
        );
        for s in ["alb/release/1.0", "a&b;c+d#e%f g", "\u{2713}=x?y"] {
            assert_eq!(
                decode_query_value(&encode_query_value(s)).as_deref(),
                Some(s)
            );
        }
    }

    #[test]
    fn query_edits_keep_order() {
        let mut q = Query::parse("depth=1&ref=v1&sshkey=abc&flag");
        q.set("ref", "alb/v1");
        assert_eq!(q.render(), "depth=1&ref=alb/v1&sshkey=abc&flag");
        q.remove("ref");
        assert_eq!(q.render(), "depth=1&sshkey=abc&flag");
        q.set("ref", "x");
        assert_eq!(q.render(), "depth=1&sshkey=abc&flag&ref=x");
    }

    fn segment() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9_-]{0,8}[a-z0-9]"
    }

    fn address() -> impl Strategy<Value = String> {
        let host = prop_oneof![
            Just("github.com".to_string()),
            Just("GitHub.com".to_string()),
            Just("gitlab.example.com".to_string()),
            Just("bitbucket.org".to_string()),
        ];
        let repo = (host, segment(), segment(), any::<bool>(), 0..7u8).prop_map(
            |(h, o, r, dotgit, style)| {
                let g = if dotgit { ".git" } else { "" };
                match style {
                    0 => format!("https://{h}/{o}/{r}{g}"),
                    1 => format!("ssh://git@{h}/{o}/{r}{g}"),
                    2 => format!("git@{h}:{o}/{r}{g}"),
                    3 => format!("https://user:tok@{h}/{o}/{r}{g}"),
                    4 => format!("github.com/{o}/{r}"),
                    5 => format!("bitbucket.org/{o}/{r}"),
                    _ => format!("{h}/{o}/{r}{g}"),
                }
            },
        );
        let sub = proptest::option::of("[a-z0-9/_.-]{0,12}");
        let query = proptest::option::of(proptest::collection::vec(
            (
                "(ref|depth|sshkey|x)",
                proptest::option::of("[A-Za-z0-9./_%+-]{0,10}"),
            ),
            0..4,
        ));
        let git = (any::<bool>(), repo, sub, query).prop_map(|(forced, repo, sub, q)| {
            let mut s = if forced { format!("git::{repo}") } else { repo };
            if let Some(d) = sub {
                s.push_str("//");
                s.push_str(&d);
            }
            if let Some(q) = q {
                s.push('?');
                let args: Vec<String> = q
                    .into_iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k,
                    })
                    .collect();
                s.push_str(&args.join("&"));
            }
            s
        });
        let registry = (
            proptest::option::of(prop_oneof![
                Just("registry.terraform.io/".to_string()),
                Just("app.terraform.io/".to_string()),
                Just("tfr:///".to_string()),
                Just("tfr://registry.terraform.io/".to_string()),
            ]),
            segment(),
            segment(),
            "[a-z0-9]{1,6}",
            proptest::option::of("[a-z0-9/]{0,8}"),
        )
            .prop_map(|(h, n, m, p, sub)| {
                let tfr = h.as_deref().is_some_and(|h| h.starts_with("tfr:"));
                let mut s = format!("{}{n}/{m}/{p}", h.unwrap_or_default());
                if let Some(d) = sub {
                    s.push_str("//");
                    s.push_str(&d);
                }
                if tfr {
                    s.push_str("?version=1.0.0");
                }
                s
            });
        let other = prop_oneof![
            "\\./[a-z/.]{0,10}",
            "\\.\\./[a-z/.]{0,10}",
            "(s3|gcs|hg)::https://[a-z.]{1,10}/[a-z/]{0,10}",
            "https://[a-z.]{1,10}/[a-z/]{0,10}\\.zip",
            "git::file:///[a-z/]{0,10}",
            ".{0,30}",
        ];
        prop_oneof![git, registry, other]
    }

    proptest! {
        #[test]
        fn render_parse_round_trips(s in address()) {
            prop_assert_eq!(Address::parse(&s).render(), s);
        }

        #[test]
        fn git_keys_ignore_form(o in segment(), r in segment()) {
            let forms = [
                format!("https://github.com/{o}/{r}.git"),
                format!("git::ssh://git@github.com/{o}/{r}.git?ref=v1"),
                format!("git@github.com:{o}/{r}.git"),
                format!("github.com/{o}/{r}//sub?ref=v2"),
            ];
            let keys: Vec<_> = forms.iter().map(|f| key(f)).collect();
            prop_assert!(keys.iter().all(|k| k == &format!("github.com/{o}/{r}")), "{:?}", keys);
        }
    }
}
