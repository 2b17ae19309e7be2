//! Form 4, zstd with the stream's dictionary: the vector of spec/vectors.json byte for byte, and
//! what happens when a dictionary is missing, foreign or not a dictionary (errors, never panics).
//! The loaded set is process-wide and the tests run in parallel: each test loads what it uses
//! and unloads it, and a test that needs a dictionary absent trains one of its own.
use chainlog_core::format::*;
use chainlog_core::*;
use serde_json::Value;

fn vector() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let all: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    all["zstdDictionary"].clone()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn events(from: u64, n: u64, salt: &str) -> Vec<Vec<u8>> {
    (from..from + n)
        .map(|i| {
            format!(
                r#"{{"seq":{i},"level":"{}","svc":"{salt}","path":"/api/v1/items/{}","status":{},"ms":{}}}"#,
                ["info", "warn", "error"][(i % 3) as usize],
                (i * 31) % 1000,
                [200, 404, 500][(i % 3) as usize],
                (i * 7919) % 2000
            )
            .into_bytes()
        })
        .collect()
}

fn train_on(samples: &[Vec<u8>], capacity: usize) -> Result<Vec<u8>> {
    let sizes: Vec<u32> = samples.iter().map(|s| s.len() as u32).collect();
    dictionary::train(&samples.concat(), &sizes, capacity)
}

fn encode_one(payload: &[u8], dictionary: u32) -> Result<EncodeOutput> {
    encode_batch(&EncodeInput {
        hash: HashAlgorithm::Blake3,
        stream: b"orders",
        first_offset: 0,
        prev_hash: ZERO_HASH,
        kind: KIND_DATA,
        codec: CODEC_ZSTD,
        level: 3,
        dictionary,
        payloads: payload,
        lengths: &[payload.len() as u32],
        timestamps: &[1_700_000_000_000],
        want_hashes: false,
        batch_ends: &[],
    })
}

#[test]
fn the_dictionary_vector_is_byte_exact() {
    let v = vector();
    let dict = unhex(v["dictionary"].as_str().unwrap());
    let payload = v["payload"].as_str().unwrap().as_bytes();
    let id = dictionary::load(&dict).unwrap();
    assert_eq!(id as u64, v["dictionaryId"].as_u64().unwrap());
    let frame = compress_with_dictionary(id, 3, payload).unwrap();
    assert_eq!(hex(&frame), v["frame"].as_str().unwrap());
    assert_eq!(
        decompress(FORM_ZSTD_DICT, &frame, MAX_PAYLOAD_BYTES).unwrap(),
        payload
    );
    let out = encode_one(payload, id).unwrap();
    assert_eq!(hex(&out.bytes), v["record"]["bytes"].as_str().unwrap());
    assert_eq!(out.bytes[53], FORM_ZSTD_DICT);
    assert_eq!(
        hex(&out.last_hash),
        v["record"]["chainHash"].as_str().unwrap()
    );
    // The frame names its dictionary: bytes 5..9 of a single-segment header with a 4-byte ID.
    assert_eq!(u32::from_le_bytes(frame[5..9].try_into().unwrap()), id);
    dictionary::unload(id).unwrap();
}

#[test]
fn training_is_deterministic_and_compresses_small_events_better() {
    let samples = events(0, 3000, "train");
    let a = train_on(&samples, 4096).unwrap();
    let b = train_on(&samples, 4096).unwrap();
    assert_eq!(a, b);
    assert!(a.len() <= 4096);
    let id = dictionary::load(&a).unwrap();
    let (mut plain, mut with_dict, mut raw) = (0, 0, 0);
    for e in events(10_000, 500, "train") {
        raw += e.len();
        plain += compress(CODEC_ZSTD, 3, &e).unwrap().len();
        let f = compress_with_dictionary(id, 3, &e).unwrap();
        assert_eq!(decompress(FORM_ZSTD_DICT, &f, 1 << 20).unwrap(), e);
        with_dict += f.len();
    }
    assert!(with_dict * 2 < plain, "{with_dict} vs {plain} of {raw}");
    dictionary::unload(id).unwrap();
}

