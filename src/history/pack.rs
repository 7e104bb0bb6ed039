//! Writes objects in bulk: one pack (and its index) per call, never loose objects.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use rayon::prelude::*;
use sha1::{Digest, Sha1};

use super::Error;
use crate::objects::Object;

fn pack_type(kind: gix::objs::Kind) -> u8 {
    match kind {
        gix::objs::Kind::Commit => 1,
        gix::objs::Kind::Tree => 2,
        gix::objs::Kind::Blob => 3,
        gix::objs::Kind::Tag => 4,
    }
}

/// The entry header of an object: type and size, as a little-endian base-128 varint.
fn header(obj: &Object) -> ([u8; 10], usize) {
    let mut out = [0u8; 10];
    let mut len = 0;
    let mut size = obj.data.len();
    let mut byte = (pack_type(obj.kind) << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        out[len] = byte | 0x80;
        len += 1;
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out[len] = byte;
    (out, len + 1)
}

/// Appends the entry of `obj` (header and zlib stream) to `out`: stored blocks below
/// [`STORE_BELOW`] bytes (and trees below [`STORE_TREES_BELOW`]), deflate above.
fn entry(obj: &Object, z: &mut flate2::Compress, out: &mut Vec<u8>) {
    let start = out.len();
    let (head, head_len) = header(obj);
    out.extend_from_slice(&head[..head_len]);
    if is_stored(obj) {
        stored(&obj.data, out);
        return;
    }
    let body = out.len();
    z.reset();
    out.reserve(deflate_bound(obj.data.len()));
    loop {
        let consumed = z.total_in() as usize;
        let status = z.compress_vec(&obj.data[consumed..], out, flate2::FlushCompress::Finish);
        match status {
            Ok(flate2::Status::StreamEnd) => return,
            Ok(_) => out.reserve(out.capacity().max(64)),
            Err(_) => {
                // Compressing into memory does not fail; stored blocks are always valid.
                out.truncate(body);
                stored(&obj.data, out);
                debug_assert!(out.len() > start);
                return;
            }
        }
    }
}

/// Room enough for `len` bytes deflated (zlib's bound, with a margin).
fn deflate_bound(len: usize) -> usize {
    len + len / 1000 + 64
}

/// The size of the entry of an object written as stored blocks.
fn stored_entry_len(obj: &Object) -> usize {
    header(obj).1 + stored_len(obj.data.len())
}

/// Objects smaller than this are written as zlib "stored" blocks: resetting a deflate
/// state clears ~200 KB of tables, which costs more than compressing a 250-byte commit
/// saves (a 1-entry wrapper tree does not compress at all). `git gc` recompresses later.
const STORE_BELOW: usize = 1024;

/// Trees (object ids and names: they barely compress; e.g. the notes fan-out trees) are
/// stored below this size.
const STORE_TREES_BELOW: usize = 64 * 1024;

/// Whether `obj` is written as stored blocks rather than deflated.
fn is_stored(obj: &Object) -> bool {
    let limit = match obj.kind {
        gix::objs::Kind::Tree => STORE_TREES_BELOW,
        _ => STORE_BELOW,
    };
    obj.data.len() < limit
}

/// The size of `data` as a zlib stream of stored blocks (see [`stored`]).
fn stored_len(len: usize) -> usize {
    let blocks = len.div_ceil(0xffff).max(1);
    2 + 5 * blocks + len + 4
}

/// Appends `data` as a zlib stream of uncompressed (stored) deflate blocks
/// ([`stored_len`] bytes).
fn stored(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
}

/// The Adler-32 of `data` (libdeflate's, vectorised: most entries are stored blocks).
fn adler32(data: &[u8]) -> u32 {
    libdeflater::adler32(data)
}

/// Objects encoded together into one chunk (one buffer, sized up front).
const RUN: usize = 2048;

/// Runs encoded in parallel before they are written out in order: the buffers of one
/// window are used again for the next, so a pack of any size is built in a few MB that
/// are touched once (fresh memory costs more than the encoding on some machines).
const WINDOW: usize = 8;

/// `(id, offset, crc32)` of one pack entry.
type IndexEntry = (gix::ObjectId, u64, u32);

/// The bytes of one run of entries, and per entry its offset in them and its crc32.
type EncodedRun = (Vec<u8>, Vec<(u64, u32)>);

/// Where the pack's bytes go, in order, and what is known of them so far.
struct Out<'a, I> {
    sink: &'a mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send),
    hash: Sha1,
    /// The offset of the next byte.
    base: u64,
    entries: Vec<IndexEntry>,
    /// The ids of the objects not written yet, in order.
    ids: I,
}

