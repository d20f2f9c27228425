package oidclogin

import "strings"

func str(v any) string {
	s, _ := v.(string)
	return s
}

// boolish reads email_verified, which some providers send as "true".
func boolish(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

// groups reads the groups claim: a list of strings or a single string,
// found by its exact name first, then as a dotted path into nested
// objects.
func groups(all map[string]any, claim string) []string {
	v, ok := all[claim]
	if !ok {
		v, ok = lookupPath(all, strings.Split(claim, "."))
	}
	if !ok {
		return nil
	}
	switch g := v.(type) {
	case string:
		if g == "" {
			return nil
		}
		return []string{g}
	case []any:
		out := make([]string, 0, len(g))
		for _, e := range g {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func lookupPath(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}
