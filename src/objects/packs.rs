//! Reading objects straight from a repository's packs: libdeflate for the inflation (whole
//! buffers, about twice zlib's speed on the small objects Terraform repos hold) and deltas
//! resolved here, with a bounded cache of what a chain decoded, so that reading every
//! version of a file, tag after tag, decodes each link of its delta chain about once.
//!
//! It answers only for objects it can read whole from a pack: a loose object, one in an
//! alternate, or any entry it cannot decode gives `None`, and the caller reads it the usual
//! way (which reports real errors). It never gives wrong data: every inflation is checked
//! (zlib checksum, exact size) and every delta result has the size its header says.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use gix::objs::Kind;
use gix::odb::pack;
use gix::ObjectId;

/// The packs of one object directory, opened once and shared by the readers of every thread.
#[derive(Default)]
pub struct Packs {
    packs: Vec<(pack::index::File, pack::data::File)>,
}

impl Packs {
    /// The packs in `objects_dir/pack` (in name order; a pack that does not open is left
    /// out: its objects are read the usual way).
    pub fn open(objects_dir: &Path) -> Packs {
        let packs = pack_indexes(objects_dir)
            .into_iter()
            .filter_map(|idx| {
                let index = pack::index::File::at(&idx, gix::hash::Kind::Sha1).ok()?;
                let data =
                    pack::data::File::at(idx.with_extension("pack"), gix::hash::Kind::Sha1).ok()?;
                Some((index, data))
            })
            .collect();
        Packs { packs }
    }

    /// Where object `id` is: (pack, offset), if a pack holds it.
    pub fn position(&self, id: &ObjectId) -> Option<(usize, u64)> {
        self.locate(id, 0)
    }

    /// The positions among `positions` and their delta chains that are the delta base of
    /// another (read from entry headers only, nothing inflated): what a [`Reader`] reading
    /// exactly those objects needs to keep ([`Reader::keep_only`]).
    pub fn bases(&self, positions: impl Iterator<Item = (usize, u64)>) -> HashSet<(usize, u64)> {
        let mut bases = HashSet::new();
        for mut cur in positions {
            for _ in 0..MAX_CHAIN {
                let Some((_, file)) = self.packs.get(cur.0) else {
                    break;
                };
                let Ok(entry) = file.entry(cur.1) else { break };
                let base = match entry.header {
                    pack::data::entry::Header::OfsDelta { base_distance } => {
                        pack::data::entry::Header::verified_base_pack_offset(cur.1, base_distance)
                            .map(|b| (cur.0, b))
                    }
                    pack::data::entry::Header::RefDelta { base_id } => self.locate(&base_id, cur.0),
                    _ => None,
                };
                // A base seen before had its own chain marked then.
                match base {
                    Some(b) if bases.insert(b) => cur = b,
                    _ => break,
                }
            }
        }
        bases
    }

    /// Where object `id` is: (pack, offset), looking in pack `hint` first (objects read
    /// together are mostly in one pack; a monorepo links a thousand).
    fn locate(&self, id: &ObjectId, hint: usize) -> Option<(usize, u64)> {
        let at = |p: usize| {
            let (index, _) = self.packs.get(p)?;
            index.lookup(id).map(|i| (p, index.pack_offset_at_index(i)))
        };
        at(hint).or_else(|| (0..self.packs.len()).filter(|&p| p != hint).find_map(at))
    }
}

/// The pack index files in `objects_dir/pack`, in name order (none when it cannot be read).
pub fn pack_indexes(objects_dir: &Path) -> Vec<std::path::PathBuf> {
    pack_files(objects_dir, "idx")
}

