//! Stored payload forms (docs/scan-rules.md §7): LZ4 = u32 LE length ‖ raw lz4_flex block;
//! zstd = one standard frame with the content size and no checksum, made by ZSTD_compressCCtx so
//! it is byte-identical to the JS core's ZSTD_compress (same libzstd, see Cargo.toml).
//! zstd with a dictionary (form 4) = one frame made by ZSTD_compress_usingCDict, the dictionary's
//! ID in its header (dictionary.rs). Decompression never allocates past the caller's cap, nor
//! past what the input could possibly expand to.
use crate::dictionary::{self, CDict, DDict, Dictionary};
use crate::error::{corrupt, invalid, Error, Result};
use crate::format::{
    CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, DEFAULT_ZSTD_LEVEL, FORM_LZ4, FORM_NONE, FORM_ZSTD,
    FORM_ZSTD_DICT, MAX_ZSTD_LEVEL,
};
use std::cell::RefCell;
use zstd_sys as zs;

/// First four bytes of a standard zstd frame.
const ZSTD_MAGIC: u32 = 0xFD2F_B528;
/// A zstd block of at most 128 KiB can be stored in 4 bytes (an RLE block), so a frame of n bytes
/// never decodes to more than this many bytes per input byte (plus one block).
const ZSTD_MAX_RATIO: u64 = 128 * 1024 / 4;
const ZSTD_MAX_BLOCK: u64 = 128 * 1024;
/// An LZ4 sequence extends a match by 255 per input byte at most.
const LZ4_MAX_RATIO: u64 = 256;
const LZ4_LENGTH_PREFIX: usize = 4;
/// A thread keeps its zstd compression context only after inputs up to this size (the context's
/// tables are sized by the input: a 1 GiB payload at level 19 would leave about 100 MB behind).
const KEEP_ZSTD_CCTX_MAX_INPUT: usize = 1 << 20;
const ZSTD_CONTENTSIZE_UNKNOWN: u64 = u64::MAX;
const ZSTD_CONTENTSIZE_ERROR: u64 = u64::MAX - 1;

thread_local! {
    // One context per thread (main thread, libuv pool threads), reused across calls.
    static ZSTD_CCTX: RefCell<Option<ZstdCCtx>> = const { RefCell::new(None) };
    static ZSTD_DCTX: RefCell<Option<ZstdDCtx>> = const { RefCell::new(None) };
}

/// Owned zstd contexts (zstd-sys directly: the `zstd` crate's bulk API is ZSTD_compress2, whose
/// frames are not promised to equal ZSTD_compress's).
struct ZstdCCtx(std::ptr::NonNull<zs::ZSTD_CCtx>);
struct ZstdDCtx(std::ptr::NonNull<zs::ZSTD_DCtx>);

impl ZstdCCtx {
    fn create() -> Option<Self> {
        // SAFETY: plain constructor; null on allocation failure.
        std::ptr::NonNull::new(unsafe { zs::ZSTD_createCCtx() }).map(ZstdCCtx)
    }
}

impl ZstdDCtx {
    fn create() -> Option<Self> {
        // SAFETY: plain constructor; null on allocation failure.
        std::ptr::NonNull::new(unsafe { zs::ZSTD_createDCtx() }).map(ZstdDCtx)
    }
}

impl Drop for ZstdCCtx {
    fn drop(&mut self) {
        // SAFETY: created by ZSTD_createCCtx, freed once.
        unsafe { zs::ZSTD_freeCCtx(self.0.as_ptr()) };
    }
}

impl Drop for ZstdDCtx {
    fn drop(&mut self) {
        // SAFETY: created by ZSTD_createDCtx, freed once.
        unsafe { zs::ZSTD_freeDCtx(self.0.as_ptr()) };
    }
}

fn zstd_error(code: usize) -> Option<String> {
    // SAFETY: ZSTD_isError/ZSTD_getErrorName take any value and return a static C string.
    if unsafe { zs::ZSTD_isError(code) } == 0 {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(zs::ZSTD_getErrorName(code)) };
    Some(name.to_string_lossy().into_owned())
}

