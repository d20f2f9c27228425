package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/store"
)

func testRecord(i int, team string) audit.Record {
	return audit.Record{
		Time: t0.Add(time.Duration(i) * time.Second), Actor: "u1", Team: team, Action: "app.apply",
		Object: fmt.Sprintf("app/a%d", i), SourceIP: "127.0.0.1", RequestID: fmt.Sprintf("r%d", i),
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"release": "1", "db_password": "hunter2"},
	}
}

var auditTests = []test{
	{desc: "audit/append chains, withholds secrets, filters", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for i := range 5 {
			team := "ta"
			if i%2 == 1 {
				team = "tb"
			}
			rec, err := s.AppendAudit(ctx, testRecord(i, team))
			must(t, err)
			if rec.Seq != int64(i+1) {
				t.Errorf("record %d: seq %d", i, rec.Seq)
			}
			if _, ok := rec.Details["db_password"]; ok {
				t.Errorf("record %d kept a secret-looking detail: %v", i, rec.Details)
			}
		}
		all, err := s.ListAudit(ctx, store.AuditQuery{})
		must(t, err)
		if len(all) != 5 {
			t.Fatalf("ListAudit = %d records", len(all))
		}
		if err := audit.Verify(all); err != nil {
			t.Errorf("stored chain does not verify: %v", err)
		}
		if all[0].Time.Location() != time.UTC || all[0].Details["release"] != "1" || fmt.Sprint(all[0].Redacted) != "[db_password]" {
			t.Errorf("record read back = %+v", all[0])
		}
		tb, err := s.ListAudit(ctx, store.AuditQuery{Team: "tb"})
		must(t, err)
		if len(tb) != 2 || tb[0].Seq != 2 || tb[1].Seq != 4 {
			t.Errorf("team tb = %+v", tb)
		}
		since, err := s.ListAudit(ctx, store.AuditQuery{Since: t0.Add(3 * time.Second).Truncate(time.Microsecond)})
		must(t, err)
		if len(since) != 2 || since[0].Seq != 4 {
			t.Errorf("since = %+v", since)
		}
		page, err := s.ListAudit(ctx, store.AuditQuery{AfterSeq: 2, Limit: 2})
		must(t, err)
		if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
			t.Errorf("page = %+v", page)
		}
		_, err = s.AppendAudit(ctx, audit.Record{Time: t0, Action: "x", Outcome: audit.OutcomeSuccess})
		wantErr(t, "no actor", err, store.ErrInvalid)
	}},
	{desc: "audit/concurrent appends form one chain", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const writers, each = 4, 10
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					var err error
					if i%2 == 0 {
						_, err = s.AppendAudit(ctx, testRecord(w*each+i, "ta"))
					} else {
						err = s.InTx(ctx, func(tx store.Tx) error {
							_, err := tx.AppendAudit(ctx, testRecord(w*each+i, "ta"))
							return err
						})
					}
					if err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		all, err := s.ListAudit(ctx, store.AuditQuery{})
		must(t, err)
		if len(all) != writers*each {
			t.Fatalf("%d records, want %d", len(all), writers*each)
		}
		if err := audit.Verify(all); err != nil {
			t.Errorf("chain after concurrent appends: %v", err)
		}
	}},
	{desc: "audit/append rolls back with its transaction", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.AppendAudit(ctx, testRecord(1, "ta")); err != nil {
				return err
			}
			return boom
		})
		wantErr(t, "InTx", err, boom)
		all, err := s.ListAudit(ctx, store.AuditQuery{})
		must(t, err)
		if len(all) != 0 {
			t.Errorf("records after rollback: %+v", all)
		}
	}},
}