/// The files of `objects_dir/pack` whose extension is `ext` (`pack`, `idx`), in name order
/// (none when the directory cannot be read).
pub fn pack_files(objects_dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let Ok(read) = std::fs::read_dir(objects_dir.join("pack")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// Decoded objects by (pack, offset), bounded by their total size.
type Cache = HashMap<(usize, u64), (Kind, Arc<Vec<u8>>)>;

/// The bytes of decoded objects a [`Reader`] keeps (it forgets them all when full).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Delta chains longer than this are not followed (git's default limit is 50; a cycle in a
/// damaged pack would never end).
const MAX_CHAIN: usize = 10_000;

/// One thread's reader over shared [`Packs`].
pub struct Reader {
    packs: Arc<Packs>,
    inflate: libdeflater::Decompressor,
    cache: Cache,
    cached_bytes: usize,
    /// The pack the last object was found in.
    last: usize,
    /// When set, the only objects kept in the cache (see [`Reader::keep_only`]).
    keep: Option<Arc<HashSet<(usize, u64)>>>,
}

impl Reader {
    /// A reader over `packs`.
    pub fn new(packs: Arc<Packs>) -> Reader {
        Reader {
            packs,
            inflate: libdeflater::Decompressor::new(),
            cache: Cache::new(),
            cached_bytes: 0,
            last: 0,
            keep: None,
        }
    }

    /// Keeps only the objects at `bases` (as [`Packs::bases`] finds them for the objects
    /// this reader will be asked for) in its cache: the others are read once, and memory
    /// that holds them is used again at once rather than filling the cache.
    pub fn keep_only(&mut self, bases: Arc<HashSet<(usize, u64)>>) {
        self.keep = Some(bases);
    }

    /// Reads `packs` from now on (what it decoded from other packs is forgotten).
    pub fn switch(&mut self, packs: &Arc<Packs>) {
        if !Arc::ptr_eq(&self.packs, packs) {
            self.packs = packs.clone();
            self.cache.clear();
            self.cached_bytes = 0;
            self.last = 0;
        }
    }

    /// The kind and data of object `id`, if a pack holds it and it decodes.
    pub fn find(&mut self, id: &ObjectId) -> Option<(Kind, Arc<Vec<u8>>)> {
        let at = self.packs.locate(id, self.last)?;
        self.last = at.0;
        self.resolve(at)
    }

    /// The object at `at`, its delta chain followed down to a base (or to an object this
    /// reader decoded before) and applied back up.
    fn resolve(&mut self, at: (usize, u64)) -> Option<(Kind, Arc<Vec<u8>>)> {
        let packs = self.packs.clone();
        let mut chain: Vec<((usize, u64), pack::data::Entry)> = Vec::new();
        let mut cur = at;
        let (kind, mut data) = loop {
            if let Some(hit) = self.cache.get(&cur) {
                break hit.clone();
            }
            let (_, file) = packs.packs.get(cur.0)?;
            let entry = file.entry(cur.1).ok()?;
            match entry.header {
                pack::data::entry::Header::OfsDelta { base_distance } => {
                    let base =
                        pack::data::entry::Header::verified_base_pack_offset(cur.1, base_distance)?;
                    chain.push((cur, entry));
                    cur = (cur.0, base);
                }
                pack::data::entry::Header::RefDelta { base_id } => {
                    chain.push((cur, entry));
                    cur = packs.locate(&base_id, cur.0)?;
                }
                header => {
                    let kind = header.as_kind()?;
                    let data = Arc::new(self.inflate(file, &entry)?);
                    self.remember(cur, kind, &data);
                    break (kind, data);
                }
            }
            if chain.len() > MAX_CHAIN {
                return None;
            }
        };
        for (at, entry) in chain.iter().rev() {
            let (_, file) = packs.packs.get(at.0)?;
            let delta = self.inflate(file, entry)?;
            data = Arc::new(apply_delta(&data, &delta)?);
            self.remember(*at, kind, &data);
        }
        Some((kind, data))
    }

    /// The inflated data of `entry` (exactly its size, checksum verified).
    fn inflate(&mut self, file: &pack::data::File, entry: &pack::data::Entry) -> Option<Vec<u8>> {
        let size = usize::try_from(entry.decompressed_size).ok()?;
        // libdeflate stops at the end of the zlib stream: the rest of the pack is not read.
        let zlib = file.entry_slice(entry.data_offset..file.pack_end() as u64)?;
        let mut out = vec![0u8; size];
        let n = self.inflate.zlib_decompress(zlib, &mut out).ok()?;
        (n == size).then_some(out)
    }

    fn remember(&mut self, at: (usize, u64), kind: Kind, data: &Arc<Vec<u8>>) {
        if data.len() > CACHE_BYTES / 4 || self.keep.as_ref().is_some_and(|k| !k.contains(&at)) {
            return;
        }
        if self.cached_bytes + data.len() > CACHE_BYTES {
            self.cache.clear();
            self.cached_bytes = 0;
        }
        if self.cache.insert(at, (kind, data.clone())).is_none() {
            self.cached_bytes += data.len();
        }
    }
}

/// A [`super::tree::Source`] that reads packs through a [`Reader`] first and `repo` for
/// what they do not hold (loose objects, alternates) or cannot decode.
pub struct WithPacks<R> {
    /// The packs.
    pub reader: std::cell::RefCell<Reader>,
    /// Everything else.
    pub repo: R,
}

impl<R: super::tree::Source> super::tree::Source for WithPacks<R> {
    fn find(&self, id: ObjectId) -> Result<(Kind, Vec<u8>), String> {
        let found = self.reader.borrow_mut().find(&id);
        match found {
            Some((kind, data)) => Ok((kind, Arc::unwrap_or_clone(data))),
            None => self.repo.find(id),
        }
    }
}

/// A size in a delta's header (little-endian base-128) at `i`, and the index after it.
fn delta_size(delta: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let mut size = 0usize;
    let mut shift = 0u32;
    loop {
        let byte = *delta.get(i)?;
        i += 1;
        size |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some((size, i));
        }
        shift += 7;
        if shift >= usize::BITS {
            return None;
        }
    }
}

/// Applies git delta `delta` to `base`: the result, or `None` when the delta does not fit
/// the base or its own header (a damaged pack).
pub fn apply_delta(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let (base_len, i) = delta_size(delta, 0)?;
    let (out_len, mut i) = delta_size(delta, i)?;
    if base_len != base.len() {
        return None;
    }
    // A damaged header could claim any size: grow as the instructions say, up to it.
    let mut out = Vec::with_capacity(out_len.min(base.len() + delta.len()));
    while let Some(&cmd) = delta.get(i) {
        i += 1;
        let piece = if cmd & 0x80 != 0 {
            // Copy from the base: offset and size bytes present as the low 7 bits say.
            let mut field = |bits: std::ops::Range<u8>| -> Option<usize> {
                let mut v = 0usize;
                for (n, bit) in bits.enumerate() {
                    if cmd & (1 << bit) != 0 {
                        v |= usize::from(*delta.get(i)?) << (8 * n);
                        i += 1;
                    }
                }
                Some(v)
            };
            let offset = field(0..4)?;
            let size = match field(4..7)? {
                0 => 0x10000,
                n => n,
            };
            base.get(offset..offset.checked_add(size)?)?
        } else if cmd != 0 {
            // Insert the next `cmd` bytes of the delta.
            let piece = delta.get(i..i + usize::from(cmd))?;
            i += usize::from(cmd);
            piece
        } else {
            // Instruction 0 is reserved.
            return None;
        };
        if out.len() + piece.len() > out_len {
            return None;
        }
        out.extend_from_slice(piece);
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A delta header size as git writes it.
    fn size(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn a_delta_copies_and_inserts_into_the_result() {
        let base = b"terraform { required_version = \">= 1.0\" }\n".repeat(4);
        let mut delta = Vec::new();
        size(base.len(), &mut delta);
        let mut expected = base[10..50].to_vec();
        expected.extend_from_slice(b"NEW");
        expected.extend_from_slice(&base[..3]);
        size(expected.len(), &mut delta);
        // Copy 40 bytes at offset 10: offset byte 0, size byte 0.
        delta.extend_from_slice(&[0x80 | 0x01 | 0x10, 10, 40]);
        delta.extend_from_slice(&[3, b'N', b'E', b'W']);
        // Copy 3 bytes at offset 0: no offset byte at all.
        delta.extend_from_slice(&[0x80 | 0x10, 3]);
        assert_eq!(apply_delta(&base, &delta), Some(expected.clone()));

        // Damaged deltas: each gives None, never a panic or wrong data.
        let mut wrong_base = delta.clone();
        wrong_base[0] += 1;
        assert_eq!(apply_delta(&base, &wrong_base), None, "base size");
        let mut short = delta.clone();
        short.pop();
        assert_eq!(apply_delta(&base, &short), None, "truncated copy");
        let mut long = delta.clone();
        long.extend_from_slice(&[1, b'x']);
        assert_eq!(apply_delta(&base, &long), None, "more than the result size");
        let mut reserved = delta.clone();
        reserved.push(0);
        assert_eq!(apply_delta(&base, &reserved), None, "instruction 0");
        let mut beyond = Vec::new();
        size(base.len(), &mut beyond);
        size(4, &mut beyond);
        beyond.extend_from_slice(&[0x80 | 0x01 | 0x10, 200, 4]);
        assert_eq!(apply_delta(&base, &beyond), None, "copy beyond the base");
        let mut insert_past = Vec::new();
        size(base.len(), &mut insert_past);
        size(4, &mut insert_past);
        insert_past.extend_from_slice(&[4, b'a']);
        assert_eq!(
            apply_delta(&base, &insert_past),
            None,
            "insert past the end"
        );
        assert_eq!(apply_delta(&base, &[0x80]), None, "unterminated size");
        assert_eq!(apply_delta(&base, &[0xff; 12]), None, "size overflow");
    }

    #[test]
    fn a_copy_of_size_zero_copies_64_kib() {
        let base: Vec<u8> = (0..0x10010u32).map(|i| (i % 251) as u8).collect();
        let mut delta = Vec::new();
        size(base.len(), &mut delta);
        size(0x10000, &mut delta);
        delta.extend_from_slice(&[0x80 | 0x01, 16]);
        assert_eq!(
            apply_delta(&base, &delta).as_deref(),
            Some(&base[16..0x10010])
        );
    }

    /// Every object of a real repository, packed with deep delta chains by git, reads the
    /// same through [`Reader`] as through gix.
    #[test]
    fn objects_read_from_packs_are_those_git_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@e")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@e")
                .output()
                .expect("git runs");
            assert!(out.status.success(), "git {args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        git(&["init", "-q", "-b", "main"]);
        let mut text = String::new();
        for i in 0..60 {
            text.push_str(&format!(
                "module \"m{i}\" {{\n  source = \"acme/m{i}\"\n}}\n"
            ));
            std::fs::write(dir.path().join("main.tf"), &text).expect("write");
            git(&["add", "main.tf"]);
            git(&["commit", "-q", "-m", &format!("c{i}")]);
        }
        let ids = git(&["rev-list", "--objects", "--all"]);
        // Deltas on an offset (git's default), then on an object id (REF_DELTA).
        for offsets in ["true", "false"] {
            git(&[
                "-c",
                &format!("repack.useDeltaBaseOffset={offsets}"),
                "repack",
                "-adf",
                "--depth=50",
                "--window=50",
                "-q",
            ]);
            let repo = gix::open(dir.path()).expect("open");
            let packs = Arc::new(Packs::open(&dir.path().join(".git/objects")));
            let mut reader = Reader::new(packs);
            let mut blobs = 0;
            for line in ids.lines() {
                let id = ObjectId::from_hex(&line.as_bytes()[..40]).expect("id");
                let (kind, data) = reader.find(&id).expect("in the pack");
                let obj = repo.find_object(id).expect("gix reads it");
                assert_eq!((kind, data.as_slice()), (obj.kind, &obj.data[..]), "{id}");
                blobs += usize::from(kind == Kind::Blob);
            }
            assert!(blobs >= 60, "{blobs} blobs");
        }
        // A loose object is not the reader's: `None`, and the caller asks gix.
        std::fs::write(dir.path().join("loose.tf"), "# loose\n").expect("write");
        let loose = git(&["hash-object", "-w", "loose.tf"]);
        let loose = ObjectId::from_hex(loose.trim().as_bytes()).expect("id");
        let mut reader = Reader::new(Arc::new(Packs::open(&dir.path().join(".git/objects"))));
        assert!(reader.find(&loose).is_none());
        let chained = git(&[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(deltabase)",
        ]);
        assert!(
            chained.lines().filter(|l| !l.starts_with("0000")).count() > 30,
            "the pack has delta chains"
        );
        // The bases of every object's chain are exactly the objects git names as delta
        // bases; a reader keeping only those reads everything the same, and keeps only them.
        let packs = Arc::new(Packs::open(&dir.path().join(".git/objects")));
        let all: Vec<ObjectId> = ids
            .lines()
            .map(|l| ObjectId::from_hex(&l.as_bytes()[..40]).expect("id"))
            .collect();
        let bases = packs.bases(all.iter().filter_map(|id| packs.position(id)));
        let named: HashSet<(usize, u64)> = chained
            .lines()
            .filter(|l| !l.starts_with("0000"))
            .map(|l| {
                let id = ObjectId::from_hex(l.trim().as_bytes()).expect("id");
                packs.position(&id).expect("a base is in the pack")
            })
            .collect();
        assert_eq!(bases, named);
        let bases = Arc::new(bases);
        let mut keeping = Reader::new(packs.clone());
        keeping.keep_only(bases.clone());
        let mut plain = Reader::new(packs);
        for id in &all {
            assert_eq!(keeping.find(id), plain.find(id), "{id}");
        }
        assert!(keeping.cache.keys().all(|at| bases.contains(at)));
        assert!(!keeping.cache.is_empty() && keeping.cache.len() < plain.cache.len());
        // A fresh reader (no cache) reads the newest and the oldest version the same way.
        let mut fresh = Reader::new(Arc::new(Packs::open(&dir.path().join(".git/objects"))));
        let head = git(&["rev-parse", "HEAD:main.tf"]);
        let id = ObjectId::from_hex(head.trim().as_bytes()).expect("id");
        assert_eq!(
            fresh.find(&id).map(|(_, d)| d.len()),
            Some(text.len()),
            "the newest version"
        );
        assert!(fresh.find(&ObjectId::null(gix::hash::Kind::Sha1)).is_none());
    }
}
