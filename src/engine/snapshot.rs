//! Engine snapshots: a layer as the engine built it, written to a file, so that the next start
//! serves tiles from it at once instead of reading and generalising every feature again
//! (issue #20: a million parcels take about 20 s to build, their snapshot well under one to read).
//!
//! A snapshot is the layer's flat arrays ([`super::layer::Segment`], [`super::level::Level`]) in
//! the order they are written, each as a length and its bytes, between a header and a checksum:
//!
//! ```text
//! MAGIC · format · machizu version · layer id · definition hash · store CRS · store version
//! arrays …
//! xxh3-64 of everything above
//! ```
//!
//! It is used only when all of the header matches what the process would build now — the same
//! format and machizu version, the same layer definition and CRS, and the store's layer version
//! ([`crate::store::Store::layer_version`], moved by triggers whenever the layer's rows
//! change) — and the checksum holds. Anything else is discarded with the reason
//! ([`SnapshotError`]) and the layer is built from the store, never served from a stale or damaged
//! file. The R-tree and the value lookup are not in the file: they are made on first use.
//!
//! Written to a temporary file and renamed, so a crash while writing leaves the old snapshot or
//! none, never half of one.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytemuck::Pod;
use xxhash_rust::xxh3::Xxh3;

use super::EngineError;
use super::layer::{LayerData, Segment};
use crate::catalog::LayerDef;
use crate::crs::Epsg;

const MAGIC: &[u8; 8] = b"MACHIZU\x1a";

/// The layout of the arrays: bumped whenever what is written changes.
pub const FORMAT: u32 = 4;

/// Why a snapshot was not used (or not written).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("there is no snapshot")]
    Missing,
    #[error("while reading or writing the snapshot: {0}")]
    Io(#[source] std::io::Error),
    #[error("the snapshot is damaged: {0}")]
    Corrupt(String),
    #[error("the snapshot was written by machizu {version} (format {format}), not by this one")]
    OtherVersion { version: String, format: u32 },
    #[error("the snapshot is of another definition of the layer or another store CRS")]
    OtherDefinition,
    #[error("the snapshot is stale: built from layer version {built}, the store is at {current}")]
    Stale { built: u64, current: u64 },
    #[error("only a layer as built from the store is written, not one with changes since")]
    Changed,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<std::io::Error> for SnapshotError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => Self::Missing,
            std::io::ErrorKind::UnexpectedEof => Self::Corrupt("it ends early (truncated)".into()),
            _ => Self::Io(e),
        }
    }
}

/// What a snapshot was built from: it is used only when all of it is what the process has now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// [`crate::store::Store::layer_version`] read before the features were.
    pub store_version: u64,
    pub crs: Epsg,
}

/// Where layer `id`'s snapshot lives under `dir`.
pub fn path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.snapshot"))
}

/// Writes `data` (a layer as built, with no changes applied since) to `path`, stamped.
pub fn write(path: &Path, data: &LayerData, stamp: Stamp) -> Result<(), SnapshotError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(SnapshotError::Io)?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(SnapshotError::Io)?;
    let mut w = Writer { out: BufWriter::with_capacity(1 << 20, tmp.as_file()), hash: Xxh3::new() };
    w.bytes(MAGIC)?;
    w.u64(u64::from(FORMAT))?;
    w.text(env!("CARGO_PKG_VERSION"))?;
    w.text(data.def.id.as_str())?;
    w.u64(definition_hash(&data.def))?;
    w.u64(u64::from(stamp.crs.0))?;
    w.u64(stamp.store_version)?;
    data.save(&mut w)?;
    let sum = w.hash.digest();
    w.out.write_all(&sum.to_le_bytes()).map_err(SnapshotError::Io)?;
    w.out.flush().map_err(SnapshotError::Io)?;
    drop(w);
    tmp.as_file().sync_all().map_err(SnapshotError::Io)?;
    tmp.persist(path).map_err(|e| SnapshotError::Io(e.error))?;
    Ok(())
}

/// Reads the snapshot of `def` at `path` if it was built from exactly `stamp` and is whole.
pub fn read(path: &Path, def: &LayerDef, stamp: Stamp) -> Result<LayerData, SnapshotError> {
    let file = File::open(path)?;
    let len = file.metadata().map_err(SnapshotError::Io)?.len();
    let body = len.checked_sub(8).ok_or_else(|| SnapshotError::Corrupt("it is too short".into()))?;
    let mut r = Reader { inp: BufReader::with_capacity(1 << 20, file), hash: Xxh3::new(), left: body };
    if &r.array_of::<8>()? != MAGIC {
        return Err(SnapshotError::Corrupt("it is not a machizu snapshot".into()));
    }
    let format = r.u64()?;
    let version = r.text()?;
    if format != u64::from(FORMAT) || version != env!("CARGO_PKG_VERSION") {
        return Err(SnapshotError::OtherVersion { version, format: format as u32 });
    }
    if r.text()? != def.id.as_str() || r.u64()? != definition_hash(def) || r.u64()? != u64::from(stamp.crs.0) {
        return Err(SnapshotError::OtherDefinition);
    }
    let built = r.u64()?;
    if built != stamp.store_version {
        return Err(SnapshotError::Stale { built, current: stamp.store_version });
    }
    // Only plain arrays are read before the checksum is known to hold; the layer is assembled
    // from them after.
    let base = Segment::restore(&mut r)?;
    if r.left != 0 {
        return Err(SnapshotError::Corrupt(format!("{} bytes follow the layer", r.left)));
    }
    let computed = r.hash.digest();
    let mut stored = [0; 8];
    r.inp.read_exact(&mut stored)?;
    if u64::from_le_bytes(stored) != computed {
        return Err(SnapshotError::Corrupt("its checksum does not match".into()));
    }
    Ok(LayerData::from_snapshot(def.clone(), base, stamp.crs)?)
}