impl<I: Iterator<Item = gix::ObjectId>> Out<'_, I> {
    /// Hashes and hands `runs` to the sink in order, recording their entries; returns their
    /// buffers, emptied, for the runs to come.
    fn write(&mut self, runs: Vec<EncodedRun>) -> std::io::Result<Vec<Vec<u8>>> {
        let mut spare = Vec::with_capacity(runs.len());
        for (mut buf, meta) in runs {
            for (offset, crc) in meta {
                if let Some(id) = self.ids.next() {
                    self.entries.push((id, self.base + offset, crc));
                }
            }
            self.base += buf.len() as u64;
            self.hash.update(&buf);
            (self.sink)(&buf)?;
            buf.clear();
            spare.push(buf);
        }
        Ok(spare)
    }
}

/// Encodes `objects` as a version-2 pack (no deltas), runs of objects in parallel, handing
/// the pack's bytes in order to `sink`, and counting each run on `task`. A window of runs is
/// hashed and written while the next one is encoded. Returns `(id, offset, crc32)` per
/// object, in pack order, and the pack's checksum (SHA-1 over every byte before it; not
/// given to `sink`).
fn encode_into(
    objects: &[Object],
    task: &dyn crate::progress::Task,
    sink: &mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send),
) -> std::io::Result<(Vec<IndexEntry>, [u8; 20])> {
    let mut head = Vec::with_capacity(12);
    head.extend_from_slice(b"PACK");
    head.extend_from_slice(&2u32.to_be_bytes());
    head.extend_from_slice(&(objects.len() as u32).to_be_bytes());
    let mut out = Out {
        sink,
        hash: Sha1::new(),
        base: 0,
        entries: Vec::with_capacity(objects.len()),
        ids: objects.iter().map(|o| o.id),
    };
    out.write(vec![(head, Vec::new())])?;
    let mut spare: Vec<Vec<u8>> = Vec::new();
    // One deflate state per thread for the whole pack (making one clears ~300 KB).
    let states: Vec<std::sync::Mutex<flate2::Compress>> = (0..rayon::current_num_threads())
        .map(|_| std::sync::Mutex::new(flate2::Compress::new(flate2::Compression::fast(), true)))
        .collect();
    let runs: Vec<&[Object]> = objects.chunks(RUN).collect();
    let mut ready: Vec<EncodedRun> = Vec::new();
    for window in runs.chunks(WINDOW) {
        let bufs: Vec<Vec<u8>> = window
            .iter()
            .map(|_| spare.pop().unwrap_or_default())
            .collect();
        let written = std::mem::take(&mut ready);
        let (encoded, emptied) = rayon::join(
            || encode_window(window, bufs, &states, task),
            || out.write(written),
        );
        spare.extend(emptied?);
        ready = encoded;
    }
    out.write(ready)?;
    Ok((out.entries, out.hash.finalize().into()))
}

/// The entries of the runs of `window`, encoded in parallel into `bufs` (one per run; a
/// buffer too small for its run is replaced: growing would copy it), each thread with its
/// deflate state in `states`.
fn encode_window(
    window: &[&[Object]],
    bufs: Vec<Vec<u8>>,
    states: &[std::sync::Mutex<flate2::Compress>],
    task: &dyn crate::progress::Task,
) -> Vec<EncodedRun> {
    window
        .par_iter()
        .zip(bufs)
        .map(|(run, mut buf)| {
            let slot = rayon::current_thread_index().unwrap_or(0) % states.len();
            let mut z = states[slot].lock().unwrap_or_else(|e| e.into_inner());
            // Room for the whole run up front (deflate's worst case for the others): a
            // buffer that grows copies itself, touching twice the memory it ends with.
            let room: usize = run
                .iter()
                .map(|o| match is_stored(o) {
                    true => stored_entry_len(o),
                    false => header(o).1 + deflate_bound(o.data.len()),
                })
                .sum();
            if buf.capacity() < room {
                buf = Vec::with_capacity(room);
            }
            let mut meta = Vec::with_capacity(run.len());
            for o in *run {
                let start = buf.len();
                entry(o, &mut z, &mut buf);
                meta.push((start as u64, crc32fast::hash(&buf[start..])));
            }
            task.inc(run.len() as u64);
            (buf, meta)
        })
        .collect()
}

