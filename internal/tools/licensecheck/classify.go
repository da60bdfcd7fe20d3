package main

import (
	"regexp"
	"slices"
	"strings"
)

// allowed are the licences a module linked into Ward may carry: permissive
// ones, and MPL-2.0, whose copyleft covers only the files of the library
// itself (Ward links such a library unchanged). GPL, LGPL and AGPL are not here: Go
// links statically, so even the LGPL would reach Ward's own code.
var allowed = map[string]bool{
	"0BSD":          true,
	"Apache-2.0":    true,
	"BSD-2-Clause":  true,
	"BSD-3-Clause":  true,
	"CC0-1.0":       true,
	"ISC":           true,
	"MIT":           true,
	"MIT-0":         true,
	"MPL-2.0":       true,
	"Public-Domain": true,
	"Unlicense":     true,
}

// signature recognises one licence in a normalised text: every phrase in
// all must occur, and none in none.
type signature struct {
	id   string
	all  []string
	none []string
}

// bsdHead and mitHead open the BSD and MIT texts; isc0 is the grant that
// ISC and 0BSD share (ISC adds a condition after it).
const (
	bsdHead = "redistribution and use in source and binary forms with or without modification are permitted provided that the following conditions are met"
	mitHead = "permission is hereby granted free of charge to any person obtaining a copy of this software"
	mitCond = "the above copyright notice and this permission notice shall be included in all copies or substantial portions of the software"
	isc0    = "permission to use copy modify and or distribute this software for any purpose with or without fee is hereby granted"
	iscCond = isc0 + " provided that the above copyright notice and this permission notice appear in all copies"
	endorse = "endorse or promote products derived from this software"
	advert  = "all advertising materials mentioning features or use of this software must display"
)

// signatures are matched independently, so a file that carries two licences
// (go.yaml.in/yaml's MIT and Apache-2.0) yields both. The GNU licences are
// recognised by their own title lines or grant, never by a mention: the
// MPL-2.0 names them as "Secondary Licenses" without being one.
var signatures = []signature{
	{id: "Apache-2.0", all: []string{"apache license version 2.0"}},
	{id: "MPL-2.0", all: []string{"mozilla public license version 2.0"}},
	{id: "MIT", all: []string{mitHead, mitCond}},
	{id: "MIT-0", all: []string{mitHead}, none: []string{mitCond}},
	{id: "BSD-4-Clause", all: []string{bsdHead, advert}},
	{id: "BSD-3-Clause", all: []string{bsdHead, endorse}, none: []string{advert}},
	{id: "BSD-2-Clause", all: []string{bsdHead}, none: []string{endorse, advert}},
	{id: "ISC", all: []string{iscCond}},
	{id: "0BSD", all: []string{isc0}, none: []string{iscCond}},
	{id: "Unlicense", all: []string{"this is free and unencumbered software released into the public domain"}},
	{id: "CC0-1.0", all: []string{"cc0 1.0 universal"}},
	{id: "Public-Domain", all: []string{"dedicated to the public domain"}, none: []string{"this is free and unencumbered software"}},
	{id: "GPL-2.0", all: []string{"gnu general public license version 2 june 1991"}},
	{id: "GPL-3.0", all: []string{"gnu general public license version 3 29 june 2007"}},
	{id: "GPL", all: []string{"under the terms of the gnu general public license"}},
	{id: "LGPL-2.0", all: []string{"gnu library general public license"}},
	{id: "LGPL-2.1", all: []string{"gnu lesser general public license version 2.1 february 1999"}},
	{id: "LGPL-3.0", all: []string{"gnu lesser general public license version 3 29 june 2007"}},
	{id: "LGPL", all: []string{"under the terms of the gnu lesser general public license"}},
	{id: "AGPL-3.0", all: []string{"gnu affero general public license version 3 19 november 2007"}},
	{id: "AGPL", all: []string{"under the terms of the gnu affero general public license"}},
	{id: "SSPL-1.0", all: []string{"server side public license"}},
	{id: "BUSL-1.1", all: []string{"business source license"}},
}

var nonWord = regexp.MustCompile(`[^a-z0-9.]+`)

// normalise lower-cases text and turns every run of punctuation, markup and
// white space into one space, so line breaks, quotes, comment markers and
// Markdown do not hide a phrase. A full stop is kept only inside a number
// ("2.0").
func normalise(text string) string {
	s := nonWord.ReplaceAllString(strings.ToLower(text), " ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && (i == 0 || i+1 == len(s) || !isDigit(s[i-1]) || !isDigit(s[i+1])) {
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(s[i])
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Classify returns the SPDX-style identifiers of the licences that text
// carries, sorted; none if it recognises none.
func Classify(text string) []string {
	n := normalise(text)
	var ids []string
	for _, sig := range signatures {
		if containsAll(n, sig.all) && !containsAny(n, sig.none) {
			ids = append(ids, sig.id)
		}
	}
	// A specific GNU title makes the generic grant redundant.
	for _, fam := range []string{"GPL", "LGPL", "AGPL"} {
		if slices.Contains(ids, fam) && slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, fam+"-") }) {
			ids = slices.DeleteFunc(ids, func(id string) bool { return id == fam })
		}
	}
	slices.Sort(ids)
	return ids
}

func containsAll(s string, phrases []string) bool {
	for _, p := range phrases {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func containsAny(s string, phrases []string) bool {
	for _, p := range phrases {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
