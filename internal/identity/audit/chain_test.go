package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.FixedZone("CST", 8*3600))

// build appends n records, as a store would, one after the other.
func build(t *testing.T, n int) []Record {
	t.Helper()
	var out []Record
	var prev *Record
	for i := 0; i < n; i++ {
		r, err := Append(prev, Record{
			Time:      t0.Add(time.Duration(i) * time.Second),
			Actor:     "usr_alice",
			Team:      "team_1",
			Action:    "app.deploy",
			Object:    fmt.Sprintf("app/shop/%d", i),
			SourceIP:  "127.0.0.1",
			RequestID: fmt.Sprintf("req-%d", i),
			Outcome:   OutcomeSuccess,
			Details:   map[string]string{"release": fmt.Sprint(i)},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		prev = &out[len(out)-1]
	}
	return out
}

func breakOf(t *testing.T, err error) *BreakError {
	t.Helper()
	var be *BreakError
	if !errors.As(err, &be) || !errors.Is(err, ErrBroken) {
		t.Fatalf("Verify = %v, want a *BreakError", err)
	}
	return be
}

func TestAppendAndVerify(t *testing.T) {
	t.Parallel()
	recs := build(t, 5)
	if err := Verify(recs); err != nil {
		t.Fatalf("intact chain: %v", err)
	}
	if recs[0].Seq != 1 || recs[0].PrevHash != GenesisHash {
		t.Fatalf("first record seq %d prev %q", recs[0].Seq, recs[0].PrevHash)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq != int64(i+1) || recs[i].PrevHash != recs[i-1].Hash {
			t.Fatalf("record %d not linked to %d", i, i-1)
		}
	}
	if recs[0].Time.Location() != time.UTC || recs[0].Time.Nanosecond() != 123456000 {
		t.Fatalf("time %v: want UTC truncated to microseconds", recs[0].Time)
	}
	seq, head := Head(recs)
	if seq != 5 || head != recs[4].Hash {
		t.Fatalf("Head = %d %s", seq, head)
	}
	// A stored and reloaded chain (JSON here; SQL rows in the store) still
	// verifies: nothing in the hash depends on in-memory state.
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	var back []Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := Verify(back); err != nil {
		t.Fatalf("reloaded chain: %v", err)
	}
}

func TestTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		tamper    func([]Record) []Record
		wantIndex int
		wantSeq   int64
		wantWord  string
	}{
		{
			desc:      "modified field",
			tamper:    func(r []Record) []Record { r[2].Actor = "usr_mallory"; return r },
			wantIndex: 2, wantSeq: 3, wantWord: "modified",
		},
		{
			desc:      "modified outcome",
			tamper:    func(r []Record) []Record { r[4].Outcome = OutcomeDenied; return r },
			wantIndex: 4, wantSeq: 5, wantWord: "modified",
		},
		{
			desc:      "modified detail",
			tamper:    func(r []Record) []Record { r[1].Details["release"] = "99"; return r },
			wantIndex: 1, wantSeq: 2, wantWord: "modified",
		},
		{
			desc:      "modified time",
			tamper:    func(r []Record) []Record { r[3].Time = r[3].Time.Add(time.Microsecond); return r },
			wantIndex: 3, wantSeq: 4, wantWord: "modified",
		},
		{
			desc: "modified and rehashed",
			tamper: func(r []Record) []Record {
				r[2].Object = "app/other"
				r[2].Hash = hashOf(r[2])
				return r
			},
			wantIndex: 3, wantSeq: 4, wantWord: "prev_hash",
		},
		{
			desc:      "deleted record",
			tamper:    func(r []Record) []Record { return slices.Delete(r, 2, 3) },
			wantIndex: 2, wantSeq: 4, wantWord: "seq 3 is missing",
		},
		{
			desc:      "deleted two",
			tamper:    func(r []Record) []Record { return slices.Delete(r, 2, 4) },
			wantIndex: 2, wantSeq: 5, wantWord: "seq 3-4 are missing",
		},
		{
			desc:      "deleted first",
			tamper:    func(r []Record) []Record { return r[1:] },
			wantIndex: 0, wantSeq: 2, wantWord: "not 1",
		},
		{
			desc: "deleted and renumbered",
			tamper: func(r []Record) []Record {
				r = slices.Delete(r, 2, 3)
				for i := 2; i < len(r); i++ {
					r[i].Seq--
				}
				return r
			},
			wantIndex: 2, wantSeq: 3, wantWord: "modified",
		},
		{
			desc: "reordered pair",
			tamper: func(r []Record) []Record {
				r[2], r[3] = r[3], r[2]
				return r
			},
			wantIndex: 2, wantSeq: 4, wantWord: "seq 3 is missing",
		},
		{
			desc: "repeated record",
			tamper: func(r []Record) []Record {
				return slices.Insert(r, 3, r[2])
			},
			wantIndex: 3, wantSeq: 3, wantWord: "out of order or repeated",
		},
		{
			desc: "record replaced by another chain's",
			tamper: func(r []Record) []Record {
				other := build(t, 6)
				other[0].Actor = "x"
				other[0], _ = Append(nil, other[0])
				o, _ := Append(&other[0], other[1])
				r[1] = o
				return r
			},
			wantIndex: 1, wantSeq: 2, wantWord: "prev_hash",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			be := breakOf(t, Verify(tt.tamper(build(t, 6))))
			if be.Index != tt.wantIndex || be.Seq != tt.wantSeq || !strings.Contains(be.Reason, tt.wantWord) {
				t.Fatalf("got %v; want index %d, seq %d, reason with %q", be, tt.wantIndex, tt.wantSeq, tt.wantWord)
			}
		})
	}
}

