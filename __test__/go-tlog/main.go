// go-tlog checks chainlog's transparency-log output with implementations nobody at chainlog wrote:
// golang.org/x/mod/sumdb/note (signed notes, keys), golang.org/x/mod/sumdb/tlog (RFC 6962 tree,
// proofs, tiles) and github.com/transparency-dev/merkle (RFC 9162 proof verification).
//
// It reads a JSON array of requests on stdin and writes a JSON array of results on stdout, one per
// request, so that one process checks a whole test's worth of cases. Used by
// __test__/tlog-go-interop.test.ts, which builds it into a git-ignored cache folder.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	Op      string     `json:"op"`
	Vkeys   []string   `json:"vkeys"`
	Skey    string     `json:"skey"`
	Msg     string     `json:"msg"`
	Text    string     `json:"text"`
	Leaves  [][]byte   `json:"leaves"`
	Sizes   []int64    `json:"sizes"`
	Pairs   [][2]int64 `json:"pairs"`
	Index   int64      `json:"index"`
	Size    int64      `json:"size"`
	Old     int64      `json:"old"`
	Leaf    []byte     `json:"leaf"`
	Proof   [][]byte   `json:"proof"`
	Root    []byte     `json:"root"`
	OldRoot []byte     `json:"oldRoot"`
	Origin  string     `json:"origin"`
	OldNote string     `json:"oldNote"`
}

type result map[string]any

func main() {
	var reqs []request
	if err := json.NewDecoder(os.Stdin).Decode(&reqs); err != nil {
		fmt.Fprintln(os.Stderr, "go-tlog: bad request JSON:", err)
		os.Exit(2)
	}
	out := make([]result, len(reqs))
	for i, r := range reqs {
		res, err := run(r)
		if res == nil {
			res = result{}
		}
		res["ok"] = err == nil
		if err != nil {
			res["err"] = err.Error()
		}
		out[i] = res
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(2)
	}
}

func run(r request) (result, error) {
	switch r.Op {
	case "note-open":
		return noteOpen(r.Msg, r.Vkeys)
	case "note-sign":
		s, err := note.NewSigner(r.Skey)
		if err != nil {
			return nil, err
		}
		msg, err := note.Sign(&note.Note{Text: r.Text}, s)
		return result{"signed": string(msg)}, err
	case "keys":
		return keys(r.Skey, r.Vkeys[0])
	case "tree":
		return tree(r.Leaves, r.Sizes, r.Pairs)
	case "inclusion":
		return nil, inclusion(r.Index, r.Size, r.Leaf, r.Proof, r.Root)
	case "consistency":
		return nil, consistency(r.Old, r.Size, r.Proof, r.OldRoot, r.Root)
	case "tlog-proof":
		return tlogProof(r.Msg, r.Vkeys, r.Origin)
	case "add-checkpoint":
		return addCheckpoint(r.Msg, r.Vkeys, r.Origin, r.OldNote)
	}
	return nil, fmt.Errorf("unknown op %q", r.Op)
}

func noteOpen(msg string, vkeys []string) (result, error) {
	var vs []note.Verifier
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	n, err := note.Open([]byte(msg), note.VerifierList(vs...))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range n.Sigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return result{"text": n.Text, "verified": names, "unverified": len(n.UnverifiedSigs)}, nil
}

func keys(skey, vkey string) (result, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if s.Name() != v.Name() || s.KeyHash() != v.KeyHash() {
		return nil, errors.New("signer and verifier differ")
	}
	sig, err := s.Sign([]byte("hi\n"))
	if err != nil || !v.Verify([]byte("hi\n"), sig) {
		return nil, errors.New("signer's signature does not verify")
	}
	return result{"name": v.Name(), "keyHash": fmt.Sprintf("%08x", v.KeyHash())}, nil
}

// hashStore is a tlog.HashReader over every stored hash, in storage order.
type hashStore []tlog.Hash

func (s hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// tree builds the log of these leaves (record data = chainlog chain hashes) with x/mod's tlog and
// returns roots, tiles and proofs for chainlog to compare byte for byte.
func tree(leaves [][]byte, sizes []int64, pairs [][2]int64) (result, error) {
	var store hashStore
	for i, d := range leaves {
		hs, err := tlog.StoredHashes(int64(i), d, store)
		if err != nil {
			return nil, err
		}
		store = append(store, hs...)
	}
	roots := map[string]string{}
	for _, n := range sizes {
		h, err := tlog.TreeHash(n, store)
		if err != nil {
			return nil, err
		}
		roots[strconv.FormatInt(n, 10)] = b64(h)
	}
	tiles := map[string]string{}
	for _, t := range tlog.NewTiles(8, 0, int64(len(leaves))) {
		data, err := tlog.ReadTileData(t, store)
		if err != nil {
			return nil, err
		}
		tiles[t.Path()] = base64.StdEncoding.EncodeToString(data)
	}
	var records, trees [][]string
	for _, p := range pairs {
		rp, err := tlog.ProveRecord(p[1], p[0], store)
		if err != nil {
			return nil, err
		}
		records = append(records, hashList(rp))
		if p[0] >= 1 {
			tp, err := tlog.ProveTree(p[1], p[0], store)
			if err != nil {
				return nil, err
			}
			trees = append(trees, hashList(tp))
		} else {
			trees = append(trees, nil)
		}
	}
	return result{"roots": roots, "tiles": tiles, "recordProofs": records, "treeProofs": trees}, nil
}

func hashList(hs []tlog.Hash) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, b64(h))
	}
	return out
}

