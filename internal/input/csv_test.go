package input

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string, opt CSVOptions) []CSVRecord {
	t.Helper()
	c, err := NewCSV(strings.NewReader(in), opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []CSVRecord
	for {
		r, err := c.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
}

func TestCSV(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []CSVRecord
	}{
		{"plain", "name,city\r\nAnn,Boston\r\n", []CSVRecord{{Line: 1, Fields: []string{"name", "city"}}, {Line: 2, Fields: []string{"Ann", "Boston"}}}},
		{"BOM and sep", "\uFEFFsep=;\nname;city\n\"Roe; Ann\";\"x\"\"y\"\n", []CSVRecord{{Line: 2, Fields: []string{"name", "city"}},
			{Line: 3, Fields: []string{"Roe; Ann", `x"y`}}}},
		{"quoted line break", "name,address\n\"Ann\",\"1 Main St\nApt 2\"\nBob,3 Elm\n", []CSVRecord{{Line: 1, Fields: []string{"name", "address"}},
			{Line: 2, Fields: []string{"Ann", "1 Main St\nApt 2"}}, {Line: 4, Fields: []string{"Bob", "3 Elm"}}}},
		{"unterminated quote", "name,city\n\"Ann,Boston\nBob,Denver\n", []CSVRecord{{Line: 1, Fields: []string{"name", "city"}},
			{Line: 2, Problem: "a quoted field is not closed (a \" without its closing \")"}, {Line: 3, Fields: []string{"Bob", "Denver"}}}},
		{"text after quote", "name\n\"Ann\"x\nBob\n", []CSVRecord{{Line: 1, Fields: []string{"name"}},
			{Line: 2, Problem: "text after the closing quote of field 1 (a quote inside a quoted field is written \"\")"}, {Line: 3, Fields: []string{"Bob"}}}},
		{"bare quote kept", "name\nJohn \"Jack\" Roe\n", []CSVRecord{{Line: 1, Fields: []string{"name"}}, {Line: 2, Fields: []string{`John "Jack" Roe`}}}},
		{"trailing separator", "a,b,\n", []CSVRecord{{Line: 1, Fields: []string{"a", "b", ""}}}},
	} {
		if got := readAll(t, c.in, CSVOptions{}); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if got := readAll(t, "name\nJos\xe9\n", CSVOptions{Windows1252: true}); got[1].Fields[0] != "José" {
		t.Errorf("Windows-1252: %+v", got)
	}
	for _, in := range []string{"\xff\xfen\x00a\x00m\x00e\x00\n\x00", "n\x00a\x00m\x00e\x00\n\x00A\x00n\x00n\x00\n\x00"} {
		if _, err := NewCSV(strings.NewReader(in), CSVOptions{}); !errors.Is(err, ErrUTF16) {
			t.Errorf("%q: %v, want ErrUTF16", in, err)
		}
	}
	long := "name\n" + strings.Repeat("x", MaxCSVRecord+10) + "\nBob\n"
	if got := readAll(t, long, CSVOptions{}); len(got) != 3 || got[1].Problem == "" || got[2].Fields[0] != "Bob" {
		t.Errorf("over-long line: %d records", len(got))
	}
}
