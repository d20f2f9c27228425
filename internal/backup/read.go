package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// maxLine bounds one record line: a row of the largest table (a spec, a
// run's steps) fits many times over, and a corrupt file cannot make the
// reader buffer without end.
const maxLine = 256 << 20

// visitor receives a backup's contents in order. blob's r yields exactly
// the archive's bytes; whether they match the digest is known only once
// scan returns.
type visitor interface {
	header(h Header) error
	table(t snapshot.Table) error
	row(t snapshot.Table, vals []any) error
	sequences(s map[string]int64) error
	blob(digest string, size int64, r io.Reader) error
}

// scan reads a whole backup, checking its structure, every row against its
// table's columns, every source archive against its digest, and the
// trailer's digest and counts; the visitor sees everything as it goes, so
// a visitor that writes must be able to undo it when scan fails at the end.
func scan(ctx context.Context, in io.Reader, v visitor) (Header, Trailer, error) {
	gz, err := gzip.NewReader(in)
	if err != nil {
		return Header{}, Trailer{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	defer gz.Close()
	s := &scanner{br: bufio.NewReaderSize(gz, 64<<10), h: sha256.New()}
	h, tr, err := s.run(ctx, v)
	if err != nil {
		return Header{}, Trailer{}, err
	}
	// Reading to the end makes gzip check its CRC and length.
	if n, err := io.Copy(io.Discard, s.br); err != nil {
		return Header{}, Trailer{}, fmt.Errorf("%w: after the trailer: %w", ErrFormat, err)
	} else if n > 0 {
		return Header{}, Trailer{}, fmt.Errorf("%w: %d bytes after the trailer", ErrFormat, n)
	}
	return h, tr, nil
}

type scanner struct {
	br   *bufio.Reader
	h    hash.Hash
	line int
}

// next reads one record line and adds it to the digest unless it is the
// trailer.
func (s *scanner) next() (rawRecord, error) {
	var buf []byte
	for {
		part, err := s.br.ReadSlice('\n')
		buf = append(buf, part...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) && len(buf) < maxLine {
			continue
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return rawRecord{}, fmt.Errorf("%w: truncated after record %d (no trailer)", ErrFormat, s.line)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return rawRecord{}, fmt.Errorf("%w: record %d is longer than %d bytes", ErrFormat, s.line+1, maxLine)
		}
		return rawRecord{}, fmt.Errorf("%w: record %d: %w", ErrFormat, s.line+1, err)
	}
	s.line++
	var r rawRecord
	if err := json.Unmarshal(buf, &r); err != nil {
		return rawRecord{}, fmt.Errorf("%w: record %d: %w", ErrFormat, s.line, err)
	}
	if r.Trailer == nil {
		s.h.Write(buf)
	}
	return r, nil
}

// rawRecord is record with rows left undecoded until their table is known.
type rawRecord struct {
	Header    *Header           `json:"header"`
	Table     *snapshot.Table   `json:"table"`
	Row       []json.RawMessage `json:"r"`
	End       *tableEnd         `json:"end"`
	Sequences *map[string]int64 `json:"sequences"`
	Blob      *blobHeader       `json:"blob"`
	Trailer   *Trailer          `json:"trailer"`
}

func (s *scanner) run(ctx context.Context, v visitor) (Header, Trailer, error) {
	r, err := s.next()
	if err != nil {
		return Header{}, Trailer{}, err
	}
	if r.Header == nil || r.Header.Format != FormatName {
		return Header{}, Trailer{}, fmt.Errorf("%w: the first record is not a %s header", ErrFormat, FormatName)
	}
	h := *r.Header
	if h.FormatVersion < 1 || h.FormatVersion > FormatVersion {
		return Header{}, Trailer{}, fmt.Errorf("%w: format version %d (this berth reads 1 to %d)", ErrTooNew, h.FormatVersion, FormatVersion)
	}
	if err := v.header(h); err != nil {
		return Header{}, Trailer{}, err
	}
	var (
		got      Trailer
		cur      *snapshot.Table
		curRows  int64
		seen     = map[string]bool{}
		seqsDone bool
		vals     []any
	)
	for {
		if err := ctx.Err(); err != nil {
			return Header{}, Trailer{}, err
		}
		r, err := s.next()
		if err != nil {
			return Header{}, Trailer{}, err
		}
		switch {
		case r.Table != nil:
			if cur != nil || seqsDone {
				return Header{}, Trailer{}, fmt.Errorf("%w: record %d: table %s out of place", ErrFormat, s.line, r.Table.Name)
			}
			if seen[r.Table.Name] || r.Table.Name == "" || len(r.Table.Columns) == 0 {
				return Header{}, Trailer{}, fmt.Errorf("%w: record %d: table %q repeated or without columns", ErrFormat, s.line, r.Table.Name)
			}
			for _, c := range r.Table.Columns {
				if c.Kind != snapshot.Int && c.Kind != snapshot.Text && c.Kind != snapshot.Blob {
					return Header{}, Trailer{}, fmt.Errorf("%w: table %s column %s: kind %q", ErrFormat, r.Table.Name, c.Name, c.Kind)
				}
			}
			seen[r.Table.Name] = true
			t := *r.Table
			cur, curRows = &t, 0
			vals = make([]any, len(t.Columns))
			if err := v.table(t); err != nil {
				return Header{}, Trailer{}, err
			}
		case r.Row != nil:
			if cur == nil {
				return Header{}, Trailer{}, fmt.Errorf("%w: record %d: a row outside a table", ErrFormat, s.line)
			}
			if err := decodeRow(*cur, r.Row, vals); err != nil {
				return Header{}, Trailer{}, fmt.Errorf("%w: record %d: %w", ErrFormat, s.line, err)
			}
			curRows++
			if err := v.row(*cur, vals); err != nil {
				return Header{}, Trailer{}, err
			}
		case r.End != nil:
			if cur == nil || r.End.Table != cur.Name || r.End.Rows != curRows {
				return Header{}, Trailer{}, fmt.Errorf("%w: record %d: table end does not match (%+v, read %d rows)", ErrFormat, s.line, *r.End, curRows)
			}
			got.Tables++
			got.Rows += curRows
			cur = nil
		case r.Sequences != nil:
			if cur != nil || seqsDone {
				return Header{}, Trailer{}, fmt.Errorf("%w: record %d: sequences out of place", ErrFormat, s.line)
			}
			seqsDone = true
			if err := v.sequences(*r.Sequences); err != nil {
				return Header{}, Trailer{}, err
			}
		case r.Blob != nil:
			if cur != nil || !seqsDone {
				return Header{}, Trailer{}, fmt.Errorf("%w: record %d: source archive out of place", ErrFormat, s.line)
			}
			if err := s.blob(*r.Blob, v); err != nil {
				return Header{}, Trailer{}, err
			}
			got.Blobs++
		case r.Trailer != nil:
			tr := *r.Trailer
			sum := hex.EncodeToString(s.h.Sum(nil))
			switch {
			case cur != nil || !seqsDone:
				return Header{}, Trailer{}, fmt.Errorf("%w: trailer before the end of the tables", ErrFormat)
			case tr.SHA256 != sum:
				return Header{}, Trailer{}, fmt.Errorf("%w: contents do not match the trailer's digest (the file was changed)", ErrFormat)
			case tr.Tables != got.Tables || tr.Rows != got.Rows || tr.Blobs != got.Blobs:
				return Header{}, Trailer{}, fmt.Errorf("%w: trailer counts %d tables, %d rows, %d archives; read %d, %d, %d",
					ErrFormat, tr.Tables, tr.Rows, tr.Blobs, got.Tables, got.Rows, got.Blobs)
			}
			return h, tr, nil
		default:
			return Header{}, Trailer{}, fmt.Errorf("%w: record %d: unknown record", ErrFormat, s.line)
		}
	}
}

// blob hands the visitor the archive's bytes and checks them against the
// digest and the trailing newline.
func (s *scanner) blob(b blobHeader, v visitor) error {
	if !blob.ValidDigest(b.Digest) || b.Size < 0 {
		return fmt.Errorf("%w: record %d: source archive %q of %d bytes", ErrFormat, s.line, b.Digest, b.Size)
	}
	h := sha256.New()
	lr := io.LimitReader(s.br, b.Size)
	tee := io.TeeReader(io.TeeReader(lr, h), s.h)
	if err := v.blob(b.Digest, b.Size, tee); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("%w: source archive %s: %w", ErrFormat, b.Digest, err)
	}
	if lr.(*io.LimitedReader).N != 0 {
		return fmt.Errorf("%w: source archive %s is truncated", ErrFormat, b.Digest)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != b.Digest {
		return fmt.Errorf("%w: source archive %s does not match its digest", ErrFormat, b.Digest)
	}
	nl, err := s.br.ReadByte()
	if err != nil || nl != '\n' {
		return fmt.Errorf("%w: source archive %s is not followed by a newline", ErrFormat, b.Digest)
	}
	s.h.Write([]byte{'\n'})
	return nil
}

func decodeRow(t snapshot.Table, raw []json.RawMessage, vals []any) error {
	if len(raw) != len(t.Columns) {
		return fmt.Errorf("table %s: a row of %d values for %d columns", t.Name, len(raw), len(t.Columns))
	}
	for i, c := range t.Columns {
		m := raw[i]
		if bytes.Equal(m, []byte("null")) {
			vals[i] = nil
			continue
		}
		var err error
		switch c.Kind {
		case snapshot.Int:
			var n int64
			err = json.Unmarshal(m, &n)
			vals[i] = n
		case snapshot.Text:
			var s string
			err = json.Unmarshal(m, &s)
			vals[i] = s
		case snapshot.Blob:
			var b []byte
			err = json.Unmarshal(m, &b)
			vals[i] = b
		}
		if err != nil {
			return fmt.Errorf("table %s column %s: %w", t.Name, c.Name, err)
		}
	}
	return nil
}
