//! Per-stream zstd dictionaries (SPEC §2, form 4): training, and the process-wide set of loaded
//! dictionaries that compression and decompression look up by ID. A form-4 frame names its
//! dictionary in its header, so a decoder needs no argument for it: the engine loads a stream's
//! dictionaries (after checking their hashes) when it opens the stream and unloads them when it
//! closes, and a frame whose dictionary is not loaded is ERR_CORRUPT, never a crash.
//!
//! Loads are counted: two logs (or streams) loading the same dictionary share one entry, and it
//! goes when the last one unloads. IDs come from the dictionary's content (the trainer derives
//! them from its hash), so two different dictionaries with one ID are refused, not mixed up.
use crate::error::{corrupt, invalid, Error, Result};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock};
use zstd_sys as zs;

/// First four bytes of a zstd dictionary (the format that carries an ID and entropy tables).
const DICTIONARY_MAGIC: u32 = 0xEC30_A437;
/// libzstd's smallest trained dictionary (ZDICT_DICTSIZE_MIN) and the largest chainlog stores.
pub const MIN_DICTIONARY_BYTES: usize = 256;
pub const MAX_DICTIONARY_BYTES: usize = 1 << 20;

/// A digested dictionary for compression at one level (read-only once made: shared by threads).
pub(crate) struct CDict(NonNull<zs::ZSTD_CDict>);
/// A digested dictionary for decompression (read-only once made: shared by threads).
pub(crate) struct DDict(NonNull<zs::ZSTD_DDict>);

// SAFETY: libzstd never writes a CDict/DDict after creating it; many contexts may use one at once.
unsafe impl Send for CDict {}
unsafe impl Sync for CDict {}
unsafe impl Send for DDict {}
unsafe impl Sync for DDict {}

impl CDict {
    pub(crate) fn as_ptr(&self) -> *const zs::ZSTD_CDict {
        self.0.as_ptr()
    }
}

impl DDict {
    pub(crate) fn as_ptr(&self) -> *const zs::ZSTD_DDict {
        self.0.as_ptr()
    }
}

impl Drop for CDict {
    fn drop(&mut self) {
        // SAFETY: created by ZSTD_createCDict, freed once.
        unsafe { zs::ZSTD_freeCDict(self.0.as_ptr()) };
    }
}

impl Drop for DDict {
    fn drop(&mut self) {
        // SAFETY: created by ZSTD_createDDict, freed once.
        unsafe { zs::ZSTD_freeDDict(self.0.as_ptr()) };
    }
}

pub struct Dictionary {
    id: u32,
    bytes: Vec<u8>,
    ddict: DDict,
    /// One digested copy per zstd level asked for (a stream writes at one level).
    cdicts: Mutex<Vec<(i32, Arc<CDict>)>>,
}

