package spec

import (
	"strings"
	"testing"
)

func TestMilliCPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, in string
		want     int64
		err      string
	}{
		{desc: "unset", in: "", want: 0},
		{desc: "millicores", in: "500m", want: 500},
		{desc: "cores", in: "1", want: 1000},
		{desc: "fraction", in: "0.5", want: 500},
		{desc: "leading dot", in: ".25", want: 250},
		{desc: "decimal cores", in: "2.5", want: 2500},
		{desc: "trailing dot", in: "2.", want: 2000},
		{desc: "too fine", in: "0.0005", err: "finer than 1m"},
		{desc: "fractional millicores", in: "1.5m", err: "finer than 1m"},
		{desc: "zero", in: "0", err: "must be greater than 0"},
		{desc: "zero millicores", in: "0m", err: "must be greater than 0"},
		{desc: "negative", in: "-1", err: "not a CPU quantity"},
		{desc: "exponent", in: "1e3", err: "not a CPU quantity"},
		{desc: "unit only", in: "m", err: "not a CPU quantity"},
		{desc: "dot only", in: ".", err: "not a CPU quantity"},
		{desc: "words", in: "two", err: "not a CPU quantity"},
		{desc: "huge", in: "99999999999999999999", err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := Resources{CPU: tt.in}.MilliCPU()
			checkQuantity(t, got, err, tt.want, tt.err)
		})
	}
}

func TestMemoryBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, in string
		want     int64
		err      string
	}{
		{desc: "unset", in: "", want: 0},
		{desc: "bytes", in: "1000000", want: 1000000},
		{desc: "Ki", in: "1Ki", want: 1024},
		{desc: "Mi", in: "256Mi", want: 256 << 20},
		{desc: "Gi", in: "1Gi", want: 1 << 30},
		{desc: "fractional Gi", in: "1.5Gi", want: 3 << 29},
		{desc: "Ei", in: "7Ei", want: 7 << 60},
		{desc: "decimal M", in: "512M", want: 512e6},
		{desc: "decimal k", in: "2k", want: 2000},
		{desc: "fraction of a byte rounds up", in: "0.5", want: 1},
		{desc: "zero", in: "0Mi", err: "must be greater than 0"},
		{desc: "GB", in: "1GB", err: `did you mean "1G" or "1Gi"?`},
		{desc: "GiB", in: "1GiB", err: `did you mean "1Gi"?`},
		{desc: "capital K", in: "1K", err: "not a memory quantity"},
		{desc: "space", in: "1 Gi", err: "not a memory quantity"},
		{desc: "overflow", in: "8Ei", err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := Resources{Memory: tt.in}.MemoryBytes()
			checkQuantity(t, got, err, tt.want, tt.err)
		})
	}
}

func TestVolumeSizeBytes(t *testing.T) {
	t.Parallel()
	got, err := Volume{Size: "10Gi"}.SizeBytes()
	checkQuantity(t, got, err, 10<<30, "")
	_, err = Volume{Size: "big"}.SizeBytes()
	checkQuantity(t, 0, err, 0, "not a size quantity")
}

func checkQuantity(t *testing.T, got int64, err error, want int64, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("error = %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Errorf("= %d, %v; want %d", got, err, want)
	}
}
