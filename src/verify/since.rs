//! What a verify proved, kept in `.tfmono/verified.json` so that `verify --since-last`
//! checks only what is new since.
//!
//! Per legacy repo it holds the legacy tips (every branch and tag, peeled) whose whole
//! history was proven to have identical images, with each tip's image; per monorepo, the
//! `main` that was proven to contain the imports, and those imports' images. A recorded tip
//! is used as a boundary only while the commit map still gives it the recorded image and
//! that image is in the monorepo: an image's id covers its whole ancestry, so every image
//! below it is still the one that was proven. Anything else means a full walk of that repo.

use std::collections::{BTreeMap, BTreeSet};

use gix::ObjectId;
use serde::{Deserialize, Serialize};

use crate::history::CommitMap;

/// The record: by monorepo name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// What was proven in each monorepo.
    pub monorepos: BTreeMap<String, VerifiedMonorepo>,
}

/// What was proven in one monorepo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedMonorepo {
    /// The `main` that was proven to contain [`Self::contained`] (hex), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// The images (hex) `main` was proven to contain.
    #[serde(default)]
    pub contained: BTreeSet<String>,
    /// By legacy repo name.
    pub repos: BTreeMap<String, VerifiedRepo>,
}

/// What was proven of one legacy repo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedRepo {
    /// Where its history is in the monorepo.
    pub path: String,
    /// Legacy tip (hex) -> its image (hex): every commit below these has an identical image.
    pub tips: BTreeMap<String, String>,
}

impl VerifiedRepo {
    /// The record of `tips` (legacy commits whose whole history was just proven) of the repo
    /// at `path`; `None` when one has no image.
    pub(super) fn of(
        path: &str,
        tips: &[ObjectId],
        image_of: &impl Fn(&ObjectId) -> Option<ObjectId>,
    ) -> Option<Self> {
        let tips = tips
            .iter()
            .map(|t| Some((t.to_string(), image_of(t)?.to_string())))
            .collect::<Option<_>>()?;
        Some(VerifiedRepo {
            path: path.to_string(),
            tips,
        })
    }

    /// The recorded tips still usable as boundaries of the repo `repo` at `path`: all of
    /// them when the path is the same and every tip still has the recorded image, present
    /// in `mono`, and is still in `legacy`; none otherwise (the repo is walked in full).
    pub(super) fn boundaries(
        &self,
        repo: &str,
        path: &str,
        map: &CommitMap,
        mono: &gix::Repository,
        legacy: &gix::Repository,
    ) -> Vec<ObjectId> {
        if self.path != path {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.tips.len());
        for (tip, image) in &self.tips {
            let (Ok(tip), Ok(image)) = (
                ObjectId::from_hex(tip.as_bytes()),
                ObjectId::from_hex(image.as_bytes()),
            ) else {
                return Vec::new();
            };
            if map.get(repo, &tip) != Some(image) || !mono.has_object(image) {
                return Vec::new();
            }
            // A tip gone from the legacy repo (a force-push, then gc) bounds nothing.
            if legacy.has_object(tip) {
                out.push(tip);
            }
        }
        out
    }
}