func TestVerifyFromAnchor(t *testing.T) {
	t.Parallel()
	recs := build(t, 6)
	if err := VerifyFrom(&recs[2], recs[3:]); err != nil {
		t.Fatalf("page after an anchor: %v", err)
	}
	// Without the anchor, a page that does not start at 1 is refused.
	breakOf(t, Verify(recs[3:]))
	// Cutting the tail is invisible to the chain alone: the published head
	// catches it.
	cut := recs[:4]
	if err := Verify(cut); err != nil {
		t.Fatalf("a truncated chain is still a valid chain: %v", err)
	}
	if seq, head := Head(cut); seq == 6 || head == recs[5].Hash {
		t.Fatal("head of a truncated chain equals the published head")
	}
	// A forged anchor does not vouch for the real continuation.
	forged := recs[2]
	forged.Hash = strings.Repeat("f", 64)
	be := breakOf(t, VerifyFrom(&forged, recs[3:]))
	if be.Index != 0 || !strings.Contains(be.Reason, "prev_hash") {
		t.Fatalf("forged anchor: %v", be)
	}
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	r, err := Append(nil, Record{
		Time: t0, Actor: "usr_alice", Team: "team_1", Action: "secret.set", Object: "secret/shop/DB_PASSWORD",
		Outcome: OutcomeSuccess,
		Details: map[string]string{
			"name":           "DB_PASSWORD",
			"value":          "hunter2hunter2",
			"new_value":      "s3cr3t-new",
			"db_password":    "p",
			"API-Token":      "berth_pat_x",
			"keyring":        "primary",
			"version":        "3",
			"authorization":  "Bearer x",
			"private.key":    "-----BEGIN",
			"valuation_note": "kept",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantKept := map[string]string{"name": "DB_PASSWORD", "keyring": "primary", "version": "3", "valuation_note": "kept"}
	if fmt.Sprint(r.Details) != fmt.Sprint(wantKept) {
		t.Fatalf("details %v, want %v", r.Details, wantKept)
	}
	wantRedacted := []string{"API-Token", "authorization", "db_password", "new_value", "private.key", "value"}
	if !slices.Equal(r.Redacted, wantRedacted) {
		t.Fatalf("redacted %v, want %v", r.Redacted, wantRedacted)
	}
	b, _ := json.Marshal(r)
	for _, secret := range []string{"hunter2", "s3cr3t", "berth_pat_x", "Bearer", "BEGIN"} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("record %s contains %q", b, secret)
		}
	}
	if err := Verify([]Record{r}); err != nil {
		t.Fatal(err)
	}
	// Un-redacting a value afterwards breaks the hash.
	r.Details["value"] = "hunter2hunter2"
	breakOf(t, Verify([]Record{r}))
}

func TestAppendValidates(t *testing.T) {
	t.Parallel()
	good := Record{Time: t0, Actor: "a", Action: "x", Outcome: OutcomeSuccess}
	tests := []struct {
		desc  string
		edit  func(*Record)
		field string
	}{
		{"time", func(r *Record) { r.Time = time.Time{} }, "time:"},
		{"actor", func(r *Record) { r.Actor = "" }, "actor:"},
		{"action", func(r *Record) { r.Action = "" }, "action:"},
		{"outcome", func(r *Record) { r.Outcome = "ok" }, "outcome:"},
	}
	for _, tt := range tests {
		r := good
		tt.edit(&r)
		if _, err := Append(nil, r); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: %v, want ErrInvalid naming %s", tt.desc, err, tt.field)
		}
	}
}

// TestCanonicalIsInjective checks that shifting text between adjacent
// fields changes the hash (no separator ambiguity).
func TestCanonicalIsInjective(t *testing.T) {
	t.Parallel()
	a, _ := Append(nil, Record{Time: t0, Actor: "ab", Team: "c", Action: "x", Outcome: OutcomeSuccess})
	b, _ := Append(nil, Record{Time: t0, Actor: "a", Team: "bc", Action: "x", Outcome: OutcomeSuccess})
	if a.Hash == b.Hash {
		t.Fatal("records differing only in where a field boundary falls share a hash")
	}
	c, _ := Append(nil, Record{Time: t0, Actor: "a", Action: "x", Outcome: OutcomeSuccess, Details: map[string]string{"k": "v=w"}})
	d, _ := Append(nil, Record{Time: t0, Actor: "a", Action: "x", Outcome: OutcomeSuccess, Details: map[string]string{"k=v": "w"}})
	if c.Hash == d.Hash {
		t.Fatal("details k:v=w and k=v:w share a hash")
	}
}
