//! A module registry on 127.0.0.1 for the `terraform get` runs: it serves the registry
//! addresses the mapping declares as forked (`registry = [...]`) from the forks' legacy tags
//! on the legacy side, refuses them on the monorepo side (the migration rewrote every such
//! call, so one still reaching the registry is a difference), and redirects every other
//! address to the real registry host, so it works when the user has the network.
//!
//! Each run gets its own path prefix (`/<run>/<host>/v1/modules/…`), so every request is
//! recorded against the run that made it: a failed run that asked for a module the local
//! registry does not serve was "not checked (needs network)".

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A forked registry module: where its versions come from.
#[derive(Debug, Clone)]
pub struct Fork {
    /// The legacy repo's URL for go-getter (`git::https://github.com/acme/terraform-aws-vpc.git`).
    pub get: String,
    /// (version as the registry lists it, legacy tag name), e.g. (`1.1.0`, `v1.1.0`).
    pub versions: Vec<(String, String)>,
}

/// Which side a run is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Forked addresses are served from the legacy repos.
    Legacy,
    /// Forked addresses are refused.
    Monorepo,
}

/// What one run asked the registry for, beyond the forks it was served.
#[derive(Debug, Clone, Default)]
pub struct RunLog {
    /// Addresses (`host/ns/name/provider`) redirected to the real registry.
    pub external: Vec<String>,
    /// Forked addresses asked for on the monorepo side.
    pub forked: Vec<String>,
}

#[derive(Default)]
struct State {
    runs: HashMap<String, (Side, RunLog)>,
}

