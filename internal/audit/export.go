package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The export formats.
const (
	FormatJSONL = "jsonl" // one Entry as JSON per line
	FormatCSV   = "csv"   // CSVHeader, then one row per entry
)

// CSVHeader is the first row of a CSV export: every field of an entry,
// the chain proof (seq, digest, prev_hash, hash) included.
var CSVHeader = []string{"seq", "at", "actor", "action", "object_type", "object_id", "request_id", "source_ip",
	"digest", "prev_hash", "hash"}

// ExportWriter writes entries in one export format.
type ExportWriter interface {
	Write(Entry) error
	// Flush writes out what is buffered; call it before the end.
	Flush() error
}

// NewExportWriter returns a writer of format (FormatJSONL or FormatCSV)
// onto w. A CSV export starts with CSVHeader.
func NewExportWriter(format string, w io.Writer) (ExportWriter, error) {
	switch format {
	case FormatJSONL:
		bw := bufio.NewWriterSize(w, 64<<10)
		return &jsonlWriter{w: bw, enc: json.NewEncoder(bw)}, nil
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(CSVHeader); err != nil {
			return nil, err
		}
		return &csvWriter{w: cw}, nil
	}
	return nil, fmt.Errorf("audit export: format %q is not %s or %s", format, FormatJSONL, FormatCSV)
}

type jsonlWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// Write encodes e on one line; At keeps its nanoseconds (RFC 3339), so the
// hash recomputes from the line alone.
func (j *jsonlWriter) Write(e Entry) error { return j.enc.Encode(e) }

func (j *jsonlWriter) Flush() error { return j.w.Flush() }

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) Write(e Entry) error {
	rec := []string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.ObjectType,
		e.ObjectID, e.RequestID, e.SourceIP, e.Digest, e.PrevHash, e.Hash}
	for i := range rec {
		rec[i] = CSVCell(rec[i])
	}
	return c.w.Write(rec)
}

func (c *csvWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// CSVCell makes s safe to open in a spreadsheet (CSV or formula
// injection): a value that starts with =, +, -, @, a tab or a carriage
// return, which a spreadsheet may run as a formula, is written with a
// leading apostrophe, and so is one that starts with an apostrophe, so
// that a verifier restores every value by removing one leading apostrophe
// wherever there is one (UnCSVCell).
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return "'" + s
	}
	return s
}

// UnCSVCell is the inverse of CSVCell.
func UnCSVCell(s string) string {
	if len(s) > 0 && s[0] == '\'' {
		return s[1:]
	}
	return s
}

// ParseCSVRow reads back one data row of a CSV export (CSVHeader's
// columns), undoing CSVCell, so that its hash can be recomputed.
func ParseCSVRow(rec []string) (Entry, error) {
	if len(rec) != len(CSVHeader) {
		return Entry{}, fmt.Errorf("audit csv: %d columns, want %d", len(rec), len(CSVHeader))
	}
	for i := range rec {
		rec[i] = UnCSVCell(rec[i])
	}
	seq, err := strconv.ParseInt(rec[0], 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("audit csv: seq %q: %w", rec[0], err)
	}
	at, err := time.Parse(time.RFC3339Nano, rec[1])
	if err != nil {
		return Entry{}, fmt.Errorf("audit csv: at %q: %w", rec[1], err)
	}
	return Entry{Seq: seq, At: at, Actor: rec[2], Action: rec[3], ObjectType: rec[4], ObjectID: rec[5], RequestID: rec[6],
		SourceIP: rec[7], Digest: rec[8], PrevHash: rec[9], Hash: rec[10]}, nil
}
