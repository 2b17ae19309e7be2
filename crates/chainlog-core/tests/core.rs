//! The core's behaviour: the vectors of spec/vectors.json (docs/format.md §2), codecs and their
//! caps, and the scan/decode rules of docs/scan-rules.md on whole, cut, flipped and crafted
//! segments.
use chainlog_core::format::*;
use chainlog_core::*;
use serde_json::Value;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// spec/vectors.json: the vectors of docs/format.md, shared with __test__/core-vectors.test.ts.
fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {v}"))
}

fn number(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a non-negative integer, found {v}"))
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hash32(s: &str) -> Hash {
    unhex(s).try_into().expect("32 bytes")
}

/// Tiny deterministic PRNG (xorshift64*) for randomized cases.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn payload(rng: &mut Rng, size: usize) -> Vec<u8> {
    match rng.below(3) {
        0 => (0..size).map(|_| rng.next() as u8).collect(),
        1 => vec![rng.next() as u8; size],
        _ => b"{\"id\":42,\"user\":\"alice\",\"amount\":12.50}\n"
            .iter()
            .copied()
            .cycle()
            .take(size)
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn encode(
    hash: HashAlgorithm,
    stream: &str,
    first_offset: u64,
    prev_hash: Hash,
    kind: u8,
    codec: u8,
    payloads: &[Vec<u8>],
    timestamps: &[u64],
) -> Result<EncodeOutput> {
    let all: Vec<u8> = payloads.concat();
    let lengths: Vec<u32> = payloads.iter().map(|p| p.len() as u32).collect();
    encode_batch(&EncodeInput {
        hash,
        stream: stream.as_bytes(),
        first_offset,
        prev_hash,
        kind,
        codec,
        level: 3,
        dictionary: 0,
        payloads: &all,
        lengths: &lengths,
        timestamps,
        want_hashes: true,
        batch_ends: &[],
    })
}

struct Segment {
    bytes: Vec<u8>,
    /// Start of every record, then the end.
    bounds: Vec<u64>,
    hashes: Vec<Hash>,
}

fn segment(rng: &mut Rng, records: u64) -> Segment {
    let mut s = Segment {
        bytes: Vec::new(),
        bounds: Vec::new(),
        hashes: Vec::new(),
    };
    let mut prev = ZERO_HASH;
    let mut offset = 0;
    while offset < records {
        let n = (1 + rng.below(4)).min(records - offset);
        let ps: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                let size = rng.below(300) as usize;
                payload(rng, size)
            })
            .collect();
        let ts: Vec<u64> = (0..n).map(|k| 1000 + offset + k).collect();
        let r = encode(
            HashAlgorithm::Blake3,
            "s",
            offset,
            prev,
            KIND_DATA,
            rng.below(3) as u8,
            &ps,
            &ts,
        )
        .unwrap();
        for (k, p) in r.positions.iter().enumerate() {
            s.bounds.push(s.bytes.len() as u64 + p);
            s.hashes.push(
                r.hashes.as_ref().unwrap()[k * 32..k * 32 + 32]
                    .try_into()
                    .unwrap(),
            );
        }
        s.bytes.extend_from_slice(&r.bytes);
        prev = r.last_hash;
        offset += n;
    }
    s.bounds.push(s.bytes.len() as u64);
    s
}

fn scan(data: &[u8], verify_chain: bool, final_: bool) -> ScanOutput {
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"s").unwrap();
    scan_segment(&ScanInput {
        hasher: &hasher,
        data,
        base: 0,
        first_offset: Some(0),
        prev_hash: Some(ZERO_HASH),
        prev_timestamp: None,
        verify_chain,
        final_,
    })
}

fn record_index(s: &Segment, p: u64) -> usize {
    s.bounds
        .iter()
        .rposition(|&b| b <= p)
        .unwrap()
        .min(s.bounds.len() - 2)
}