impl Dictionary {
    fn new(bytes: &[u8]) -> Result<Self> {
        let id = dictionary_id(bytes)?;
        // SAFETY: reads bytes.len() bytes (copied into the DDict); null when they do not parse.
        let ddict =
            NonNull::new(unsafe { zs::ZSTD_createDDict(bytes.as_ptr().cast(), bytes.len()) })
                .ok_or_else(|| {
                    corrupt(format!(
                        "zstd dictionary {id} does not load: its tables are damaged"
                    ))
                })?;
        Ok(Dictionary {
            id,
            bytes: bytes.to_vec(),
            ddict: DDict(ddict),
            cdicts: Mutex::new(Vec::new()),
        })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub(crate) fn ddict(&self) -> &DDict {
        &self.ddict
    }

    /// The dictionary digested for compression at `level` (a resolved zstd level).
    pub(crate) fn cdict(&self, level: i32) -> Result<Arc<CDict>> {
        let mut cdicts = self.cdicts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = cdicts.iter().find(|(l, _)| *l == level) {
            return Ok(c.clone());
        }
        // SAFETY: reads self.bytes (copied into the CDict); null on failure.
        let made =
            unsafe { zs::ZSTD_createCDict(self.bytes.as_ptr().cast(), self.bytes.len(), level) };
        let c = Arc::new(CDict(NonNull::new(made).ok_or_else(|| {
            Error::Unsupported(
                format!(
                    "zstd dictionary {} cannot be prepared for level {level}",
                    self.id
                )
                .into(),
            )
        })?));
        cdicts.push((level, c.clone()));
        Ok(c)
    }
}

/// The ID a zstd dictionary declares; refuses bytes that are not one.
pub fn dictionary_id(bytes: &[u8]) -> Result<u32> {
    if bytes.len() < MIN_DICTIONARY_BYTES || bytes.len() > MAX_DICTIONARY_BYTES {
        return Err(corrupt(format!(
            "a zstd dictionary is {MIN_DICTIONARY_BYTES}..{MAX_DICTIONARY_BYTES} bytes, got {}",
            bytes.len()
        )));
    }
    match bytes.first_chunk::<4>() {
        Some(m) if u32::from_le_bytes(*m) == DICTIONARY_MAGIC => {}
        _ => return Err(corrupt("not a zstd dictionary (bad magic)")),
    }
    // SAFETY: reads at most bytes.len() bytes.
    match unsafe { zs::ZSTD_getDictID_fromDict(bytes.as_ptr().cast(), bytes.len()) } {
        0 => Err(corrupt("zstd dictionary has ID 0")),
        id => Ok(id),
    }
}

type Registry = HashMap<u32, (Arc<Dictionary>, usize)>;

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static LOADED: OnceLock<Mutex<Registry>> = OnceLock::new();
    LOADED
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Loads a dictionary (or counts one more load of the same bytes); returns its ID.
pub fn load(bytes: &[u8]) -> Result<u32> {
    let id = dictionary_id(bytes)?;
    let mut loaded = registry();
    if let Some((d, count)) = loaded.get_mut(&id) {
        if d.bytes != bytes {
            return Err(corrupt(format!(
                "another zstd dictionary with ID {id} is already loaded"
            )));
        }
        *count += 1;
        return Ok(id);
    }
    let d = Arc::new(Dictionary::new(bytes)?);
    loaded.insert(id, (d, 1));
    Ok(id)
}

/// Undoes one `load` of dictionary `id`.
pub fn unload(id: u32) -> Result<()> {
    let mut loaded = registry();
    match loaded.get_mut(&id) {
        None => Err(invalid(format!("zstd dictionary {id} is not loaded"))),
        Some((_, count)) if *count > 1 => {
            *count -= 1;
            Ok(())
        }
        Some(_) => {
            loaded.remove(&id);
            Ok(())
        }
    }
}

/// The loaded dictionary `id`, if any.
pub fn loaded(id: u32) -> Option<Arc<Dictionary>> {
    registry().get(&id).map(|(d, _)| d.clone())
}

fn zdict_error(code: usize) -> Option<String> {
    // SAFETY: ZDICT_isError/ZDICT_getErrorName take any value and return a static C string.
    if unsafe { zs::ZDICT_isError(code) } == 0 {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(zs::ZDICT_getErrorName(code)) };
    Some(name.to_string_lossy().into_owned())
}

/// Trains a dictionary of at most `capacity` bytes on the samples (end to end in `samples`, one
/// length each in `sizes`) with libzstd's default trainer (fastCover). Deterministic: the same
/// samples give the same dictionary, whose ID derives from its content.
pub fn train(samples: &[u8], sizes: &[u32], capacity: usize) -> Result<Vec<u8>> {
    if !(MIN_DICTIONARY_BYTES..=MAX_DICTIONARY_BYTES).contains(&capacity) {
        return Err(invalid(format!(
            "dictionary size must be {MIN_DICTIONARY_BYTES}..{MAX_DICTIONARY_BYTES} bytes, got {capacity}"
        )));
    }
    let total: u64 = sizes.iter().map(|&s| s as u64).sum();
    if total != samples.len() as u64 {
        return Err(invalid(format!(
            "sample sizes add up to {total} but samples has {} bytes",
            samples.len()
        )));
    }
    let count = u32::try_from(sizes.len()).map_err(|_| invalid("too many samples"))?;
    let sizes: Vec<usize> = sizes.iter().map(|&s| s as usize).collect();
    let mut dict = vec![0u8; capacity];
    // SAFETY: writes at most dict.len() bytes; reads the samples as described by `sizes`, whose
    // sum was checked to be samples.len().
    let n = unsafe {
        zs::ZDICT_trainFromBuffer(
            dict.as_mut_ptr().cast(),
            dict.len(),
            samples.as_ptr().cast(),
            sizes.as_ptr(),
            count,
        )
    };
    if let Some(e) = zdict_error(n) {
        return Err(invalid(format!(
            "no zstd dictionary can be trained on these {count} samples ({} bytes): {e}",
            samples.len()
        )));
    }
    dict.truncate(n);
    Ok(dict)
}
