package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, time.March, 14, 10, 17, 42, 0, time.UTC) // a Saturday
	tests := []struct {
		desc, expr string
		from       time.Time
		want       string
	}{
		{desc: "every minute", expr: "* * * * *", from: base, want: "2026-03-14T10:18:00Z"},
		{desc: "strictly after a match", expr: "18 10 * * *", from: time.Date(2026, 3, 14, 10, 18, 0, 0, time.UTC), want: "2026-03-15T10:18:00Z"},
		{desc: "daily at three", expr: "0 3 * * *", from: base, want: "2026-03-15T03:00:00Z"},
		{desc: "step minutes", expr: "*/15 * * * *", from: base, want: "2026-03-14T10:30:00Z"},
		{desc: "start with step", expr: "5/20 * * * *", from: base, want: "2026-03-14T10:25:00Z"},
		{desc: "range with step", expr: "0 9-17/4 * * *", from: base, want: "2026-03-14T13:00:00Z"},
		{desc: "list", expr: "0 8,20 * * *", from: base, want: "2026-03-14T20:00:00Z"},
		{desc: "weekday names", expr: "30 6 * * mon-fri", from: base, want: "2026-03-16T06:30:00Z"},
		{desc: "sunday as 7", expr: "0 0 * * 7", from: base, want: "2026-03-15T00:00:00Z"},
		{desc: "month names", expr: "0 0 1 jun *", from: base, want: "2026-06-01T00:00:00Z"},
		{desc: "day or weekday when both set", expr: "0 12 20 * mon", from: base, want: "2026-03-16T12:00:00Z"},
		{desc: "leap day", expr: "0 0 29 2 *", from: base, want: "2028-02-29T00:00:00Z"},
		{desc: "macro", expr: "@weekly", from: base, want: "2026-03-15T00:00:00Z"},
		{desc: "macro hourly", expr: "@hourly", from: base, want: "2026-03-14T11:00:00Z"},
		{desc: "year end", expr: "59 23 31 12 *", from: base, want: "2026-12-31T23:59:00Z"},
		{desc: "never", expr: "0 0 30 2 *", from: base, want: "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if got := s.Next(tt.from).Format(time.RFC3339); got != tt.want {
				t.Errorf("Next = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ desc, expr, want string }{
		{desc: "too few fields", expr: "* * * *", want: "has 4 fields; expected 5"},
		{desc: "minute out of range", expr: "60 * * * *", want: `minute field "60": 60 is out of range 0-59`},
		{desc: "bad name", expr: "0 0 * foo *", want: `month field "foo": "foo" is not a number from 1 to 12 nor a name like "jan"`},
		{desc: "backwards range", expr: "0 5-3 * * *", want: "hour field \"5-3\": range 5-3 runs backwards"},
		{desc: "zero step", expr: "*/0 * * * *", want: "step \"0\" must be a number from 1 to 59"},
		{desc: "empty item", expr: "1,,2 * * * *", want: "empty list item"},
		{desc: "unknown macro", expr: "@sometimes", want: "unknown macro"},
		{desc: "day zero", expr: "0 0 0 * *", want: "day of month field \"0\": 0 is out of range 1-31"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) = nil error", tt.expr)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want it to contain %q", tt.expr, err, tt.want)
			}
		})
	}
}

// FuzzParse checks that Parse never panics and that Next of anything it
// accepts is after the start time and matches itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/5 1-3 1,15 jan-mar mon", "@daily", "0 0 30 2 *", "5/61 * * * *"} {
		f.Add(s)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		n := s.Next(from)
		if !n.IsZero() && !n.After(from) {
			t.Fatalf("Next(%v) = %v, not after", from, n)
		}
	})
}