func toHashes(bs [][]byte) ([]tlog.Hash, error) {
	var out []tlog.Hash
	for _, b := range bs {
		if len(b) != tlog.HashSize {
			return nil, errors.New("hash of wrong size")
		}
		out = append(out, tlog.Hash(b))
	}
	return out, nil
}

// inclusion checks an audit path with both reference verifiers; both must accept.
func inclusion(index, size int64, leafData []byte, p [][]byte, root []byte) error {
	hs, err := toHashes(append(append([][]byte{}, p...), root))
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(hs[:len(p)], size, hs[len(p)], index, tlog.RecordHash(leafData)); err != nil {
		return fmt.Errorf("x/mod tlog: %w", err)
	}
	leafHash := rfc6962.DefaultHasher.HashLeaf(leafData)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(size), leafHash, p, root); err != nil {
		return fmt.Errorf("transparency-dev/merkle: %w", err)
	}
	return nil
}

// consistency checks a consistency proof with both reference verifiers (0 < old ≤ size).
func consistency(old, size int64, p [][]byte, oldRoot, root []byte) error {
	hs, err := toHashes(append(append([][]byte{}, p...), oldRoot, root))
	if err != nil {
		return err
	}
	if old < size || len(p) > 0 {
		if err := tlog.CheckTree(hs[:len(p)], size, hs[len(p)+1], old, hs[len(p)]); err != nil {
			return fmt.Errorf("x/mod tlog: %w", err)
		}
	} else if !bytes.Equal(oldRoot, root) {
		return errors.New("equal sizes, different roots")
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(size), p, oldRoot, root); err != nil {
		return fmt.Errorf("transparency-dev/merkle: %w", err)
	}
	return nil
}

type checkpoint struct {
	origin string
	size   int64
	root   []byte
}

// openCheckpoint opens a signed note with the given keys and parses its C2SP tlog-checkpoint text.
func openCheckpoint(msg string, vkeys []string, origin string) (checkpoint, error) {
	res, err := noteOpen(msg, vkeys)
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(strings.TrimSuffix(res["text"].(string), "\n"), "\n")
	if len(lines) < 3 || lines[0] != origin {
		return checkpoint{}, fmt.Errorf("checkpoint origin is not %q", origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, errors.New("bad checkpoint size")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return checkpoint{}, errors.New("bad checkpoint root")
	}
	return checkpoint{lines[0], size, root}, nil
}

// splitLines returns the lines of text up to the first empty line, and the rest after it.
func splitLines(text string) ([]string, string, error) {
	head, rest, ok := strings.Cut(text, "\n\n")
	if !ok {
		return nil, "", errors.New("no empty line")
	}
	return strings.Split(head, "\n"), rest, nil
}

func decodeHashes(lines []string) ([][]byte, error) {
	var out [][]byte
	for _, l := range lines {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("bad hash line %q", l)
		}
		out = append(out, h)
	}
	return out, nil
}

// tlogProof verifies a C2SP tlog-proof whose extra is a chainlog record preimage (SHA-256 store).
func tlogProof(text string, vkeys []string, origin string) (result, error) {
	lines, signed, err := splitLines(text)
	if err != nil {
		return nil, err
	}
	if len(lines) < 3 || lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") || !strings.HasPrefix(lines[2], "index ") {
		return nil, errors.New("not a tlog-proof with extra")
	}
	extra, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
	if err != nil {
		return nil, err
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[2], "index "), 10, 64)
	if err != nil {
		return nil, err
	}
	p, err := decodeHashes(lines[3:])
	if err != nil {
		return nil, err
	}
	c, err := openCheckpoint(signed, vkeys, origin)
	if err != nil {
		return nil, err
	}
	leafData := sha256.Sum256(extra)
	if err := inclusion(index, c.size, leafData[:], p, c.root); err != nil {
		return nil, err
	}
	return result{"index": index, "size": c.size}, nil
}

// addCheckpoint verifies a tlog-witness add-checkpoint body against an older signed checkpoint.
func addCheckpoint(body string, vkeys []string, origin, oldNote string) (result, error) {
	lines, signed, err := splitLines(body)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(lines[0], "old ") {
		return nil, errors.New("no old line")
	}
	old, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if err != nil {
		return nil, err
	}
	p, err := decodeHashes(lines[1:])
	if err != nil {
		return nil, err
	}
	next, err := openCheckpoint(signed, vkeys, origin)
	if err != nil {
		return nil, err
	}
	prev, err := openCheckpoint(oldNote, vkeys, origin)
	if err != nil {
		return nil, err
	}
	if prev.size != old {
		return nil, errors.New("old size is not the trusted checkpoint's")
	}
	if err := consistency(old, next.size, p, prev.root, next.root); err != nil {
		return nil, err
	}
	return result{"old": old, "size": next.size}, nil
}