/// Encodes the version-2 index of a pack whose entries are `entries` (`(id, offset,
/// crc32)`, in any order) and whose checksum is `checksum`.
fn index(mut entries: Vec<IndexEntry>, checksum: &[u8; 20]) -> Vec<u8> {
    // By id; the first 8 bytes as an integer decide almost every comparison.
    entries.sort_unstable_by_key(|a| {
        let b = a.0.as_bytes();
        (
            u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            a.0,
        )
    });
    let sorted = entries;
    let mut idx = Vec::with_capacity(8 + 1024 + sorted.len() * 28 + 40);
    idx.extend_from_slice(&[0xff, b't', b'O', b'c']);
    idx.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for (id, _, _) in &sorted {
        fanout[id.as_bytes()[0] as usize] += 1;
    }
    let mut running = 0u32;
    for f in fanout {
        running += f;
        idx.extend_from_slice(&running.to_be_bytes());
    }
    for (id, _, _) in &sorted {
        idx.extend_from_slice(id.as_bytes());
    }
    for (_, _, crc) in &sorted {
        idx.extend_from_slice(&crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for (_, offset, _) in &sorted {
        if *offset < 0x8000_0000 {
            idx.extend_from_slice(&(*offset as u32).to_be_bytes());
        } else {
            idx.extend_from_slice(&(0x8000_0000u32 | large.len() as u32).to_be_bytes());
            large.push(*offset);
        }
    }
    for offset in large {
        idx.extend_from_slice(&offset.to_be_bytes());
    }
    idx.extend_from_slice(checksum);
    let digest: [u8; 20] = Sha1::digest(&idx).into();
    idx.extend_from_slice(&digest);
    idx
}

/// Writes `objects` as one pack with its index into `objects_dir/pack`, durable (fsync'd)
/// before returning: the pack first, then its index (git only sees a pack through its
/// index). Returns the pack path, or `None` when there was nothing to write.
pub fn write(
    objects_dir: &Path,
    objects: &[Object],
    should_interrupt: &AtomicBool,
) -> Result<Option<PathBuf>, Error> {
    write_reporting(
        objects_dir,
        objects,
        should_interrupt,
        &crate::progress::NoTask,
    )
}

/// [`write`], counting each object encoded on `task`.
pub fn write_reporting(
    objects_dir: &Path,
    objects: &[Object],
    should_interrupt: &AtomicBool,
    task: &dyn crate::progress::Task,
) -> Result<Option<PathBuf>, Error> {
    if objects.is_empty() {
        return Ok(None);
    }
    let pack_dir = objects_dir.join("pack");
    std::fs::create_dir_all(&pack_dir).map_err(super::output_io(&pack_dir))?;
    // The pack goes to a temporary file as it is encoded, while its checksum (which names
    // it) is computed.
    let tmp_pack = pack_dir.join(format!("tmp-tfmono-{}.pack", std::process::id()));
    // Every failure below is one of writing the output (a full disk, mostly).
    let io = super::output_io;
    let mut file = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&tmp_pack).map_err(io(&tmp_pack))?,
    );
    let (entries, checksum) =
        encode_into(objects, task, &mut |bytes| file.write_all(bytes)).map_err(io(&tmp_pack))?;
    if should_interrupt.load(std::sync::atomic::Ordering::Relaxed) {
        drop(file);
        let _ = std::fs::remove_file(&tmp_pack);
        return Err(Error::Interrupted);
    }
    let mut file = file
        .into_inner()
        .map_err(|e| e.into_error())
        .map_err(io(&tmp_pack))?;
    file.write_all(&checksum)
        .and_then(|()| file.sync_all())
        .map_err(io(&tmp_pack))?;
    drop(file);
    let idx = index(entries, &checksum);
    let mut hex = [0u8; 40];
    let hex = gix::ObjectId::from(checksum)
        .hex_to_buf(&mut hex)
        .to_string();
    let pack_path = pack_dir.join(format!("pack-{hex}.pack"));
    let idx_path = pack_dir.join(format!("pack-{hex}.idx"));
    std::fs::rename(&tmp_pack, &pack_path).map_err(io(&pack_path))?;
    let tmp_idx = idx_path.with_extension("tmp-tfmono");
    let write_idx = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp_idx)?;
        f.write_all(&idx)?;
        f.sync_all()?;
        std::fs::rename(&tmp_idx, &idx_path)
    };
    write_idx().map_err(io(&idx_path))?;
    sync(&pack_dir)?;
    Ok(Some(pack_path))
}