/// The running registry; stopped when dropped.
pub struct Registry {
    port: u16,
    forks: Arc<HashMap<(String, String), Fork>>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Registry {
    /// Starts serving `forks`, keyed by (host, `ns/name/provider`) lowercased.
    pub fn start(forks: HashMap<(String, String), Fork>) -> std::io::Result<Registry> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let forks = Arc::new(forks);
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (forks, state, stop) = (forks.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (forks, state) = (forks.clone(), state.clone());
                    std::thread::spawn(move || serve(conn, &forks, &state));
                }
            })
        };
        Ok(Registry {
            port,
            forks,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// Registers run `id` on `side`; returns the base URL its CLI config names.
    pub fn begin(&self, id: &str, side: Side) -> String {
        lock(&self.state)
            .runs
            .insert(id.to_string(), (side, RunLog::default()));
        format!("http://127.0.0.1:{}/{id}", self.port)
    }

    /// Returns what run `id` asked for, forgetting it.
    pub fn finish(&self, id: &str) -> RunLog {
        lock(&self.state)
            .runs
            .remove(id)
            .map(|(_, log)| log)
            .unwrap_or_default()
    }

    /// The registry hosts the CLI config must send here: the public ones and every host
    /// a fork names.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts = vec![
            crate::sources::address::PUBLIC_REGISTRY.to_string(),
            "registry.opentofu.org".to_string(),
        ];
        for (h, _) in self.forks.keys() {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        hosts
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panicking connection thread cannot leave the map half-updated: recover it.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A response: status, headers, body.
type Response = (u16, Vec<(&'static str, String)>, String);

fn serve(conn: TcpStream, forks: &HashMap<(String, String), Fork>, state: &Mutex<State>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read) = conn.try_clone() else { return };
    let mut reader = BufReader::new(read);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, headers, body) = respond(path, forks, state);
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        if status < 300 { "OK" } else { "Not OK" },
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let mut conn = conn;
    let _ = conn.write_all(out.as_bytes());
}

/// Answers `/<run>/<host>/v1/modules/<ns>/<name>/<provider>/versions` and
/// `…/<version>/download`.
fn respond(path: &str, forks: &HashMap<(String, String), Fork>, state: &Mutex<State>) -> Response {
    let not_found = (404, Vec::new(), String::new());
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if parts.len() < 8 || parts[2..4] != ["v1", "modules"] {
        return not_found;
    }
    let (run, host) = (parts[0], parts[1].to_ascii_lowercase());
    let module = parts[4..7].join("/").to_ascii_lowercase();
    let rest = &parts[7..];
    let mut st = lock(state);
    let Some((side, log)) = st.runs.get_mut(run) else {
        return not_found;
    };
    let address = format!("{host}/{module}");
    let Some(fork) = forks.get(&(host.clone(), module)) else {
        log.external.push(address);
        let location = format!("https://{host}/v1/modules/{}", parts[4..].join("/"));
        return (302, vec![("Location", location)], String::new());
    };
    if *side == Side::Monorepo {
        log.forked.push(address);
        return not_found;
    }
    match rest {
        ["versions"] => {
            let versions: Vec<serde_json::Value> = fork
                .versions
                .iter()
                .map(|(v, _)| serde_json::json!({ "version": v }))
                .collect();
            let body = serde_json::json!({ "modules": [{ "versions": versions }] }).to_string();
            (
                200,
                vec![("Content-Type", "application/json".to_string())],
                body,
            )
        }
        [version, "download"] => match fork.versions.iter().find(|(v, _)| v == version) {
            Some((_, tag)) => (
                204,
                vec![("X-Terraform-Get", format!("{}?ref={tag}", fork.get))],
                String::new(),
            ),
            None => not_found,
        },
        _ => not_found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forks() -> HashMap<(String, String), Fork> {
        HashMap::from([(
            (
                "registry.terraform.io".into(),
                "terraform-aws-modules/vpc/aws".into(),
            ),
            Fork {
                get: "git::https://github.com/acme/terraform-aws-vpc.git".into(),
                versions: vec![("1.1.0".into(), "v1.1.0".into())],
            },
        )])
    }

    fn state(run: &str, side: Side) -> Mutex<State> {
        let mut s = State::default();
        s.runs.insert(run.into(), (side, RunLog::default()));
        Mutex::new(s)
    }

    #[test]
    fn legacy_side_lists_fork_versions_and_points_downloads_at_the_tag() {
        let (f, s) = (forks(), state("r1", Side::Legacy));
        let base = "/r1/registry.terraform.io/v1/modules/terraform-aws-modules/vpc/aws";
        let (code, _, body) = respond(&format!("{base}/versions"), &f, &s);
        assert_eq!((code, body.contains("\"1.1.0\"")), (200, true), "{body}");
        let (code, headers, _) = respond(&format!("{base}/1.1.0/download"), &f, &s);
        assert_eq!(code, 204);
        assert_eq!(
            headers[0].1,
            "git::https://github.com/acme/terraform-aws-vpc.git?ref=v1.1.0"
        );
    }

    #[test]
    fn monorepo_side_refuses_forks_and_logs_them() {
        let (f, s) = (forks(), state("r2", Side::Monorepo));
        let p = "/r2/registry.terraform.io/v1/modules/terraform-aws-modules/vpc/aws/versions";
        assert_eq!(respond(p, &f, &s).0, 404);
        let log = &lock(&s).runs["r2"].1;
        assert_eq!(
            log.forked,
            ["registry.terraform.io/terraform-aws-modules/vpc/aws"]
        );
    }

    #[test]
    fn other_addresses_redirect_to_the_real_registry_and_are_logged() {
        let (f, s) = (forks(), state("r3", Side::Legacy));
        let p = "/r3/registry.terraform.io/v1/modules/cloudposse/label/null/versions";
        let (code, headers, _) = respond(p, &f, &s);
        assert_eq!(code, 302);
        assert_eq!(
            headers[0].1,
            "https://registry.terraform.io/v1/modules/cloudposse/label/null/versions"
        );
        assert_eq!(
            lock(&s).runs["r3"].1.external,
            ["registry.terraform.io/cloudposse/label/null"]
        );
    }
}