/// Resolves a zstd level: 0..=22, 0 meaning the default (3).
pub fn zstd_level(level: i64) -> Result<i32> {
    if !(0..=MAX_ZSTD_LEVEL as i64).contains(&level) {
        return Err(invalid(format!(
            "zstd level must be 0..{MAX_ZSTD_LEVEL}, got {level}"
        )));
    }
    Ok(if level == 0 {
        DEFAULT_ZSTD_LEVEL
    } else {
        level as i32
    })
}

/// Appends the stored form of `data` under `codec` to `out`. `level` is a resolved zstd level.
pub fn compress_into(codec: u8, level: i32, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    match codec {
        CODEC_NONE => out.extend_from_slice(data),
        CODEC_LZ4 => {
            let len = u32::try_from(data.len()).map_err(|_| invalid("lz4 input over 4 GiB"))?;
            let start = out.len();
            out.extend_from_slice(&len.to_le_bytes());
            out.resize(
                start + LZ4_LENGTH_PREFIX + lz4_flex::block::get_maximum_output_size(data.len()),
                0,
            );
            // compress_into runs the same compressor as block::compress (and so compress_prepend_size).
            let n = lz4_flex::block::compress_into(data, &mut out[start + LZ4_LENGTH_PREFIX..])
                .map_err(|e| Error::Unsupported(format!("lz4 compression failed: {e}").into()))?;
            out.truncate(start + LZ4_LENGTH_PREFIX + n);
        }
        CODEC_ZSTD => zstd_compress_into(level, None, data, out)?,
        _ => {
            return Err(invalid(format!(
                "codec must be 0 (none), 1 (lz4) or 2 (zstd), got {codec}"
            )))
        }
    }
    Ok(())
}

/// Appends the form-4 stored form of `data` (one frame made with `cdict`) to `out`.
pub(crate) fn zstd_dict_compress_into(cdict: &CDict, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    zstd_compress_into(0, Some(cdict), data, out)
}

/// One zstd frame of `data`: at `level` without a dictionary, or with `cdict` (its own level).
fn zstd_compress_into(
    level: i32,
    cdict: Option<&CDict>,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let bound = unsafe { zs::ZSTD_compressBound(data.len()) };
    out.reserve(bound);
    let start = out.len();
    let written = ZSTD_CCTX.with(|cell| -> Result<usize> {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = ZstdCCtx::create();
        }
        let cctx = slot
            .as_mut()
            .ok_or_else(|| Error::Unsupported("cannot create a zstd context".into()))?;
        let spare = out.spare_capacity_mut();
        // SAFETY: ZSTD_compressCCtx / ZSTD_compress_usingCDict write at most `spare.len()` bytes
        // into the spare capacity and return how many they wrote (or an error code); those bytes
        // are then marked initialized.
        let code = match cdict {
            None => unsafe {
                zs::ZSTD_compressCCtx(
                    cctx.0.as_ptr(),
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                    data.as_ptr().cast(),
                    data.len(),
                    level,
                )
            },
            Some(cdict) => unsafe {
                zs::ZSTD_compress_usingCDict(
                    cctx.0.as_ptr(),
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                    data.as_ptr().cast(),
                    data.len(),
                    cdict.as_ptr(),
                )
            },
        };
        if data.len() > KEEP_ZSTD_CCTX_MAX_INPUT {
            // Its tables grew with the input: free them rather than keep them for the thread's life.
            *slot = None;
        }
        if let Some(e) = zstd_error(code) {
            return Err(Error::Unsupported(
                format!("zstd compression failed: {e}").into(),
            ));
        }
        Ok(code)
    })?;
    // SAFETY: see above; `written` ≤ spare capacity.
    unsafe { out.set_len(start + written) };
    Ok(())
}

/// The form-4 stored form of `data` with the loaded dictionary `id` at zstd `level` (0..22).
pub fn compress_with_dictionary(id: u32, level: i64, data: &[u8]) -> Result<Vec<u8>> {
    let cdict = loaded_dictionary(id)?.cdict(zstd_level(level)?)?;
    let mut out = Vec::new();
    zstd_dict_compress_into(&cdict, data, &mut out)?;
    Ok(out)
}

