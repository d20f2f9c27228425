package spec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func appWithDeps(deps map[string][]string) *App {
	a := &App{Name: "x", Services: map[string]*Service{}}
	for name, d := range deps {
		a.Services[name] = &Service{Image: "x", DependsOn: d}
	}
	return a
}

func TestOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		deps map[string][]string
		want []string
		err  string
	}{
		{desc: "no deps: by name", deps: map[string][]string{"c": nil, "a": nil, "b": nil}, want: []string{"a", "b", "c"}},
		{desc: "chain", deps: map[string][]string{"web": {"api"}, "api": {"store"}, "store": nil}, want: []string{"store", "api", "web"}},
		{
			desc: "diamond, ties by name",
			deps: map[string][]string{"top": {"left", "right"}, "left": {"base"}, "right": {"base"}, "base": nil, "alone": nil},
			want: []string{"alone", "base", "left", "right", "top"},
		},
		{desc: "a ready name is placed as soon as it is ready", deps: map[string][]string{"z": nil, "b": {"z"}, "c": nil}, want: []string{"c", "z", "b"}},
		{desc: "duplicates are harmless", deps: map[string][]string{"a": {"b", "b"}, "b": nil}, want: []string{"b", "a"}},
		{desc: "cycle", deps: map[string][]string{"web": {"api"}, "api": {"web"}, "x": nil}, err: "cycle: api -> web -> api"},
		{desc: "self", deps: map[string][]string{"a": {"a"}}, err: "cycle: a -> a"},
		{desc: "unknown", deps: map[string][]string{"a": {"ghost"}}, err: `unknown service "ghost"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := Order(appWithDeps(tt.deps))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Order = %v, %v; want error %q", got, err, tt.err)
				}
				if strings.Contains(tt.err, "cycle") && !errors.Is(err, ErrCycle) {
					t.Errorf("errors.Is(%v, ErrCycle) = false", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Order = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFindCyclesNamesEachCycleOnce(t *testing.T) {
	t.Parallel()
	a := appWithDeps(map[string][]string{
		"a": {"b"}, "b": {"a"},
		"c": {"d"}, "d": {"e"}, "e": {"c"},
		"f": {"a"},
	})
	got := findCycles(a, false)
	want := [][]string{{"a", "b", "a"}, {"c", "d", "e", "c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findCycles = %v, want %v", got, want)
	}
}
