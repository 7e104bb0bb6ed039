//! Writes objects in bulk: one pack (and its index) per call, never loose objects.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use flate2::write::ZlibEncoder;
use rayon::prelude::*;
use sha1::{Digest, Sha1};

use super::objects::Object;
use super::Error;

fn pack_type(kind: gix::objs::Kind) -> u8 {
    match kind {
        gix::objs::Kind::Commit => 1,
        gix::objs::Kind::Tree => 2,
        gix::objs::Kind::Blob => 3,
        gix::objs::Kind::Tag => 4,
    }
}

fn entry(obj: &Object) -> Vec<u8> {
    let mut out = Vec::with_capacity(obj.data.len() / 2 + 16);
    let mut size = obj.data.len();
    let mut byte = (pack_type(obj.kind) << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
    let mut enc = ZlibEncoder::new(out, flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(&obj.data);
    enc.finish().unwrap_or_default()
}

/// Encodes `objects` as a version-2 pack (no deltas), compressing in parallel.
pub fn encode(objects: &[Object]) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = objects.par_iter().map(entry).collect();
    let total: usize = entries.iter().map(Vec::len).sum();
    let mut pack = Vec::with_capacity(total + 32);
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&(objects.len() as u32).to_be_bytes());
    for e in entries {
        pack.extend_from_slice(&e);
    }
    let digest: [u8; 20] = Sha1::digest(&pack).into();
    pack.extend_from_slice(&digest);
    pack
}

/// Writes `objects` as one pack with its index into `objects_dir/pack`, durable (fsync'd)
/// before returning. Returns the pack path, or `None` when there was nothing to write.
pub fn write(
    objects_dir: &Path,
    objects: &[Object],
    should_interrupt: &AtomicBool,
) -> Result<Option<PathBuf>, Error> {
    if objects.is_empty() {
        return Ok(None);
    }
    let pack_dir = objects_dir.join("pack");
    std::fs::create_dir_all(&pack_dir).map_err(|e| Error::Io {
        path: pack_dir.clone(),
        source: e,
    })?;
    let bytes = encode(objects);
    let mut reader = std::io::Cursor::new(bytes);
    let opts = gix_pack::bundle::write::Options {
        thread_limit: None,
        iteration_mode: gix_pack::data::input::Mode::Verify,
        index_version: gix_pack::index::Version::default(),
        alloc_limit_bytes: None,
        compression: gix::zlib::Compression::BEST_SPEED,
    };
    let outcome = gix_pack::Bundle::write_to_directory(
        &mut reader,
        Some(&pack_dir),
        &mut gix::progress::Discard,
        should_interrupt,
        None::<gix::objs::find::Never>,
        gix::hash::Kind::Sha1,
        opts,
    )
    .map_err(|e| Error::Write {
        path: pack_dir.clone(),
        message: e.to_string(),
    })?;
    if let Some(keep) = &outcome.keep_path {
        let _ = std::fs::remove_file(keep);
    }
    for path in [&outcome.data_path, &outcome.index_path]
        .into_iter()
        .flatten()
    {
        sync(path)?;
    }
    sync(&pack_dir)?;
    Ok(outcome.data_path)
}

/// fsyncs a file or directory.
pub fn sync(path: &Path) -> Result<(), Error> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::Io {
            path: path.to_owned(),
            source: e,
        })
}
