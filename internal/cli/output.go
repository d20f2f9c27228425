package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/berthdev/berth/pkg/api"
)

// outputFormat is the value of -o.
type outputFormat string

const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
	outputYAML  outputFormat = "yaml"
)

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "format" }

// Set rejects unknown formats while flags are parsed, so a typo is a usage
// error (exit 2) before anything is sent to the server.
func (o *outputFormat) Set(v string) error {
	switch f := outputFormat(strings.ToLower(v)); f {
	case outputTable, outputJSON, outputYAML:
		*o = f
		return nil
	}
	return fmt.Errorf("must be one of table, json, yaml (got %q)", v)
}

func addOutputFlag(cmd *cobra.Command, o *outputFormat) {
	*o = outputTable
	cmd.Flags().VarP(o, "output", "o", "output format: table, json or yaml")
}

// printData writes v as JSON or YAML; the YAML is made from the JSON, so
// both use the API's field names.
func printData(w io.Writer, format outputFormat, v any) error {
	switch format {
	case outputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	default:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
}

// newTable returns a tabwriter laid out like kubectl's tables.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// row writes one tab-separated table row.
func row(w io.Writer, cols ...any) {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, c)
	}
	fmt.Fprint(w, "\n")
}

// age is how long ago t was, in kubectl's short form ("45s", "12m", "3h",
// "5d"); "-" for an unknown time.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// dash shows empty table cells as "-" so columns stay readable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func num(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// flatten puts a multi-line message on one line.
func flatten(s string) string { return strings.Join(strings.Fields(s), " ") }

// oneLine keeps long and multi-line messages from breaking a table.
func oneLine(s string) string {
	s = flatten(s)
	const max = 80
	if r := []rune(s); len(r) > max {
		return string(r[:max-3]) + "..."
	}
	return s
}

// reasonMessage joins a reason and a message as "Reason: message".
func reasonMessage(reason, message string) string {
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}

// fieldErrors lists the server's field problems like the local validator
// does: "file:line: field: message".
func fieldErrors(file string, details []api.FieldError) string {
	var b strings.Builder
	for i, d := range details {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case file != "" && d.Line > 0:
			fmt.Fprintf(&b, "%s:%d: ", file, d.Line)
		case file != "":
			fmt.Fprintf(&b, "%s: ", file)
		case d.Line > 0:
			fmt.Fprintf(&b, "line %d: ", d.Line)
		}
		if d.Field != "" {
			b.WriteString(d.Field + ": ")
		}
		b.WriteString(d.Message)
	}
	return b.String()
}
