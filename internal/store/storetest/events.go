package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func testEvent(i int) store.Event {
	return store.Event{
		Kind:    "release.created",
		App:     fmt.Sprintf("app%d", i),
		Release: i,
		Time:    t0.Add(time.Duration(i) * time.Second),
		Data:    json.RawMessage(fmt.Sprintf(`{"i": %d, "note": "n%d"}`, i, i)),
	}
}

// appendEvents appends n events and returns them as stored.
func appendEvents(t *testing.T, s store.Store, n int) []store.Event {
	t.Helper()
	var out []store.Event
	for i := range n {
		e := testEvent(i)
		e.Revision = 1000 // ignored: the store assigns revisions
		rev, err := s.AppendEvent(t.Context(), e)
		must(t, err)
		e.Revision = rev
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	return out
}

func checkEvents(t *testing.T, what string, got, want []store.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d events, want %d\n got %+v\nwant %+v", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		checkUTC(t, what+": Time", g.Time)
		if g.Revision != w.Revision || g.Kind != w.Kind || g.App != w.App || g.Release != w.Release ||
			!g.Time.Equal(w.Time) || !jsonEqual(g.Data, w.Data) {
			t.Errorf("%s[%d]:\n got %+v (data %s)\nwant %+v (data %s)", what, i, g, g.Data, w, w.Data)
		}
	}
}

var eventTests = []test{
	{desc: "events/empty log", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		rev, err := s.LastRevision(ctx)
		must(t, err)
		if rev != 0 {
			t.Errorf("LastRevision = %d, want 0", rev)
		}
		es, err := s.ListEvents(ctx, 0, 10)
		must(t, err)
		if len(es) != 0 {
			t.Errorf("ListEvents = %+v, want none", es)
		}
	}},
	{desc: "events/append and list", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		want := appendEvents(t, s, 5)
		for i := 1; i < len(want); i++ {
			if want[i].Revision <= want[i-1].Revision {
				t.Fatalf("revisions not increasing: %d then %d", want[i-1].Revision, want[i].Revision)
			}
		}
		if want[0].Revision <= 0 {
			t.Errorf("first revision = %d, want > 0", want[0].Revision)
		}
		got, err := s.ListEvents(ctx, 0, 100)
		must(t, err)
		checkEvents(t, "ListEvents", got, want)
		last, err := s.LastRevision(ctx)
		must(t, err)
		if last != want[4].Revision {
			t.Errorf("LastRevision = %d, want %d", last, want[4].Revision)
		}
	}},
	{desc: "events/since and limit", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		all := appendEvents(t, s, 6)
		for _, tc := range []struct {
			desc  string
			since int64
			limit int
			want  []store.Event
		}{
			{desc: "from the start, limited", since: 0, limit: 2, want: all[:2]},
			{desc: "after the second", since: all[1].Revision, limit: 10, want: all[2:]},
			{desc: "after the second, limit 1", since: all[1].Revision, limit: 1, want: all[2:3]},
			{desc: "limit 0 means all", since: 0, limit: 0, want: all},
			{desc: "negative limit means all", since: all[0].Revision, limit: -1, want: all[1:]},
			{desc: "after the last", since: all[5].Revision, limit: 10, want: nil},
			{desc: "far ahead", since: all[5].Revision + 100, limit: 10, want: nil},
		} {
			got, err := s.ListEvents(ctx, tc.since, tc.limit)
			must(t, err)
			checkEvents(t, tc.desc, got, tc.want)
		}
	}},
	{desc: "events/data round trips", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, tc := range []struct {
			desc string
			data json.RawMessage
		}{
			{desc: "none", data: nil},
			{desc: "object", data: json.RawMessage(`{"a":[1,2,{"b":null}],"c":"ü"}`)},
			{desc: "string", data: json.RawMessage(`"x"`)},
		} {
			rev, err := s.AppendEvent(ctx, store.Event{Kind: "k", Data: tc.data, Time: t0})
			must(t, err)
			got, err := s.ListEvents(ctx, rev-1, 1)
			must(t, err)
			checkEvents(t, tc.desc, got, []store.Event{{Revision: rev, Kind: "k", Data: tc.data, Time: t0}})
		}
	}},
	{desc: "events/invalid", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.AppendEvent(ctx, store.Event{Kind: ""})
		wantErr(t, "AppendEvent without kind", err, store.ErrInvalid)
		_, err = s.AppendEvent(ctx, store.Event{Kind: "k", Data: json.RawMessage(`{`)})
		wantErr(t, "AppendEvent with bad data", err, store.ErrInvalid)
		rev, err := s.LastRevision(ctx)
		must(t, err)
		if rev != 0 {
			t.Errorf("LastRevision after invalid appends = %d, want 0", rev)
		}
	}},
}
