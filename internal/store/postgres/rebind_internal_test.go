package postgres

import "testing"

func TestRebind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, in, want string
	}{
		{desc: "none", in: `SELECT 1`, want: `SELECT 1`},
		{desc: "in order", in: `UPDATE t SET a = ?, b = ? WHERE c = ?`, want: `UPDATE t SET a = $1, b = $2 WHERE c = $3`},
		{desc: "casts stay", in: `SELECT ?::text, ?::bigint`, want: `SELECT $1::text, $2::bigint`},
		{desc: "string literal", in: `SELECT '?' , ?`, want: `SELECT '?' , $1`},
		{desc: "quoted identifier", in: `SELECT "a?b" FROM t WHERE x = ?`, want: `SELECT "a?b" FROM t WHERE x = $1`},
		{desc: "comment", in: "-- why?\nSELECT ?", want: "-- why?\nSELECT $1"},
		{desc: "unterminated string", in: `SELECT ? 'x?`, want: `SELECT $1 'x?`},
		{desc: "ten and more", in: `(?,?,?,?,?,?,?,?,?,?,?)`, want: `($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := rebind(tc.in); got != tc.want {
				t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
