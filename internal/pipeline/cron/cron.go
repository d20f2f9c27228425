// Package cron reads the five-field cron expressions of a pipeline's
// `schedule:` and computes when they next fire.
//
//	┌ minute        0-59
//	│ ┌ hour        0-23
//	│ │ ┌ day       1-31
//	│ │ │ ┌ month   1-12 or jan-dec
//	│ │ │ │ ┌ weekday 0-7 or sun-sat (0 and 7 are Sunday)
//	* * * * *
//
// Each field is "*", a value, a range "a-b", a step "*/n", "a-b/n" or "a/n",
// or a comma-separated list of those. As in Vixie cron, when both day and
// weekday are restricted a time matches if either does. The macros @yearly
// (@annually), @monthly, @weekly, @daily (@midnight) and @hourly stand for
// their usual expressions. Times are computed in the location of the time
// given to Next; Berth passes UTC.
package cron

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid matches every error Parse returns.
var ErrInvalid = errors.New("cron: invalid expression")

// Schedule is a parsed expression: one bit set per allowed value.
type Schedule struct {
	minute, hour, dom, month, dow uint64
	// domStar and dowStar record an unrestricted day or weekday field, for
	// the either-or rule.
	domStar, dowStar bool
}

type field struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var fields = [5]field{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse reads an expression; its errors name the field that is wrong.
func Parse(expr string) (*Schedule, error) {
	s := strings.TrimSpace(expr)
	if strings.HasPrefix(s, "@") {
		m, ok := macros[strings.ToLower(s)]
		if !ok {
			return nil, fmt.Errorf("%w: unknown macro %q; expected one of @yearly, @monthly, @weekly, @daily, @hourly", ErrInvalid, s)
		}
		s = m
	}
	parts := strings.Fields(s)
	if len(parts) != 5 {
		return nil, fmt.Errorf("%w: %q has %d fields; expected 5 (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\"", ErrInvalid, expr, len(parts))
	}
	var bits [5]uint64
	for i, p := range parts {
		b, err := parseField(p, fields[i])
		if err != nil {
			return nil, fmt.Errorf("%w: %s field %q: %w", ErrInvalid, fields[i].name, p, err)
		}
		bits[i] = b
	}
	// 7 is Sunday too.
	if bits[4]&(1<<7) != 0 {
		bits[4] = bits[4]&^(1<<7) | 1
	}
	return &Schedule{
		minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4],
		domStar: parts[2] == "*" || parts[2] == "?",
		dowStar: parts[4] == "*" || parts[4] == "?",
	}, nil
}

func parseField(s string, f field) (uint64, error) {
	var bits uint64
	for item := range strings.SplitSeq(s, ",") {
		b, err := parseItem(item, f)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

func parseItem(item string, f field) (uint64, error) {
	if item == "" {
		return 0, errors.New("empty list item")
	}
	rng, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 || n > f.max {
			return 0, fmt.Errorf("step %q must be a number from 1 to %d", stepText, f.max)
		}
		step = n
	}
	var lo, hi int
	switch {
	case rng == "*" || rng == "?":
		lo, hi = f.min, f.max
		if f.name == "day of week" {
			hi = 6 // "*" is each day once, not Sunday twice
		}
	case strings.Contains(rng, "-"):
		a, b, _ := strings.Cut(rng, "-")
		var err error
		if lo, err = value(a, f); err != nil {
			return 0, err
		}
		if hi, err = value(b, f); err != nil {
			return 0, err
		}
		if lo > hi {
			return 0, fmt.Errorf("range %d-%d runs backwards", lo, hi)
		}
	default:
		v, err := value(rng, f)
		if err != nil {
			return 0, err
		}
		lo, hi = v, v
		if hasStep {
			hi = f.max // "5/15" is 5, 20, 35, 50
		}
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << uint(v)
	}
	return bits, nil
}

func value(s string, f field) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%q is not a number from %d to %d nor a name like %q", s, f.min, f.max, f.names[0])
		}
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, f.min, f.max)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}