/// fsyncs a file or directory of the output directory.
pub fn sync(path: &Path) -> Result<(), Error> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(super::output_io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn stored_streams_inflate_to_the_input() {
        for len in [0usize, 1, 250, 65535, 65536, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut out = Vec::new();
            stored(&data, &mut out);
            assert_eq!(out.len(), stored_len(data.len()));
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(&out[..])
                .read_to_end(&mut back)
                .expect("valid zlib");
            assert_eq!(back, data, "length {len}");
        }
    }

    #[test]
    fn a_pack_of_many_windows_is_the_pack_of_its_objects_and_git_reads_it() {
        // More objects than one window of runs holds, some deflated, some stored, with
        // buffers used again from window to window.
        let n = RUN * WINDOW * 2 + 123;
        let objects: Vec<Object> = (0..n)
            .map(|i| {
                let len = if i % 97 == 0 { 5000 + i % 300 } else { i % 700 };
                // Distinct objects (a pack holds each once): the index first.
                let mut data = (i as u64).to_le_bytes().to_vec();
                data.extend((0..len).map(|k| ((k * 31 + i) % 251) as u8));
                Object::new(gix::objs::Kind::Blob, data)
            })
            .collect();
        let mut bytes = Vec::new();
        let (entries, checksum) = encode_into(&objects, &crate::progress::NoTask, &mut |b| {
            bytes.extend_from_slice(b);
            Ok(())
        })
        .expect("in memory");
        assert_eq!(entries.len(), n);
        assert_eq!(checksum, <[u8; 20]>::from(Sha1::digest(&bytes)));
        // Each entry where the index says, inflating to its object.
        for (o, (id, offset, crc)) in objects.iter().zip(&entries) {
            assert_eq!(*id, o.id);
            let at = *offset as usize;
            let (head, head_len) = header(o);
            assert_eq!(&bytes[at..at + head_len], &head[..head_len]);
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(&bytes[at + head_len..])
                .read_to_end(&mut back)
                .expect("valid zlib");
            assert_eq!(back, o.data);
            let end = entries
                .iter()
                .map(|e| e.1)
                .filter(|&e| e > *offset)
                .min()
                .unwrap_or(bytes.len() as u64) as usize;
            assert_eq!(*crc, crc32fast::hash(&bytes[at..end]));
        }
        // Written to disk, git checks it whole.
        let tmp = tempfile::tempdir().expect("tempdir");
        let stop = AtomicBool::new(false);
        let pack = write(tmp.path(), &objects, &stop)
            .expect("written")
            .expect("a pack");
        let on_disk = std::fs::read(&pack).expect("read pack");
        assert_eq!(&on_disk[..bytes.len()], &bytes[..]);
        assert_eq!(&on_disk[bytes.len()..], &checksum[..]);
        let out = std::process::Command::new("git")
            .arg("verify-pack")
            .arg(pack.with_extension("idx"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git verify-pack: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("pack"))
            .expect("pack dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("tmp-tfmono"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn an_interrupted_pack_leaves_nothing_behind() {
        let objects: Vec<Object> = (0..5000u32)
            .map(|i| Object::new(gix::objs::Kind::Blob, i.to_le_bytes().to_vec()))
            .collect();
        let tmp = tempfile::tempdir().expect("tempdir");
        let stop = AtomicBool::new(true);
        let result = write(tmp.path(), &objects, &stop);
        assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("pack"))
            .expect("pack dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
