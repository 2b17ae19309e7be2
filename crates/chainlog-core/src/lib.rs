//! chainlog's core: the record format of SPEC §2 and the rules of docs/scan-rules.md, with no
//! Node types and no JavaScript conventions (f64 numbers, typed arrays): the napi binding
//! (crates/chainlog-node) converts and checks arguments and maps errors.
//!
//! No input makes it panic or allocate a size read from the input before that size is checked
//! against the data length or a cap.
//!
//! Module map: `format` (constants and limits), `error` (the four codes), `hash` (commitment and
//! chain hash), `codec` (LZ4/zstd stored forms, capped), `dictionary` (zstd dictionaries), `frame` (framing and the frame check),
//! `encode` (encodeBatch), `scan` (scanSegment, findValidRecord), `decode` (decodeRecords), `tree`
//! (the stream's Merkle tree, extended by encodeBatch).
//! Large calls spread per-record hashing and (de)compression over a few threads; whatever is
//! order-dependent (chain links, rules, framing) stays one sequential pass.
pub mod codec;
pub mod decode;
pub mod dictionary;
pub mod encode;
pub mod error;
pub mod format;
pub mod frame;
pub mod hash;
mod lanes;
mod parallel;
pub mod scan;
pub mod tree;

pub use codec::{compress, compress_with_dictionary, decompress};
pub use decode::{decode_one_record, decode_records, DecodeInput, DecodeOutput};
pub use encode::{
    check_batch, encode_batch, encode_batch_into, encoded_bound, EncodeInput, EncodeOutput,
    EncodedInto,
};
pub use error::{Error, Result};
pub use hash::{commitment, ChainHasher, Hash, HashAlgorithm, RecordFields};
pub use scan::{
    find_valid_record, scan_segment, FindResult, FindState, ScanInput, ScanOutput, ScanStop,
};
pub use tree::{check_frontier, extend_tree, tree_out_bytes, TREE_FRONTIER_BYTES};

/// The version of the boundary contract (CORE_ABI in ts/core/interface.ts).
pub const CORE_ABI: u32 = 10;
