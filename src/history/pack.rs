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

fn entry(obj: &Object, z: &mut flate2::Compress) -> Vec<u8> {
    let mut out = Vec::with_capacity(obj.data.len() / 2 + 64);
    let mut size = obj.data.len();
    let mut byte = (pack_type(obj.kind) << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
    if obj.data.len() < STORE_BELOW {
        stored(&obj.data, &mut out);
        return out;
    }
    z.reset();
    let header = out.len();
    out.reserve(obj.data.len() + obj.data.len() / 1000 + 64);
    loop {
        let consumed = z.total_in() as usize;
        let status = z.compress_vec(
            &obj.data[consumed..],
            &mut out,
            flate2::FlushCompress::Finish,
        );
        match status {
            Ok(flate2::Status::StreamEnd) => break,
            Ok(_) => out.reserve(out.capacity().max(64)),
            Err(_) => {
                // Compressing into memory does not fail; fall back to the streaming encoder.
                out.truncate(header);
                let mut enc = ZlibEncoder::new(out, flate2::Compression::fast());
                let _ = enc.write_all(&obj.data);
                return enc.finish().unwrap_or_default();
            }
        }
    }
    out
}

/// Objects smaller than this are written as zlib "stored" blocks: resetting a deflate
/// state clears ~200 KB of tables, which costs more than compressing a 250-byte commit
/// saves (a 1-entry wrapper tree does not compress at all). `git gc` recompresses later.
const STORE_BELOW: usize = 1024;

/// Appends `data` as a zlib stream of uncompressed (stored) deflate blocks.
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

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// A pack in memory: its bytes, and per object its id, offset and entry CRC32.
pub struct Encoded {
    /// The whole pack file including the trailing checksum.
    pub bytes: Vec<u8>,
    /// `(id, offset, crc32)` per object, in pack order.
    pub entries: Vec<(gix::ObjectId, u64, u32)>,
}

/// Encodes `objects` as a version-2 pack (no deltas), compressing in parallel.
pub fn encode(objects: &[Object]) -> Encoded {
    let compressed: Vec<Vec<u8>> = objects
        .par_iter()
        .map_init(
            || flate2::Compress::new(flate2::Compression::fast(), true),
            |z, o| entry(o, z),
        )
        .collect();
    let total: usize = compressed.iter().map(Vec::len).sum();
    let mut bytes = Vec::with_capacity(total + 32);
    bytes.extend_from_slice(b"PACK");
    bytes.extend_from_slice(&2u32.to_be_bytes());
    bytes.extend_from_slice(&(objects.len() as u32).to_be_bytes());
    let mut entries = Vec::with_capacity(objects.len());
    for (obj, e) in objects.iter().zip(compressed) {
        let mut crc = flate2::Crc::new();
        crc.update(&e);
        entries.push((obj.id, bytes.len() as u64, crc.sum()));
        bytes.extend_from_slice(&e);
    }
    let digest: [u8; 20] = Sha1::digest(&bytes).into();
    bytes.extend_from_slice(&digest);
    Encoded { bytes, entries }
}

/// Encodes the version-2 index of an encoded pack.
pub fn index(pack: &Encoded) -> Vec<u8> {
    let mut sorted: Vec<&(gix::ObjectId, u64, u32)> = pack.entries.iter().collect();
    sorted.sort_by_key(|a| a.0);
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
    idx.extend_from_slice(&pack.bytes[pack.bytes.len() - 20..]);
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
    if objects.is_empty() {
        return Ok(None);
    }
    let pack_dir = objects_dir.join("pack");
    std::fs::create_dir_all(&pack_dir).map_err(|e| Error::Io {
        path: pack_dir.clone(),
        source: e,
    })?;
    let pack = encode(objects);
    if should_interrupt.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let idx = index(&pack);
    let hex: String = pack.bytes[pack.bytes.len() - 20..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let pack_path = pack_dir.join(format!("pack-{hex}.pack"));
    let idx_path = pack_dir.join(format!("pack-{hex}.idx"));
    for (path, bytes) in [(&pack_path, &pack.bytes), (&idx_path, &idx)] {
        let tmp = path.with_extension("tmp-tfmono");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
    }
    sync(&pack_dir)?;
    Ok(Some(pack_path))
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
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(&out[..])
                .read_to_end(&mut back)
                .expect("valid zlib");
            assert_eq!(back, data, "length {len}");
        }
    }
}