/// The loaded dictionary `id`, or ERR_INVALID_ARGUMENT (a caller asking to compress with it).
pub(crate) fn loaded_dictionary(id: u32) -> Result<std::sync::Arc<Dictionary>> {
    dictionary::loaded(id).ok_or_else(|| invalid(format!("zstd dictionary {id} is not loaded")))
}

/// The stored form of `data` as a new buffer (the `compress` call of the core interface).
pub fn compress(codec: u8, level: i64, data: &[u8]) -> Result<Vec<u8>> {
    let level = if codec == CODEC_ZSTD {
        zstd_level(level)?
    } else {
        DEFAULT_ZSTD_LEVEL
    };
    let mut out = Vec::new();
    compress_into(codec, level, data, &mut out)?;
    Ok(out)
}

/// Appends the payload held by `stored` in `form` (0, 1, 2 or 4) to `out`; at most `max_bytes`.
/// On error `out` is left as it was. Returns the payload length.
pub fn decompress_into(
    form: u8,
    stored: &[u8],
    max_bytes: u64,
    out: &mut Vec<u8>,
) -> Result<usize> {
    let start = out.len();
    let res = match form {
        FORM_NONE => {
            if stored.len() as u64 > max_bytes {
                Err(corrupt(format!(
                    "payload of {} bytes is over the cap of {max_bytes}",
                    stored.len()
                )))
            } else {
                out.extend_from_slice(stored);
                Ok(stored.len())
            }
        }
        FORM_LZ4 => lz4_decompress_into(stored, max_bytes, out),
        FORM_ZSTD => zstd_decompress_into(stored, None, max_bytes, out),
        FORM_ZSTD_DICT => {
            let d = frame_dictionary(stored)?;
            zstd_decompress_into(stored, Some(d.ddict()), max_bytes, out)
        }
        _ => Err(invalid(format!(
            "form must be 0 (none), 1 (lz4), 2 (zstd) or 4 (zstd with a dictionary) to decompress, got {form}"
        ))),
    };
    if res.is_err() {
        out.truncate(start);
    }
    res
}

/// The `decompress` call of the core interface.
pub fn decompress(form: u8, stored: &[u8], max_bytes: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decompress_into(form, stored, max_bytes, &mut out)?;
    Ok(out)
}

fn try_grow(out: &mut Vec<u8>, extra: usize) -> Result<()> {
    out.try_reserve_exact(extra).map_err(|_| {
        Error::Unsupported(format!("cannot allocate {extra} bytes for a payload").into())
    })
}

fn lz4_decompress_into(stored: &[u8], max_bytes: u64, out: &mut Vec<u8>) -> Result<usize> {
    let (prefix, block) = match stored.split_first_chunk::<LZ4_LENGTH_PREFIX>() {
        Some(split) => split,
        None => {
            return Err(corrupt(format!(
                "lz4 payload of {} bytes has no length prefix",
                stored.len()
            )))
        }
    };
    let claimed = u32::from_le_bytes(*prefix) as u64;
    if claimed > max_bytes {
        return Err(corrupt(format!(
            "lz4 payload claims {claimed} bytes, over the cap of {max_bytes}"
        )));
    }
    if claimed > (block.len() as u64).saturating_mul(LZ4_MAX_RATIO) + LZ4_MAX_RATIO {
        return Err(corrupt(format!(
            "lz4 block of {} bytes cannot hold {claimed} bytes",
            block.len()
        )));
    }
    let claimed = claimed as usize; // ≤ max_bytes ≤ 1 GiB
    let start = out.len();
    try_grow(out, claimed)?;
    out.resize(start + claimed, 0);
    match lz4_flex::block::decompress_into(block, &mut out[start..]) {
        Ok(n) if n == claimed => Ok(n),
        Ok(n) => Err(corrupt(format!(
            "lz4 block decodes to {n} bytes, its prefix says {claimed}"
        ))),
        Err(e) => Err(corrupt(format!("lz4 block does not decode: {e}"))),
    }
}

