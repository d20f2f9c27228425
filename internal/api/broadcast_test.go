package api

import (
	"context"
	"testing"
	"time"
)

func TestBroadcaster(t *testing.T) {
	t.Parallel()
	b := NewBroadcaster()
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	s1, s2 := b.Subscribe(ctx1), b.Subscribe(ctx2)

	b.Poke()
	b.Poke() // merges with the pending one; must not block
	for i, ch := range []<-chan struct{}{s1, s2} {
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatalf("subscriber %d not woken", i)
		}
	}
	select {
	case <-s1:
		t.Fatal("two pokes while busy should wake once")
	default:
	}

	cancel1()
	select {
	case _, ok := <-s1:
		if ok {
			t.Fatal("cancelled subscription received a poke instead of closing")
		}
	case <-time.After(time.Second):
		t.Fatal("cancelled subscription not closed")
	}
	b.Poke() // must not send on the closed channel
	if got := len(b.subs); got != 1 {
		t.Fatalf("%d subscribers left, want 1", got)
	}
}