#[test]
fn commitments_and_chain_hashes_match_the_vectors() {
    let v = vectors();
    let chain = &v["chain"];
    let stream = text(&chain["stream"]);
    let records = chain["records"].as_array().unwrap();
    let payloads: Vec<Vec<u8>> = records
        .iter()
        .map(|r| text(&r["payload"]).as_bytes().to_vec())
        .collect();
    let timestamps: Vec<u64> = records.iter().map(|r| number(&r["timestamp"])).collect();
    let positions: Vec<u64> = chain["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(number)
        .collect();
    for name in ["blake3", "sha256"] {
        let alg = HashAlgorithm::parse(name).unwrap();
        let want = &chain[name];
        assert_eq!(
            hex(&commitment(alg, &payloads[0])),
            text(&want["commitment0"])
        );
        let hasher = ChainHasher::new(alg, stream.as_bytes()).unwrap();
        let mut prev = ZERO_HASH;
        for (i, r) in records.iter().enumerate() {
            let c = commitment(alg, &payloads[i]);
            prev = hasher.record_hash(&RecordFields {
                prev_hash: &prev,
                offset: number(&r["offset"]),
                timestamp: timestamps[i],
                kind: number(&r["kind"]) as u8,
                payload_length: payloads[i].len() as u64,
                commitment: &c,
            });
            assert_eq!(hex(&prev), text(&want["hashes"][i]), "{name} h{i}");
        }
        let r = encode(
            alg,
            stream,
            0,
            ZERO_HASH,
            KIND_DATA,
            CODEC_NONE,
            &payloads,
            &timestamps,
        )
        .unwrap();
        assert_eq!(hex(&r.last_hash), text(&want["hashes"][2]));
        assert_eq!(r.positions, positions);
    }
}

#[test]
fn the_framing_vector_is_byte_exact() {
    let v = vectors();
    let f = &v["framing"];
    let r = encode(
        HashAlgorithm::parse(text(&f["hash"])).unwrap(),
        text(&f["stream"]),
        number(&f["offset"]),
        ZERO_HASH,
        number(&f["kind"]) as u8,
        CODEC_NONE,
        &[text(&f["payload"]).as_bytes().to_vec()],
        &[number(&f["timestamp"])],
    )
    .unwrap();
    assert_eq!(hex(&r.bytes), text(&f["bytes"]));
    assert_eq!(r.bytes[53], number(&f["form"]) as u8);
    let crc = crc32fast::hash(&r.bytes[..r.bytes.len() - 8]);
    assert_eq!(format!("{crc:08x}"), text(&f["crc32"]));
}

#[test]
fn a_checkpoint_after_the_vector_events_is_byte_exact_and_never_compressed() {
    let v = vectors();
    let chain = &v["chain"];
    let cp = &v["checkpoint"];
    let records = chain["records"].as_array().unwrap();
    let payloads: Vec<Vec<u8>> = records
        .iter()
        .map(|r| text(&r["payload"]).as_bytes().to_vec())
        .collect();
    let timestamps: Vec<u64> = records.iter().map(|r| number(&r["timestamp"])).collect();
    for name in ["blake3", "sha256"] {
        let alg = HashAlgorithm::parse(name).unwrap();
        let want = &cp[name];
        let data = encode(
            alg,
            text(&chain["stream"]),
            0,
            ZERO_HASH,
            KIND_DATA,
            CODEC_NONE,
            &payloads,
            &timestamps,
        )
        .unwrap();
        assert_eq!(data.last_hash, hash32(text(&want["prevHash"])), "{name}");
        let offset = number(&cp["offset"]);
        let mut payload = data.last_hash.to_vec();
        payload.extend_from_slice(&offset.to_le_bytes());
        assert_eq!(hex(&payload), text(&want["payload"]), "{name}");
        for codec in [CODEC_NONE, CODEC_LZ4, CODEC_ZSTD] {
            let r = encode(
                alg,
                text(&cp["stream"]),
                offset,
                data.last_hash,
                KIND_CHECKPOINT,
                codec,
                std::slice::from_ref(&payload),
                &[number(&cp["timestamp"])],
            )
            .unwrap();
            assert_eq!(hex(&r.bytes), text(&want["bytes"]), "{name} codec {codec}");
            assert_eq!(hex(&r.last_hash), text(&want["hash"]), "{name}");
        }
    }
}

#[test]
fn crc32_is_zlibs() {
    let v = vectors();
    for c in v["crc32"].as_array().unwrap() {
        let crc = crc32fast::hash(text(&c["text"]).as_bytes());
        assert_eq!(format!("{crc:08x}"), text(&c["crc32"]), "{c}");
    }
}

#[test]
fn lz4_form_is_a_u32_length_then_lz4_flex_block_compress() {
    let mut rng = Rng(7);
    for size in [0usize, 1, 12, 13, 100, 4096, 65535, 65536, 200_000] {
        let data = payload(&mut rng, size);
        let got = compress(CODEC_LZ4, 0, &data).unwrap();
        assert_eq!(
            got,
            lz4_flex::block::compress_prepend_size(&data),
            "size {size}"
        );
        let mut manual = (size as u32).to_le_bytes().to_vec();
        manual.extend_from_slice(&lz4_flex::block::compress(&data));
        assert_eq!(got, manual);
        assert_eq!(decompress(FORM_LZ4, &got, MAX_PAYLOAD_BYTES).unwrap(), data);
    }
}

#[test]
fn zstd_form_is_one_frame_with_content_size_and_no_checksum() {
    let mut rng = Rng(8);
    for size in [0usize, 1, 100, 70_000] {
        let data = payload(&mut rng, size);
        for level in [0, 1, 3, 9, 19] {
            let z = compress(CODEC_ZSTD, level, &data).unwrap();
            assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
            let fhd = z[4];
            // A content size is present when its size flag is set or the frame is single-segment.
            assert!(
                fhd >> 6 != 0 || fhd & 0x20 != 0,
                "content size in the header"
            );
            assert_eq!(fhd & 0x04, 0, "no checksum");
            assert_eq!(decompress(FORM_ZSTD, &z, MAX_PAYLOAD_BYTES).unwrap(), data);
        }
        assert_eq!(
            compress(CODEC_ZSTD, 0, &data).unwrap(),
            compress(CODEC_ZSTD, 3, &data).unwrap(),
            "level 0 is 3"
        );
    }
    assert!(matches!(
        compress(CODEC_ZSTD, 23, b"x"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        compress(CODEC_ZSTD, -1, b"x"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        compress(3, 0, b"x"),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn decompression_is_capped_and_strict() {
    // A claimed lz4 length over the cap, or more than the block could hold: an error, no allocation.
    assert!(matches!(
        decompress(FORM_LZ4, &[0xff, 0xff, 0xff, 0xff, 0], MAX_PAYLOAD_BYTES),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        decompress(FORM_LZ4, &[1, 0], 100),
        Err(Error::Corrupt(_))
    ));
    let zeros = vec![0u8; 4 << 20];
    let bomb = compress(CODEC_ZSTD, 3, &zeros).unwrap();
    assert!(matches!(
        decompress(FORM_ZSTD, &bomb, 1 << 20),
        Err(Error::Corrupt(_))
    ));
    assert_eq!(
        decompress(FORM_ZSTD, &bomb, 4 << 20).unwrap().len(),
        4 << 20,
        "exactly the cap is allowed"
    );
    let lz = compress(CODEC_LZ4, 0, &zeros).unwrap();
    assert!(matches!(
        decompress(FORM_LZ4, &lz, (4 << 20) - 1),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        decompress(FORM_NONE, b"abc", 2),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        decompress(FORM_REDACTED, b"abc", 10),
        Err(Error::InvalidArgument(_))
    ));
    // Every cut of a frame or block is an error; so is a frame with trailing bytes.
    for form in [FORM_LZ4, FORM_ZSTD] {
        let good = compress(form, 3, b"hello hello hello hello hello").unwrap();
        for cut in 0..good.len() {
            assert!(
                decompress(form, &good[..cut], 1000).is_err(),
                "form {form} cut {cut}"
            );
        }
    }
    let mut trailing = compress(CODEC_ZSTD, 3, b"hello").unwrap();
    trailing.push(0);
    assert!(matches!(
        decompress(FORM_ZSTD, &trailing, 100),
        Err(Error::Corrupt(_))
    ));
    // A frame without a content size (streaming-style header) is refused.
    let no_size = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00, 0x00];
    assert!(matches!(
        decompress(FORM_ZSTD, &no_size, 100),
        Err(Error::Corrupt(_))
    ));
    // A tiny frame claiming 1 GiB is refused before any allocation.
    let mut claim = vec![0x28, 0xb5, 0x2f, 0xfd, 0xa0];
    claim.extend_from_slice(&(1u32 << 30).to_le_bytes());
    claim.extend_from_slice(&[0x01, 0x00, 0x00]);
    assert!(matches!(
        decompress(FORM_ZSTD, &claim, MAX_PAYLOAD_BYTES),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn encode_batch_refuses_bad_arguments() {
    let one = [1u8; 32];
    let bad = [
        encode(
            HashAlgorithm::Blake3,
            "s",
            0,
            ZERO_HASH,
            KIND_DATA,
            0,
            &[],
            &[],
        ),
        encode(
            HashAlgorithm::Blake3,
            "s",
            5,
            ZERO_HASH,
            KIND_DATA,
            0,
            &[b"e".to_vec()],
            &[1],
        ),
        encode(
            HashAlgorithm::Blake3,
            "s",
            0,
            one,
            KIND_DATA,
            0,
            &[b"e".to_vec()],
            &[1],
        ),
        encode(
            HashAlgorithm::Blake3,
            "s",
            MAX_SAFE,
            one,
            KIND_DATA,
            0,
            &[b"a".to_vec(), b"b".to_vec()],
            &[1, 1],
        ),
        encode(
            HashAlgorithm::Blake3,
            "s",
            0,
            ZERO_HASH,
            KIND_DATA,
            0,
            &[b"a".to_vec(), b"b".to_vec()],
            &[5, 4],
        ),
        encode(
            HashAlgorithm::Blake3,
            "s",
            0,
            ZERO_HASH,
            KIND_DATA,
            0,
            &[b"a".to_vec()],
            &[],
        ),
        encode(
            HashAlgorithm::Blake3,
            "s",
            0,
            ZERO_HASH,
            3,
            0,
            &[b"a".to_vec()],
            &[1],
        ),
        encode(
            HashAlgorithm::Blake3,
            "s",
            0,
            ZERO_HASH,
            KIND_DATA,
            3,
            &[b"a".to_vec()],
            &[1],
        ),
        encode(
            HashAlgorithm::Blake3,
            &"x".repeat(65536),
            0,
            ZERO_HASH,
            KIND_DATA,
            0,
            &[b"a".to_vec()],
            &[1],
        ),
    ];
    for (k, r) in bad.into_iter().enumerate() {
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "case {k}: {r:?}"
        );
    }
    let lengths = [3u32];
    let r = encode_batch(&EncodeInput {
        hash: HashAlgorithm::Blake3,
        stream: b"s",
        first_offset: 0,
        prev_hash: ZERO_HASH,
        kind: 0,
        codec: 0,
        level: 0,
        dictionary: 0,
        payloads: b"ab",
        lengths: &lengths,
        timestamps: &[1],
        want_hashes: false,
        batch_ends: &[],
    });
    assert!(
        matches!(r, Err(Error::InvalidArgument(_))),
        "lengths that do not add up"
    );
    // The JS-number checks (safe integers) are the binding's: crates/chainlog-node/src/js_args.rs.
}

#[test]
fn compressed_forms_are_kept_only_when_strictly_smaller_and_never_for_checkpoints() {
    let r = encode(
        HashAlgorithm::Blake3,
        "s",
        0,
        ZERO_HASH,
        KIND_DATA,
        CODEC_ZSTD,
        &[vec![7u8; 1000], b"ab".to_vec()],
        &[1, 1],
    )
    .unwrap();
    assert_eq!(r.bytes[53], FORM_ZSTD);
    assert_eq!(r.bytes[r.positions[1] as usize + 53], FORM_NONE);
    let mut cp = r.last_hash.to_vec();
    cp.extend_from_slice(&2u64.to_le_bytes());
    let c = encode(
        HashAlgorithm::Blake3,
        "s",
        2,
        r.last_hash,
        KIND_CHECKPOINT,
        CODEC_LZ4,
        &[cp],
        &[1],
    )
    .unwrap();
    assert_eq!(c.bytes[53], FORM_NONE);
    let mut seg = r.bytes.clone();
    seg.extend_from_slice(&c.bytes);
    let s = scan(&seg, true, true);
    assert_eq!(s.stop, ScanStop::End, "{}", s.reason);
    assert_eq!(s.kinds, vec![0, 0, 1]);
    assert_eq!(s.last_hash, Some(c.last_hash));
}

#[test]
fn a_whole_segment_scans_to_a_clean_end_and_decodes() {
    let mut rng = Rng(1);
    let s = segment(&mut rng, 40);
    for verify in [false, true] {
        let r = scan(&s.bytes, verify, true);
        assert_eq!(r.stop, ScanStop::End, "{}", r.reason);
        assert_eq!(r.positions, s.bounds[..40].to_vec());
        assert_eq!(r.offsets, (0..40).collect::<Vec<_>>());
        assert_eq!(r.next_offset, Some(40));
        assert_eq!(r.valid_length, s.bytes.len() as u64);
        assert_eq!(r.last_hash, if verify { Some(s.hashes[39]) } else { None });
    }
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"s").unwrap();
    let d = decode_records(&DecodeInput {
        hasher: &hasher,
        data: &s.bytes,
        base: 0,
        positions: &s.bounds[..40],
        expect_prev_hash: Some(ZERO_HASH),
        payloads_from: 10,
        max_payload_bytes: MAX_PAYLOAD_BYTES,
    })
    .unwrap();
    assert_eq!(d.hashes, s.hashes.concat());
    assert_eq!(d.payload_ends[9], 0);
}

#[test]
fn a_cut_segment_ends_at_its_last_whole_record() {
    let mut rng = Rng(2);
    let s = segment(&mut rng, 6);
    for cut in 0..s.bytes.len() {
        let k = record_index(&s, cut as u64);
        let on_boundary = s.bounds[k] == cut as u64;
        let r = scan(&s.bytes[..cut], cut % 2 == 0, true);
        assert_eq!(
            r.stop,
            if on_boundary {
                ScanStop::End
            } else {
                ScanStop::Torn
            },
            "cut {cut}: {}",
            r.reason
        );
        assert_eq!(r.count(), k);
        assert_eq!(r.stop_position, s.bounds[k]);
        if !on_boundary {
            let p = scan(&s.bytes[..cut], false, false);
            assert_eq!(p.stop, ScanStop::Partial, "cut {cut}");
            let rec = s.bounds[k + 1] - s.bounds[k];
            if cut as u64 - s.bounds[k] >= 58 {
                assert_eq!(p.need_bytes, rec);
            } else {
                assert!(p.need_bytes >= 66 && p.need_bytes <= rec);
            }
        }
    }
}

#[test]
fn a_flipped_byte_is_corruption_mid_segment_and_torn_in_the_last_record() {
    let mut rng = Rng(3);
    let s = segment(&mut rng, 10);
    let last = s.bounds[9];
    for trial in 0..600 {
        let p = rng.below(s.bytes.len() as u64);
        let mut bad = s.bytes.clone();
        bad[p as usize] ^= 1 << rng.below(8);
        let k = record_index(&s, p);
        let r = scan(&bad, trial % 2 == 0, true);
        assert_eq!(r.stop_position, s.bounds[k], "flip at {p}");
        assert_eq!(r.count(), k);
        if p >= last {
            assert_eq!(r.stop, ScanStop::Torn, "flip at {p}: {}", r.reason);
        } else {
            assert_eq!(r.stop, ScanStop::Corrupt, "flip at {p}: {}", r.reason);
            assert_eq!(r.next_valid_position, Some(s.bounds[k + 1]));
        }
    }
}

#[test]
fn tampering_with_a_fixed_crc_breaks_the_chain_or_the_offset_rule() {
    let mut rng = Rng(4);
    let s = segment(&mut rng, 6);
    let mut tampered = 0;
    for k in 0..5 {
        let at = s.bounds[k] as usize;
        let len = u32::from_le_bytes(s.bytes[at + 54..at + 58].try_into().unwrap()) as usize;
        if len == 0 || s.bytes[at + 53] != 0 {
            continue;
        }
        let mut bad = s.bytes.clone();
        bad[at + 58] ^= 0xff;
        let crc = crc32fast::hash(&bad[at..at + 58 + len]);
        bad[at + 58 + len..at + 62 + len].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(scan(&bad, false, true).stop, ScanStop::End);
        let r = scan(&bad, true, true);
        assert_eq!(r.stop, ScanStop::Chain, "{}", r.reason);
        assert_eq!(r.stop_position, s.bounds[k + 1]);
        assert_eq!(r.stop_offset, Some(k as u64 + 1));
        tampered += 1;
    }
    assert!(tampered > 0);
    let at = s.bounds[2] as usize;
    let len = u32::from_le_bytes(s.bytes[at + 54..at + 58].try_into().unwrap()) as usize;
    let mut bad = s.bytes.clone();
    bad[at + 4..at + 12].copy_from_slice(&7u64.to_le_bytes());
    let crc = crc32fast::hash(&bad[at..at + 58 + len]);
    bad[at + 58 + len..at + 62 + len].copy_from_slice(&crc.to_le_bytes());
    let r = scan(&bad, false, true);
    assert_eq!(
        (r.stop, r.stop_position, r.count()),
        (ScanStop::Corrupt, at as u64, 2)
    );
}

#[test]
fn crafted_lengths_never_allocate_or_hang() {
    let mut rng = Rng(5);
    let s = segment(&mut rng, 3);
    for len in [
        u32::MAX,
        0x7fff_ffff,
        (1 << 30) + 1,
        1 << 30,
        s.bytes.len() as u32,
    ] {
        let mut bad = s.bytes.clone();
        let at = s.bounds[2] as usize + 54;
        bad[at..at + 4].copy_from_slice(&len.to_le_bytes());
        let r = scan(&bad, true, true);
        assert_eq!((r.stop, r.count()), (ScanStop::Torn, 2), "length {len}");
        let mut mid = s.bytes.clone();
        let at = s.bounds[1] as usize + 54;
        mid[at..at + 4].copy_from_slice(&len.to_le_bytes());
        let m = scan(&mid, false, false);
        assert!(
            matches!(
                m.stop,
                ScanStop::Corrupt | ScanStop::Unresolved | ScanStop::Partial
            ),
            "length {len}: {:?}",
            m.stop
        );
        assert_eq!(m.count(), 1);
    }
}

#[test]
fn garbage_tails_are_torn_and_find_valid_record_skips_garbage() {
    let mut rng = Rng(6);
    let s = segment(&mut rng, 5);
    for tail in [
        vec![0u8; 4096],
        payload(&mut rng, 3000),
        vec![0xfe, 0x0f, 0xdc, 0xba, 1, 2, 3],
    ] {
        let mut data = s.bytes.clone();
        data.extend_from_slice(&tail);
        let r = scan(&data, true, true);
        assert_eq!(
            (r.stop, r.stop_position, r.count()),
            (ScanStop::Torn, s.bytes.len() as u64, 5)
        );
        let u = scan(&data, true, false);
        assert!(
            matches!(u.stop, ScanStop::Unresolved | ScanStop::Partial),
            "{:?}",
            u.stop
        );
    }
    let mut garbage: Vec<u8> = (0..500).map(|_| rng.next() as u8).collect();
    garbage.extend_from_slice(&[0xfe, 0x0f, 0xdc, 0xba]);
    garbage.extend_from_slice(&[0u8; 70]);
    let mut data = garbage.clone();
    data.extend_from_slice(&s.bytes);
    let f = find_valid_record(&data, 1000, true);
    assert_eq!(
        f,
        FindResult {
            state: FindState::Found,
            position: 1000 + garbage.len() as u64,
            need_bytes: 0
        }
    );
    assert_eq!(find_valid_record(&garbage, 0, true).state, FindState::None);
    let more = find_valid_record(&data[..garbage.len() + 30], 0, false);
    assert_eq!(
        (more.state, more.position),
        (FindState::More, garbage.len() as u64)
    );
    assert!(more.need_bytes > 30);
}

#[test]
fn chunked_scans_find_the_same_records_as_one_scan() {
    let mut rng = Rng(9);
    let s = segment(&mut rng, 40);
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"s").unwrap();
    for _ in 0..20 {
        let (mut pos, mut prev, mut off, mut ts) = (0u64, Some(ZERO_HASH), Some(0u64), None);
        let mut found = Vec::new();
        loop {
            let end = (pos + 1 + rng.below(900)).min(s.bytes.len() as u64);
            let fin = end == s.bytes.len() as u64;
            let r = scan_segment(&ScanInput {
                hasher: &hasher,
                data: &s.bytes[pos as usize..end as usize],
                base: pos,
                first_offset: off,
                prev_hash: prev,
                prev_timestamp: ts,
                verify_chain: true,
                final_: fin,
            });
            assert!(
                matches!(r.stop, ScanStop::End | ScanStop::Partial),
                "{}",
                r.reason
            );
            found.extend_from_slice(&r.positions);
            pos = r.stop_position;
            prev = r.last_hash;
            off = r.next_offset;
            ts = r.last_timestamp;
            if fin {
                break;
            }
        }
        assert_eq!(found, s.bounds[..40].to_vec());
        assert_eq!(prev, Some(s.hashes[39]));
    }
}

#[test]
fn decode_reports_broken_links_damage_and_caps() {
    let ps = vec![b"a".to_vec(), b"bb".to_vec(), vec![0u8; 10_000]];
    let r = encode(
        HashAlgorithm::Blake3,
        "orders",
        0,
        ZERO_HASH,
        KIND_DATA,
        CODEC_ZSTD,
        &ps,
        &[1, 2, 3],
    )
    .unwrap();
    let run = |stream: &[u8], data: &[u8], expect: Option<Hash>, max: u64| {
        let hasher = ChainHasher::new(HashAlgorithm::Blake3, stream).unwrap();
        decode_records(&DecodeInput {
            hasher: &hasher,
            data,
            base: 0,
            positions: &r.positions,
            expect_prev_hash: expect,
            payloads_from: 0,
            max_payload_bytes: max,
        })
    };
    let ok = run(b"orders", &r.bytes, Some(ZERO_HASH), MAX_PAYLOAD_BYTES).unwrap();
    assert_eq!(ok.payloads, ps.concat());
    assert_eq!(ok.forms, vec![0, 0, 2]);
    assert!(matches!(
        run(b"orders", &r.bytes, Some([1; 32]), 1 << 20),
        Err(Error::ChainBroken(_))
    ));
    assert!(matches!(
        run(b"other", &r.bytes, Some(ZERO_HASH), 1 << 20),
        Err(Error::ChainBroken(_))
    ));
    assert!(matches!(
        run(b"orders", &r.bytes, None, 9_999),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        run(b"orders", &r.bytes[..100], None, 1 << 20),
        Err(Error::Corrupt(_))
    ));
    let mut flipped = r.bytes.clone();
    flipped[r.positions[1] as usize + 58] ^= 1;
    assert!(matches!(
        run(b"orders", &flipped, Some(ZERO_HASH), 1 << 20),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        run(b"orders", &r.bytes, None, MAX_PAYLOAD_BYTES + 1),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(10);
    let s = segment(&mut rng, 8);
    for _ in 0..3000 {
        let mut data = s.bytes.clone();
        for _ in 0..1 + rng.below(6) {
            let p = rng.below(data.len() as u64) as usize;
            data[p] = rng.next() as u8;
        }
        let cut = rng.below(data.len() as u64 + 1) as usize;
        let d = &data[..cut];
        let _ = scan(d, rng.below(2) == 0, rng.below(2) == 0);
        let _ = find_valid_record(d, 5, false);
        for form in [FORM_LZ4, FORM_ZSTD] {
            let _ = decompress(form, &d[..d.len().min(200)], 1 << 16);
        }
        let hasher = ChainHasher::new(HashAlgorithm::Sha256, b"s").unwrap();
        let positions: Vec<u64> = (0..4)
            .map(|_| rng.below(d.len() as u64 + 100))
            .chain(s.bounds.iter().copied())
            .collect();
        let _ = decode_records(&DecodeInput {
            hasher: &hasher,
            data: d,
            base: rng.below(3),
            positions: &positions,
            expect_prev_hash: Some(ZERO_HASH),
            payloads_from: rng.below(4),
            max_payload_bytes: rng.below(1000),
        });
    }
}

#[test]
fn verified_scans_of_many_records_stop_at_the_same_record_as_the_rules_say() {
    // Enough records for the parallel hashing path and more than one verify window.
    let n = 70_000u64;
    let payloads: Vec<Vec<u8>> = (0..n).map(|k| format!("event-{k}").into_bytes()).collect();
    let ts: Vec<u64> = (0..n).collect();
    let r = encode(
        HashAlgorithm::Blake3,
        "s",
        0,
        ZERO_HASH,
        KIND_DATA,
        CODEC_NONE,
        &payloads,
        &ts,
    )
    .unwrap();
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"s").unwrap();
    let full = scan(&r.bytes, true, true);
    assert_eq!((full.stop, full.count()), (ScanStop::End, n as usize));
    assert_eq!(full.last_hash, Some(r.last_hash));
    for k in [3_000usize, 65_535, 66_000, 69_998] {
        let at = r.positions[k] as usize;
        let len = payloads[k].len();
        let mut bad = r.bytes.clone();
        bad[at + 58] ^= 0x20;
        let crc = crc32fast::hash(&bad[at..at + 58 + len]);
        bad[at + 58 + len..at + 62 + len].copy_from_slice(&crc.to_le_bytes());
        let s = scan(&bad, true, true);
        assert_eq!(
            (s.stop, s.count()),
            (ScanStop::Chain, k + 1),
            "tampered record {k}"
        );
        assert_eq!(s.stop_position, r.positions[k + 1]);
        assert_eq!(s.stop_offset, Some(k as u64 + 1));
        assert_eq!(s.next_offset, Some(k as u64 + 1));
        assert_eq!(s.last_timestamp, Some(k as u64));
        let original: Hash = r.hashes.as_ref().unwrap()[k * 32..(k + 1) * 32]
            .try_into()
            .unwrap();
        let s2 = scan_segment(&ScanInput {
            hasher: &hasher,
            data: &bad[..r.positions[k + 1] as usize],
            base: 0,
            first_offset: Some(0),
            prev_hash: Some(ZERO_HASH),
            prev_timestamp: None,
            verify_chain: true,
            final_: true,
        });
        assert_eq!(
            s2.stop,
            ScanStop::End,
            "the tampered record itself still frames"
        );
        assert_ne!(
            s2.last_hash,
            Some(original),
            "its recomputed hash is not the original one"
        );
    }
}

#[test]
fn a_large_batch_encodes_to_the_same_bytes_as_one_record_at_a_time() {
    // Large batches (here about 1.8 MB) prepare commitments and compressed forms on several threads.
    let mut rng = Rng(11);
    for codec in [CODEC_NONE, CODEC_LZ4, CODEC_ZSTD] {
        let payloads: Vec<Vec<u8>> = (0..600)
            .map(|_| {
                let size = rng.below(6000) as usize;
                payload(&mut rng, size)
            })
            .collect();
        let ts: Vec<u64> = (0..600).map(|k| 50 + k / 3).collect();
        let all = encode(
            HashAlgorithm::Sha256,
            "big",
            0,
            ZERO_HASH,
            KIND_DATA,
            codec,
            &payloads,
            &ts,
        )
        .unwrap();
        let mut one_by_one = Vec::new();
        let mut prev = ZERO_HASH;
        for (k, p) in payloads.iter().enumerate() {
            let r = encode(
                HashAlgorithm::Sha256,
                "big",
                k as u64,
                prev,
                KIND_DATA,
                codec,
                std::slice::from_ref(p),
                &ts[k..k + 1],
            )
            .unwrap();
            one_by_one.extend_from_slice(&r.bytes);
            prev = r.last_hash;
        }
        assert!(all.bytes == one_by_one, "codec {codec}");
        assert_eq!(all.last_hash, prev);
        assert_eq!(all.positions.len(), 600);
    }
}

#[test]
fn a_large_decode_equals_small_decodes_and_reports_the_first_failure() {
    // Large calls (here about 1.4 MB) decode runs of records on several threads; the result must not show it.
    let mut rng = Rng(12);
    let payloads: Vec<Vec<u8>> = (0..3000)
        .map(|_| {
            let size = rng.below(800) as usize;
            payload(&mut rng, size)
        })
        .collect();
    let ts: Vec<u64> = (0..3000).collect();
    let mut bytes = Vec::new();
    let mut positions = Vec::new();
    let mut prev = ZERO_HASH;
    for (b, chunk) in payloads.chunks(100).enumerate() {
        let r = encode(
            HashAlgorithm::Blake3,
            "d",
            b as u64 * 100,
            prev,
            KIND_DATA,
            (b % 3) as u8,
            chunk,
            &ts[b * 100..b * 100 + chunk.len()],
        )
        .unwrap();
        positions.extend(r.positions.iter().map(|p| p + bytes.len() as u64));
        bytes.extend_from_slice(&r.bytes);
        prev = r.last_hash;
    }
    let hasher = ChainHasher::new(HashAlgorithm::Blake3, b"d").unwrap();
    let run = |data: &[u8], from: u64| {
        decode_records(&DecodeInput {
            hasher: &hasher,
            data,
            base: 0,
            positions: &positions,
            expect_prev_hash: Some(ZERO_HASH),
            payloads_from: from,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
        })
    };
    let all = run(&bytes, 1234).unwrap();
    assert_eq!(all.offsets, (0..3000).collect::<Vec<_>>());
    assert_eq!(all.payloads, payloads[1234..].concat());
    assert_eq!(all.payload_ends[1233], 0);
    assert_eq!(all.payload_ends[2999], all.payloads.len() as u64);
    let mut end = 0;
    for (k, p) in payloads.iter().enumerate().skip(1234) {
        end += p.len() as u64;
        assert_eq!(all.payload_ends[k], end);
    }
    let tamper = |data: &mut Vec<u8>, k: usize| {
        // Rewrites the prev_hash of record k with a fixed CRC: well framed, breaks the link.
        let at = positions[k] as usize;
        let len = u32::from_le_bytes(data[at + 54..at + 58].try_into().unwrap()) as usize;
        data[at + 20] ^= 1;
        let crc = crc32fast::hash(&data[at..at + 58 + len]);
        data[at + 58 + len..at + 62 + len].copy_from_slice(&crc.to_le_bytes());
    };
    let damage = |data: &mut Vec<u8>, k: usize| data[positions[k] as usize + 1] ^= 1;
    let position_in = |e: Error| {
        let m = e.message();
        let after = &m[m.find("position ").unwrap() + 9..];
        after
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let mut d = bytes.clone();
    damage(&mut d, 2500);
    let e = run(&d, 0).unwrap_err();
    assert!(matches!(e, Error::Corrupt(_)));
    assert_eq!(position_in(e), positions[2500]);
    tamper(&mut d, 2100);
    let e = run(&d, 0).unwrap_err();
    assert!(matches!(e, Error::ChainBroken(_)), "{e}");
    assert_eq!(position_in(e), positions[2100]);
    damage(&mut d, 900);
    let e = run(&d, 0).unwrap_err();
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    assert_eq!(position_in(e), positions[900]);
}

#[test]
fn encode_batch_into_writes_what_encode_batch_returns_and_nothing_past_it() {
    let mut rng = Rng(0x1270);
    for case in 0..40 {
        let n = 1 + rng.below(300) as usize;
        let sizes: Vec<usize> = (0..n)
            .map(|_| [0, 1, 64, 256, 300, 5000][rng.below(6) as usize])
            .collect();
        let payloads: Vec<u8> = sizes.iter().flat_map(|&s| payload(&mut rng, s)).collect();
        let lengths: Vec<u32> = sizes.iter().map(|&s| s as u32).collect();
        let timestamps = vec![1_700_000_000_000u64; n];
        let input = EncodeInput {
            hash: if case % 2 == 0 {
                HashAlgorithm::Blake3
            } else {
                HashAlgorithm::Sha256
            },
            stream: b"orders",
            first_offset: 7,
            prev_hash: [case as u8 + 1; 32],
            kind: 0,
            codec: (case % 3) as u8,
            level: 0,
            dictionary: 0,
            payloads: &payloads,
            lengths: &lengths,
            timestamps: &timestamps,
            want_hashes: case % 4 != 0,
            batch_ends: &[],
        };
        let want = encode_batch(&input).unwrap();
        let bound = encoded_bound(payloads.len(), n);
        let mut out = vec![0xAAu8; bound + 9];
        assert!(
            encode_batch_into(&input, &mut out[..bound - 1])
                .unwrap()
                .is_none(),
            "case {case}: short of the bound"
        );
        let got = encode_batch_into(&input, &mut out).unwrap().expect("fits");
        assert!(
            out[..got.len] == want.bytes[..],
            "case {case}: bytes differ"
        );
        assert!(
            out[got.len..bound].iter().all(|&b| b == 0xAA)
                && out[bound..].iter().all(|&b| b == 0xAA),
            "case {case}: wrote past its records"
        );
        assert_eq!(
            (got.positions, got.last_hash, got.hashes),
            (want.positions, want.last_hash, want.hashes),
            "case {case}"
        );
        // Refused input: the same error either way.
        let bad = EncodeInput {
            prev_hash: ZERO_HASH,
            ..input
        };
        assert_eq!(
            format!("{:?}", encode_batch_into(&bad, &mut out).unwrap_err()),
            format!("{:?}", encode_batch(&bad).unwrap_err())
        );
    }
}

/// The batch vector of spec/vectors.json (SPEC §2, batches are atomic): one append of three
/// events, bit 7 of the kind byte on every record but the last, byte for byte, and the scan
/// accepts it; the bit on a checkpoint, or kind & 0x7F > 2, is an invalid frame.
#[test]
fn batch_vector_sets_bit_7_on_all_but_the_last_record() {
    let v = vectors();
    let b = &v["batch"];
    let records = b["records"].as_array().unwrap();
    let payloads: Vec<Vec<u8>> = records
        .iter()
        .map(|r| text(&r["payload"]).as_bytes().to_vec())
        .collect();
    let all = payloads.concat();
    let lengths: Vec<u32> = payloads.iter().map(|p| p.len() as u32).collect();
    let timestamps: Vec<u64> = records.iter().map(|r| number(&r["timestamp"])).collect();
    let ends: Vec<u32> = b["batchEnds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| number(e) as u32)
        .collect();
    for (name, hash) in [
        ("blake3", HashAlgorithm::Blake3),
        ("sha256", HashAlgorithm::Sha256),
    ] {
        let input = EncodeInput {
            hash,
            stream: text(&b["stream"]).as_bytes(),
            first_offset: 0,
            prev_hash: ZERO_HASH,
            kind: KIND_DATA,
            codec: CODEC_NONE,
            level: 0,
            dictionary: 0,
            payloads: &all,
            lengths: &lengths,
            timestamps: &timestamps,
            want_hashes: true,
            batch_ends: &ends,
        };
        let out = encode_batch(&input).unwrap();
        assert_eq!(hex(&out.bytes), text(&b[name]["bytes"]), "{name} bytes");
        let hashes: Vec<String> = out.hashes.unwrap().chunks(32).map(hex).collect();
        let want: Vec<String> = b[name]["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| text(h).to_string())
            .collect();
        assert_eq!(hashes, want, "{name} hashes");
        for (k, r) in records.iter().enumerate() {
            assert_eq!(
                out.bytes[out.positions[k] as usize + 52] as u64,
                number(&r["kind"])
            );
        }
        let hasher = ChainHasher::new(hash, b"orders").unwrap();
        let scan = scan_segment(&ScanInput {
            hasher: &hasher,
            data: &out.bytes,
            base: 0,
            first_offset: Some(0),
            prev_hash: Some(ZERO_HASH),
            prev_timestamp: None,
            verify_chain: true,
            final_: true,
        });
        assert_eq!(scan.kinds, vec![0x80, 0x80, 0]);
        // Bad batch ends are refused.
        for bad in [&[2u32][..], &[0, 3], &[2, 2, 3], &[4], &[3, 4]] {
            assert!(encode_batch(&EncodeInput {
                batch_ends: bad,
                ..input
            })
            .is_err());
        }
        assert!(encode_batch(&EncodeInput {
            kind: KIND_CHECKPOINT,
            ..input
        })
        .is_err());
    }
    assert!(kind_is_valid(0x80) && kind_is_valid(2) && kind_is_valid(0));
    assert!(
        !kind_is_valid(0x81) && !kind_is_valid(0x82) && !kind_is_valid(3) && !kind_is_valid(0x83)
    );
}