#[test]
fn a_missing_or_foreign_dictionary_is_corrupt_never_a_panic() {
    let d = train_on(&events(0, 2000, "missing"), 2048).unwrap();
    let id = dictionary::load(&d).unwrap();
    let payload = events(9000, 1, "missing").remove(0);
    let record = encode_one(&payload, id).unwrap().bytes;
    let frame = record[HEADER_BYTES..record.len() - 8].to_vec();
    dictionary::unload(id).unwrap();
    // Not loaded any more: decompress, decode and a verifying scan all report damage.
    let e = decompress(FORM_ZSTD_DICT, &frame, 1 << 20).unwrap_err();
    assert_eq!(e.code(), "ERR_CORRUPT");
    assert!(
        e.message().contains(&format!("dictionary {id}")),
        "{}",
        e.message()
    );
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"orders").unwrap();
    let e = decode_records(&DecodeInput {
        hasher: &hasher,
        data: &record,
        base: 0,
        positions: &[0],
        expect_prev_hash: None,
        payloads_from: 0,
        max_payload_bytes: 1 << 20,
    })
    .unwrap_err();
    assert_eq!(e.code(), "ERR_CORRUPT");
    let scanned = scan_segment(&ScanInput {
        hasher: &hasher,
        data: &record,
        base: 0,
        first_offset: None,
        prev_hash: None,
        prev_timestamp: None,
        verify_chain: true,
        final_: true,
    });
    assert_eq!(scanned.stop, ScanStop::Corrupt, "{}", scanned.reason);
    // A framing-only scan does not need the dictionary.
    let framing = scan_segment(&ScanInput {
        hasher: &hasher,
        data: &record,
        base: 0,
        first_offset: None,
        prev_hash: None,
        prev_timestamp: None,
        verify_chain: false,
        final_: true,
    });
    assert_eq!(framing.stop, ScanStop::End);
    // Compressing with it is the caller's mistake.
    assert_eq!(
        encode_one(&payload, id).unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
    // A plain zstd frame stored as form 4 names no dictionary; a form-4 frame stored as form 2
    // needs one.
    let plain = compress(CODEC_ZSTD, 3, &payload).unwrap();
    assert_eq!(
        decompress(FORM_ZSTD_DICT, &plain, 1 << 20)
            .unwrap_err()
            .code(),
        "ERR_CORRUPT"
    );
    assert_eq!(
        decompress(FORM_ZSTD, &frame, 1 << 20).unwrap_err().code(),
        "ERR_CORRUPT"
    );
}

#[test]
fn bad_dictionaries_and_training_input_are_errors() {
    for bad in [
        vec![],
        vec![0u8; 300],
        vec![0x37, 0xa4, 0x30, 0xec, 0, 0, 0, 0],
    ] {
        assert_eq!(dictionary::load(&bad).unwrap_err().code(), "ERR_CORRUPT");
    }
    // Right magic and ID, damaged tables.
    let mut d = train_on(&events(0, 2000, "bad"), 2048).unwrap();
    for b in &mut d[8..64] {
        *b = 0xff;
    }
    assert_eq!(dictionary::load(&d).unwrap_err().code(), "ERR_CORRUPT");
    // Two dictionaries with one ID: the second is refused.
    let a = train_on(&events(0, 2000, "same-id"), 2048).unwrap();
    let mut b = a.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    let id = dictionary::load(&a).unwrap();
    assert_eq!(dictionary::load(&b).unwrap_err().code(), "ERR_CORRUPT");
    assert_eq!(dictionary::load(&a).unwrap(), id);
    dictionary::unload(id).unwrap();
    dictionary::unload(id).unwrap();
    assert_eq!(
        dictionary::unload(id).unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
    // Too few samples, sizes that do not add up, a capacity out of range.
    assert_eq!(
        train_on(&events(0, 3, "few"), 2048).unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
    assert_eq!(
        dictionary::train(b"abc", &[4], 2048).unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
    assert_eq!(
        train_on(&events(0, 100, "cap"), 10).unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
    assert_eq!(
        train_on(&[], 2048).unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
}

/// A batch of over 1 MiB of work is prepared on several threads (parallel.rs): its bytes must be
/// those of the same records encoded one call at a time, on one thread, including the records
/// whose compressed form is not smaller and so are stored as they are (compressed in place, then
/// dropped).
#[test]
fn a_batch_spread_over_threads_encodes_as_one_record_at_a_time() {
    let mut payloads = events(0, 8000, "spread");
    for (k, p) in payloads.iter_mut().enumerate().filter(|(k, _)| k % 7 == 0) {
        // Too short to shrink: stored as form 0 between compressed records.
        *p = (k as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .to_le_bytes()
            .to_vec();
    }
    let dict = train_on(&events(5000, 2000, "spread"), 4096).unwrap();
    let id = dictionary::load(&dict).unwrap();
    for (codec, dictionary, level) in [
        (CODEC_ZSTD, id, 3),
        (CODEC_ZSTD, id, 1),
        (CODEC_ZSTD, 0, 3),
        (CODEC_LZ4, 0, 0),
    ] {
        let input = |payloads: &[u8], lengths: &[u32], first: u64, prev: Hash| {
            encode_batch(&EncodeInput {
                hash: HashAlgorithm::Blake3,
                stream: b"orders",
                first_offset: first,
                prev_hash: prev,
                kind: KIND_DATA,
                codec,
                level,
                dictionary,
                payloads,
                lengths,
                timestamps: &vec![1_700_000_000_000; lengths.len()],
                want_hashes: false,
                batch_ends: &[],
            })
            .unwrap()
        };
        let lengths: Vec<u32> = payloads.iter().map(|p| p.len() as u32).collect();
        let whole = input(&payloads.concat(), &lengths, 0, ZERO_HASH);
        let (mut one_by_one, mut prev) = (Vec::new(), ZERO_HASH);
        for (k, p) in payloads.iter().enumerate() {
            let r = input(p, &[p.len() as u32], k as u64, prev);
            one_by_one.extend_from_slice(&r.bytes);
            prev = r.last_hash;
        }
        assert!(
            whole.bytes == one_by_one,
            "codec {codec}, dictionary {dictionary}, level {level}"
        );
        assert_eq!(whole.last_hash, prev);
    }
    dictionary::unload(id).unwrap();
}
