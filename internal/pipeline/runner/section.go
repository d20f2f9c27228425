package runner

import (
	"fmt"
	"os"
)

// sectionNote is the run log's one line saying the pipeline comes from
// berth.yaml's section, and that a pipeline file in the checkout, if there
// is one, is not read: the section wins, so a push cannot change what runs
// without an apply.
func sectionNote(srcDir, file string, release int) string {
	msg := fmt.Sprintf("pipeline: the pipeline section of berth.yaml (release %d)", release)
	root, err := os.OpenRoot(srcDir)
	if err != nil {
		return msg
	}
	defer root.Close()
	if _, err := root.Stat(file); err == nil {
		msg += fmt.Sprintf("; %s in the repository is ignored", file)
	}
	return msg
}