/// The loaded dictionary a form-4 frame names; ERR_CORRUPT when it names none or one not loaded.
fn frame_dictionary(stored: &[u8]) -> Result<std::sync::Arc<Dictionary>> {
    check_zstd_magic(stored)?;
    // SAFETY: reads at most stored.len() bytes; 0 when the header names no dictionary or is cut.
    let id = unsafe { zs::ZSTD_getDictID_fromFrame(stored.as_ptr().cast(), stored.len()) };
    if id == 0 {
        return Err(corrupt("zstd payload of form 4 names no dictionary"));
    }
    dictionary::loaded(id).ok_or_else(|| {
        corrupt(format!(
            "zstd payload needs dictionary {id}, which is not loaded (its file is missing or damaged)"
        ))
    })
}

fn check_zstd_magic(stored: &[u8]) -> Result<()> {
    match stored.first_chunk::<4>() {
        Some(magic) if u32::from_le_bytes(*magic) == ZSTD_MAGIC => Ok(()),
        _ => Err(corrupt("zstd payload is not a zstd frame")),
    }
}

fn zstd_decompress_into(
    stored: &[u8],
    ddict: Option<&DDict>,
    max_bytes: u64,
    out: &mut Vec<u8>,
) -> Result<usize> {
    check_zstd_magic(stored)?;
    // SAFETY: reads at most stored.len() bytes.
    let size = unsafe { zs::ZSTD_getFrameContentSize(stored.as_ptr().cast(), stored.len()) };
    let size = match size {
        ZSTD_CONTENTSIZE_UNKNOWN => return Err(corrupt("zstd frame header gives no content size")),
        ZSTD_CONTENTSIZE_ERROR => return Err(corrupt("zstd frame header is damaged or cut")),
        size => size,
    };
    if size > max_bytes {
        return Err(corrupt(format!(
            "zstd frame holds {size} bytes, over the cap of {max_bytes}"
        )));
    }
    if size > (stored.len() as u64).saturating_mul(ZSTD_MAX_RATIO) + ZSTD_MAX_BLOCK {
        return Err(corrupt(format!(
            "zstd frame of {} bytes cannot hold {size} bytes",
            stored.len()
        )));
    }
    // SAFETY: reads at most stored.len() bytes.
    let frame = unsafe { zs::ZSTD_findFrameCompressedSize(stored.as_ptr().cast(), stored.len()) };
    if let Some(e) = zstd_error(frame) {
        return Err(corrupt(format!("zstd frame is damaged or cut: {e}")));
    }
    if frame != stored.len() {
        return Err(corrupt(format!(
            "zstd payload is {} bytes but its frame is {frame}",
            stored.len()
        )));
    }
    let size = size as usize; // ≤ max_bytes ≤ 1 GiB
    try_grow(out, size)?;
    let start = out.len();
    let written = ZSTD_DCTX.with(|cell| -> Result<usize> {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = ZstdDCtx::create();
        }
        let dctx = slot
            .as_mut()
            .ok_or_else(|| Error::Unsupported("cannot create a zstd context".into()))?;
        let spare = &mut out.spare_capacity_mut()[..size];
        // SAFETY: ZSTD_decompressDCtx / ZSTD_decompress_usingDDict write at most `size` bytes
        // into the spare capacity and return how many they wrote (or an error code).
        let code = match ddict {
            None => unsafe {
                zs::ZSTD_decompressDCtx(
                    dctx.0.as_ptr(),
                    spare.as_mut_ptr().cast(),
                    size,
                    stored.as_ptr().cast(),
                    stored.len(),
                )
            },
            Some(ddict) => unsafe {
                zs::ZSTD_decompress_usingDDict(
                    dctx.0.as_ptr(),
                    spare.as_mut_ptr().cast(),
                    size,
                    stored.as_ptr().cast(),
                    stored.len(),
                    ddict.as_ptr(),
                )
            },
        };
        if let Some(e) = zstd_error(code) {
            return Err(corrupt(format!("zstd frame does not decode: {e}")));
        }
        Ok(code)
    })?;
    if written != size {
        return Err(corrupt(format!(
            "zstd frame decodes to {written} bytes, its header says {size}"
        )));
    }
    // SAFETY: `written` bytes were initialized by zstd, within the reserved capacity.
    unsafe { out.set_len(start + written) };
    Ok(written)
}

#[allow(dead_code)]
const _FORMS_ARE_CODECS: () =
    assert!(FORM_LZ4 == CODEC_LZ4 && FORM_ZSTD == CODEC_ZSTD && FORM_NONE == CODEC_NONE);
