//! The one module the generated deployments call that is not the org's own:
//! `git::https://github.com/other-org/thing.git?ref=v1`. A real org reaches such modules
//! through the network or a company mirror; the generated org ships the mirror: a bare repo
//! under `external/` and a git config file whose `insteadOf` rule sends the URL there, so
//! `terraform get` (and `verify --terraform`) resolve it offline.

use std::path::{Path, PathBuf};

use super::stream::{Commit, Ident, Importer, Person};
use super::Error;

/// The URL prefix the deployments use for the external module.
const PREFIX: &str = "https://github.com/other-org/";

const MAINTAINER: Person = Person {
    name: "Other Org Maintainer",
    email: "maintainer@other-org.example",
    tz: "+0000",
};

/// The external module: a switch its callers set.
const MAIN_TF: &str = "variable \"enabled\" {\n  description = \"Whether the thing is created.\"\n  type        = bool\n}\n";

/// Writes `dir/external/other-org/thing.git` (tag `v1`) and `dir/external.gitconfig` (the
/// `insteadOf` rule for it); returns the config file's path.
pub(super) fn write(dir: &Path) -> Result<PathBuf, Error> {
    let mirror = dir.join("external").join("other-org");
    std::fs::create_dir_all(&mirror).map_err(|source| Error::Io {
        path: mirror.clone(),
        source,
    })?;
    let mut imp = Importer::start("other-org/thing", &mirror.join("thing.git"), "main")?;
    let when = Ident {
        who: MAINTAINER,
        when: 1_577_836_800,
    };
    let v1 = imp.commit(&Commit {
        branch: "refs/heads/main",
        author: when,
        committer: when,
        message: "thing v1\n",
        parents: &[],
        changes: &[("main.tf", Some(MAIN_TF))],
    });
    imp.lightweight_tag("v1", v1);
    imp.finish(&[])?;
    let mirror = std::path::absolute(&mirror).map_err(|source| Error::Io {
        path: mirror.clone(),
        source,
    })?;
    let config = dir.join("external.gitconfig");
    let text = format!(
        "# The mirror of {PREFIX}: include this file in your git config (or set\n# GIT_CONFIG_GLOBAL to it) to resolve the org's external module offline.\n[url \"file://{}/\"]\n\tinsteadOf = {PREFIX}\n",
        mirror.display()
    );
    std::fs::write(&config, text).map_err(|source| Error::Io {
        path: config.clone(),
        source,
    })?;
    Ok(config)
}
