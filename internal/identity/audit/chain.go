package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"
)

// encodingVersion starts every canonical encoding, so a future change of
// layout cannot produce the same bytes as this one.
const encodingVersion = "berth-audit-v1"

// Append returns r as the record after prev (nil for the first record):
// Seq, PrevHash and Hash set, Time in UTC truncated to microseconds, and
// sensitive details withheld. It does not store anything: the caller
// writes the result in the same transaction that read prev, so two
// appends cannot both follow one record.
func Append(prev *Record, r Record) (Record, error) {
	switch {
	case r.Time.IsZero():
		return Record{}, fmt.Errorf("%w: time: required", ErrInvalid)
	case r.Actor == "":
		return Record{}, fmt.Errorf("%w: actor: required", ErrInvalid)
	case r.Action == "":
		return Record{}, fmt.Errorf("%w: action: required", ErrInvalid)
	case !r.Outcome.Valid():
		return Record{}, fmt.Errorf("%w: outcome: %q, want %q, %q or %q", ErrInvalid, r.Outcome, OutcomeSuccess, OutcomeDenied, OutcomeFailure)
	}
	out := r
	out.Time = r.Time.UTC().Truncate(time.Microsecond)
	out.Details, out.Redacted = redact(r.Details, r.Redacted)
	if prev == nil {
		out.Seq, out.PrevHash = 1, GenesisHash
	} else {
		out.Seq, out.PrevHash = prev.Seq+1, prev.Hash
	}
	out.Hash = hashOf(out)
	return out, nil
}

// redact copies details without the values of sensitive ones, and merges
// their names into redacted.
func redact(details map[string]string, redacted []string) (map[string]string, []string) {
	names := slices.Clone(redacted)
	var kept map[string]string
	for k, v := range details {
		if Sensitive(k) {
			names = append(names, k)
			continue
		}
		if kept == nil {
			kept = make(map[string]string, len(details))
		}
		kept[k] = v
	}
	slices.Sort(names)
	return kept, slices.Compact(names)
}

// hashOf is sha256 over the canonical encoding of r's fields (not Hash)
// followed by the previous hash.
func hashOf(r Record) string {
	h := sha256.New()
	h.Write(canonical(r))
	h.Write([]byte(r.PrevHash))
	return hex.EncodeToString(h.Sum(nil))
}

// canonical encodes r's content fields in a fixed order, each string
// length-prefixed, so no two different records share an encoding (no
// separator can be smuggled into a field to shift the others).
func canonical(r Record) []byte {
	var b []byte
	str := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(encodingVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UTC().Truncate(time.Microsecond).UnixMicro()))
	for _, s := range []string{r.Actor, r.Team, r.Action, r.Object, r.SourceIP, r.RequestID, string(r.Outcome)} {
		str(s)
	}
	keys := slices.Sorted(maps.Keys(r.Details))
	b = binary.BigEndian.AppendUint64(b, uint64(len(keys)))
	for _, k := range keys {
		str(k)
		str(r.Details[k])
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(r.Redacted)))
	for _, k := range r.Redacted {
		str(k)
	}
	return b
}

// Verify checks a chain from its first record (Seq 1) and returns a
// *BreakError for the first broken link, nil if every link holds.
func Verify(records []Record) error {
	return VerifyFrom(nil, records)
}

// VerifyFrom checks records as the continuation of anchor (a record
// already trusted, such as the last one of a previous check, or a
// published head); nil anchor means records start the chain. It lets a
// long log be checked page by page.
func VerifyFrom(anchor *Record, records []Record) error {
	prev := anchor
	for i, r := range records {
		if got := hashOf(r); got != r.Hash {
			return &BreakError{Index: i, Seq: r.Seq, Reason: "hash does not match the record's contents: the record was modified"}
		}
		wantSeq, wantPrev := int64(1), GenesisHash
		if prev != nil {
			wantSeq, wantPrev = prev.Seq+1, prev.Hash
		}
		switch {
		case r.Seq > wantSeq:
			return &BreakError{Index: i, Seq: r.Seq, Reason: gapReason(prev, wantSeq, r.Seq)}
		case r.Seq < wantSeq:
			return &BreakError{Index: i, Seq: r.Seq, Reason: fmt.Sprintf("seq %d where %d was expected: records are out of order or repeated", r.Seq, wantSeq)}
		case r.PrevHash != wantPrev:
			return &BreakError{Index: i, Seq: r.Seq, Reason: "prev_hash does not match the hash of the record before it: a record was replaced or reordered"}
		}
		prev = &records[i]
	}
	return nil
}

func gapReason(prev *Record, want, got int64) string {
	if prev == nil {
		return fmt.Sprintf("chain starts at seq %d, not 1: earlier records are missing (or pass an anchor)", got)
	}
	if want == got-1 {
		return fmt.Sprintf("seq %d is missing: the record was deleted or moved", want)
	}
	return fmt.Sprintf("seq %d-%d are missing: records were deleted or moved", want, got-1)
}

// Head is the last record's Seq and Hash: the value to publish to anchor
// the chain. It is zero for an empty slice.
func Head(records []Record) (int64, string) {
	if len(records) == 0 {
		return 0, ""
	}
	last := records[len(records)-1]
	return last.Seq, last.Hash
}
