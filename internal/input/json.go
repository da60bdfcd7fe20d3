package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is why a JSON document is refused: Location names the member
// ("body.payload.summary", "body.steps[0].name"), Message says why.
type Problem struct {
	Location string
	Message  string
}

func (p *Problem) Error() string { return p.Location + ": " + p.Message }

// frame is one open object or array while walking a document.
type frame struct {
	object  bool
	keys    map[string]bool
	key     string // the member being read, in an object
	wantKey bool
	index   int // the element being read, in an array
}

// JSON checks every key and string of the JSON document body against the
// policy: valid UTF-8 (a lone surrogate escape such as \ud800 included),
// no control characters, the Title rules for members named as titles, and
// no key twice in one object (encoding/json would keep the last silently,
// so two readers of the same document could disagree). root prefixes the
// location ("body"; "" for none). A document that is not JSON at all is not a Problem:
// nil is returned and the caller's decoder reports the syntax error.
func JSON(root string, body []byte) *Problem { return walk(root, body, true) }

// Payload is JSON without the Title rules, for documents whose member
// names Ward does not define (a monitoring tool's alert payload): their
// title is checked once it is an alert summary (alert.Event.Validate).
func Payload(root string, body []byte) *Problem { return walk(root, body, false) }

func walk(root string, body []byte, titles bool) *Problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	where := func(extra string) string {
		loc := root
		for _, f := range stack {
			switch {
			case f.object && !f.wantKey:
				loc += "." + f.key
			case !f.object:
				loc += "[" + strconv.Itoa(f.index) + "]"
			}
		}
		return strings.TrimPrefix(loc+extra, ".")
	}
	// done marks a value complete in the frame that holds it.
	done := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, keys: map[string]bool{}, wantKey: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			raw := body[start:dec.InputOffset()]
			var top *frame
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
			if top != nil && top.object && top.wantKey {
				if p := checkString(raw, t, Text); p != "" {
					return &Problem{Location: where("." + t), Message: "member name " + p}
				}
				if top.keys[t] {
					return &Problem{Location: where("." + t), Message: "appears twice in the same object"}
				}
				top.keys[t], top.key, top.wantKey = true, t, false
				continue
			}
			check := Text
			if titles && top != nil && top.object && TitleField(top.key) {
				check = Title
			}
			if p := checkString(raw, t, check); p != "" {
				return &Problem{Location: where(""), Message: p}
			}
			done()
		default:
			done()
		}
	}
}

// checkString applies check to the decoded string s after making sure
// its raw form held valid UTF-8 and no lone surrogate escape (both of
// which encoding/json silently turns into U+FFFD).
func checkString(raw []byte, s string, check func(string) string) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8"
	}
	if bytes.ContainsRune([]byte(s), utf8.RuneError) && !bytes.Contains(raw, []byte("\uFFFD")) &&
		!bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`)) {
		return "is not valid UTF-8 (an unpaired surrogate escape)"
	}
	return check(s)
}
