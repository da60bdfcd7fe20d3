package input

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// MaxCSVRecord caps one record of a CSV list, in bytes: a quoted field
// that is still open this far on, MaxCSVRecordLines on or at the end of
// the file is an
// unterminated quote, reported on the line it opened, and reading goes on
// with the next line.
const MaxCSVRecord = 4 << 20

// MaxCSVRecordLines caps the lines one record may span (a quoted field
// with line breaks: an address), so that an unterminated quote costs at
// most this many lines read twice.
const MaxCSVRecordLines = 50

// ErrUTF16 is a CSV list in UTF-16, which Ward does not read (Excel's
// "Unicode text" saves it so).
var ErrUTF16 = errors.New("the file is UTF-16; save it as UTF-8 (Excel: \"CSV UTF-8\")")

// CSVOptions say how to read a CSV list.
type CSVOptions struct {
	// Windows1252 reads every byte that is not part of valid UTF-8 as
	// Windows-1252, so a list saved by Excel as plain "CSV" reads right;
	// without it such bytes are left for the caller's Text check to refuse.
	Windows1252 bool
}

// CSVRecord is one record of a CSV list.
type CSVRecord struct {
	Line   int // the line it starts on, the first line being 1
	Fields []string
	// Problem, when set, is why the record could not be read at all
	// (an unterminated quote, text after a closing quote, an over-long
	// line); Fields is then empty.
	Problem string
}

// CSV reads a CSV list strictly, record by record, so that a problem is
// reported on its line and never swallows the lines after it (as
// encoding/csv's LazyQuotes does with an unterminated quote, which makes
// the rest of the file one field). It reads UTF-8 with or without a byte
// order mark, refuses UTF-16 (ErrUTF16), takes an optional leading
// "sep=X" line (Excel's) naming the separator, CRLF or LF line ends, and
// RFC 4180 quoting; a quote inside an unquoted field is kept as text.
type CSV struct {
	br      *bufio.Reader
	sep     string
	line    int        // lines read from br
	pending []lineText // lines given back after an unterminated quote
}

// lineText is one line of the file and its number; long marks a line over
// MaxCSVRecord, whose text was dropped.
type lineText struct {
	n    int
	text string
	long bool
}

// NewCSV starts reading a CSV list from in.
func NewCSV(in io.Reader, opt CSVOptions) (*CSV, error) {
	raw := bufio.NewReaderSize(in, 64<<10)
	head, err := raw.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read csv: %w", err)
	}
	if utf16(head) {
		return nil, ErrUTF16
	}
	var src io.Reader = raw
	if opt.Windows1252 {
		src = transform.NewReader(raw, utf8OrWindows1252{})
	}
	c := &CSV{br: bufio.NewReaderSize(src, 64<<10), sep: ","}
	first, ok, err := c.readLine()
	if err != nil || !ok {
		return c, err
	}
	first.text = strings.TrimPrefix(first.text, "\uFEFF")
	if t := first.text; !first.long && strings.HasPrefix(strings.ToLower(t), "sep=") {
		r, _ := utf8.DecodeRuneInString(t[4:])
		if r == utf8.RuneError || r == '"' {
			return nil, errors.New("the sep= line names no separator")
		}
		c.sep = string(r)
		return c, nil
	}
	c.pending = []lineText{first}
	return c, nil
}

// utf16 reports whether the start of a file is UTF-16: a UTF-16 byte
// order mark, or NUL bytes in every other place (ASCII text in UTF-16).
func utf16(head []byte) bool {
	if bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff}) {
		return true
	}
	if len(head) < 4 {
		return false
	}
	var even, odd int
	for i, b := range head {
		if b == 0 {
			if i%2 == 0 {
				even++
			} else {
				odd++
			}
		}
	}
	return even > len(head)/4 || odd > len(head)/4
}

// readLine returns the next line without its line end; ok is false at the
// end of the file.
func (c *CSV) readLine() (l lineText, ok bool, err error) {
	if len(c.pending) > 0 {
		l, c.pending = c.pending[0], c.pending[1:]
		return l, true, nil
	}
	var b []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		if !l.long {
			b = append(b, chunk...)
			if len(b) > MaxCSVRecord {
				l.long, b = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(b) == 0 && !l.long {
			return l, false, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return l, false, fmt.Errorf("read csv: %w", err)
		}
		break
	}
	c.line++
	l.n = c.line
	l.text = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return l, true, nil
}

// Read returns the next record; io.EOF at the end.
func (c *CSV) Read() (CSVRecord, error) {
	first, ok, err := c.readLine()
	if err != nil {
		return CSVRecord{}, err
	}
	if !ok {
		return CSVRecord{}, io.EOF
	}
	if first.long {
		return CSVRecord{Line: first.n, Problem: fmt.Sprintf("the line is longer than %d bytes", MaxCSVRecord)}, nil
	}
	text := first.text
	var more []lineText // the lines after the first, while a quote is open
	for {
		fields, open, problem := c.split(text)
		if !open {
			return CSVRecord{Line: first.n, Fields: fields, Problem: problem}, nil
		}
		next, ok, err := c.readLine()
		if err != nil {
			return CSVRecord{}, err
		}
		if ok {
			more = append(more, next)
		}
		if !ok || next.long || len(text)+1+len(next.text) > MaxCSVRecord || len(more) >= MaxCSVRecordLines {
			// The lines after the opening one are records of their own,
			// not the rest of a field: give them back.
			c.pending = append(more, c.pending...)
			return CSVRecord{Line: first.n, Problem: "a quoted field is not closed (a \" without its closing \")"}, nil
		}
		text += "\n" + next.text
	}
}

// split cuts one record's text into fields. open reports a quoted field
// still open at the end of text; problem, text after a closing quote.
func (c *CSV) split(text string) (fields []string, open bool, problem string) {
	i := 0
	for {
		if i < len(text) && text[i] == '"' {
			i++
			var b strings.Builder
			for {
				j := strings.IndexByte(text[i:], '"')
				if j < 0 {
					return fields, true, ""
				}
				b.WriteString(text[i : i+j])
				i += j + 1
				if i < len(text) && text[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			fields = append(fields, b.String())
			switch {
			case i == len(text):
				return fields, false, ""
			case strings.HasPrefix(text[i:], c.sep):
				i += len(c.sep)
				continue
			}
			return nil, false, fmt.Sprintf("text after the closing quote of field %d (a quote inside a quoted field is written \"\")", len(fields))
		}
		j := strings.Index(text[i:], c.sep)
		if j < 0 {
			return append(fields, text[i:]), false, ""
		}
		fields = append(fields, text[i:i+j])
		i += j + len(c.sep)
	}
}

// utf8OrWindows1252 passes valid UTF-8 through and decodes every byte that
// is not as Windows-1252, so a list saved by Excel in either reads right.
type utf8OrWindows1252 struct{ transform.NopResetter }

func (utf8OrWindows1252) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if !utf8.FullRune(src[nSrc:]) && !atEOF {
			return nDst, nSrc, transform.ErrShortSrc
		}
		r, size := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError && size <= 1 {
			r = charmap.Windows1252.DecodeByte(src[nSrc])
			size = 1
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc += size
	}
	return nDst, nSrc, nil
}