/// A hash of everything in a layer's definition (zoom range, attributes, labels …): levels built
/// for another definition would draw the wrong tiles.
fn definition_hash(def: &LayerDef) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&serde_json::to_vec(def).expect("a layer definition serialises"))
}

/// Writes values and arrays, hashing what it writes.
pub struct Writer<W: Write> {
    out: W,
    hash: Xxh3,
}

impl<W: Write> Writer<W> {
    fn bytes(&mut self, b: &[u8]) -> Result<(), SnapshotError> {
        self.hash.update(b);
        self.out.write_all(b).map_err(SnapshotError::Io)
    }

    pub fn u64(&mut self, v: u64) -> Result<(), SnapshotError> {
        self.bytes(&v.to_le_bytes())
    }

    fn text(&mut self, s: &str) -> Result<(), SnapshotError> {
        self.array(s.as_bytes())
    }

    /// An array of plain values: its length, then its bytes as they lie in memory (this
    /// machine's byte order: a snapshot is read by the machine that wrote it).
    pub fn array<T: Pod>(&mut self, a: &[T]) -> Result<(), SnapshotError> {
        self.u64(a.len() as u64)?;
        self.bytes(bytemuck::cast_slice(a))
    }

    /// Attributes as (attribute index, value id), in one `u64` each (the pair has padding), an
    /// array as [`Writer::array`] writes one. Packed a block at a time: a copy of a large
    /// layer's attributes (32 MB at 1 M parcels) would stay resident while the file is written.
    pub fn tags(&mut self, tags: &[(u16, u32)]) -> Result<(), SnapshotError> {
        self.u64(tags.len() as u64)?;
        let mut block = Vec::with_capacity(4096);
        for chunk in tags.chunks(4096) {
            block.clear();
            block.extend(chunk.iter().map(|&(k, v)| (u64::from(k) << 32) | u64::from(v)));
            self.bytes(bytemuck::cast_slice(&block))?;
        }
        Ok(())
    }
}

/// Reads what a [`Writer`] wrote, hashing it, never past the checksum.
pub struct Reader<R: Read> {
    inp: R,
    hash: Xxh3,
    /// Bytes left before the checksum.
    left: u64,
}

impl<R: Read> Reader<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        if buf.len() as u64 > self.left {
            return Err(SnapshotError::Corrupt("an array runs past its end".into()));
        }
        self.inp.read_exact(buf)?;
        self.left -= buf.len() as u64;
        self.hash.update(buf);
        Ok(())
    }

    fn array_of<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut b = [0; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    pub fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array_of()?))
    }

    /// A value that must fit in `u32` (a count or an index).
    pub fn u32(&mut self) -> Result<u32, SnapshotError> {
        u32::try_from(self.u64()?).map_err(|_| SnapshotError::Corrupt("a number is out of range".into()))
    }

    fn text(&mut self) -> Result<String, SnapshotError> {
        String::from_utf8(self.array()?).map_err(|_| SnapshotError::Corrupt("a name is not UTF-8".into()))
    }

    /// An array written by [`Writer::array`]; its length is checked against what is left, so a
    /// damaged length fails instead of asking for memory the file cannot hold.
    pub fn array<T: Pod>(&mut self) -> Result<Vec<T>, SnapshotError> {
        let n = self.u64()?;
        let size = std::mem::size_of::<T>() as u64;
        if n.checked_mul(size).is_none_or(|bytes| bytes > self.left) {
            return Err(SnapshotError::Corrupt("an array is longer than the file".into()));
        }
        let mut v: Vec<T> = bytemuck::allocation::zeroed_vec(n as usize);
        self.fill(bytemuck::cast_slice_mut(&mut v))?;
        Ok(v)
    }
}

/// What [`Writer::tags`] wrote.
pub(super) fn unpack_tags(packed: Vec<u64>) -> Result<std::sync::Arc<[(u16, u32)]>, SnapshotError> {
    packed
        .into_iter()
        .map(|t| {
            Ok((u16::try_from(t >> 32).map_err(|_| SnapshotError::Corrupt("an attribute index".into()))?, t as u32))
        })
        .collect()
}
