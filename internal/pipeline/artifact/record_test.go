package artifact

import (
	"fmt"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

func TestRecordListsUpToTheCap(t *testing.T) {
	for _, n := range []int{0, 3, store.MaxListedArtifacts, store.MaxListedArtifacts + 5} {
		files := make([]string, n)
		for i := range files {
			files[i] = fmt.Sprintf("f%05d", i)
		}
		p := Packed{Digest: "sha256:ab", Size: 10, Bytes: 20, Files: files}
		rec := Record(p)
		want := min(n, store.MaxListedArtifacts)
		if rec.Count != n || len(rec.Files) != want || rec.Digest != p.Digest || rec.Size != 10 || rec.Bytes != 20 {
			t.Fatalf("%d files: got count %d, %d listed, %+v", n, rec.Count, len(rec.Files), rec)
		}
		if n > 0 {
			rec.Files[0] = "changed"
			if files[0] == "changed" {
				t.Fatalf("%d files: the record shares the packed list", n)
			}
		}
	}
}
